"""A transaction PostgreSQL rolls back to break a deadlock lost a race, not the shop: it
is reported as a concurrent update, which the use cases run again, never as a 500."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from kasse.adapters.db.database import Database
from kasse.domain.errors import ConcurrentUpdate

LOCK = "SELECT id FROM products WHERE reference = :r FOR UPDATE"


def test_the_loser_of_a_deadlock_is_a_concurrent_update(engine_kind: str,
                                                        demo_db_url: str) -> None:
    if engine_kind != "postgresql":
        pytest.skip("SQLite has one writer at a time: its transactions cannot deadlock")

    async def scenario() -> list[BaseException | None]:
        db = Database.from_url(demo_db_url)
        both_hold_one = asyncio.Barrier(2)

        async def lock(first: str, second: str) -> None:
            async with db.transaction() as conn:
                await conn.execute(text(LOCK), {"r": first})
                await both_hold_one.wait()
                await conn.execute(text(LOCK), {"r": second})

        try:
            outcomes = await asyncio.gather(lock("trail-map", "camp-mug"),
                                            lock("camp-mug", "trail-map"),
                                            return_exceptions=True)
        finally:
            await db.dispose()
        return list(outcomes)

    outcomes = asyncio.run(scenario())
    losers = [o for o in outcomes if o is not None]
    assert len(losers) == 1, outcomes  # PostgreSQL lets one of them through
    assert isinstance(losers[0], ConcurrentUpdate), repr(losers[0])
