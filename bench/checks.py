"""End checks: what the database holds after a phase, read directly."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select

from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import orders, outbox_events, payment_events


@dataclass(frozen=True)
class Counts:
    finalized: int
    distinct_order_numbers: int
    finalized_events: int
    webhooks: int
    orders: int


async def _counts(url: str) -> Counts:
    db = Database.from_url(url, pool_size=1)
    try:
        async with db.read() as conn:
            finalized, distinct = (await conn.execute(
                select(func.count(), func.count(orders.c.order_number.distinct()))
                .where(orders.c.finalized_at.is_not(None)))).one()
            events = (await conn.execute(select(func.count()).select_from(outbox_events)
                                         .where(outbox_events.c.topic == "order.finalized"))
                      ).scalar_one()
            webhooks = (await conn.execute(select(func.count()).select_from(payment_events))
                        ).scalar_one()
            total = (await conn.execute(select(func.count()).select_from(orders))).scalar_one()
        return Counts(finalized, distinct, events, webhooks, total)
    finally:
        await db.dispose()


def counts(url: str) -> Counts:
    return asyncio.run(_counts(url))


def end_check(url: str, before: Counts, finalized: int, webhooks: bool,
              wait: float = 20.0) -> dict[str, Any]:
    """Compares the database with what the journeys did: exactly ``finalized`` new
    finalized orders, each with one ``order.finalized`` event, unique order numbers, and
    (for hosted checkouts) one gateway webhook per order. Webhooks still on their way are
    waited for up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        after = counts(url)
        arrived = not webhooks or after.webhooks - before.webhooks >= finalized
        if arrived or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    new = after.finalized - before.finalized
    checks = {
        "finalized_orders": new == finalized,
        "order_numbers_unique": after.distinct_order_numbers == after.finalized,
        "one_finalized_event_each": after.finalized_events - before.finalized_events == new,
    }
    if webhooks:
        checks["one_webhook_each"] = after.webhooks - before.webhooks == finalized
    return {"passed": all(checks.values()), "expected_finalized": finalized,
            "new_finalized": new, "checks": checks, "before": asdict(before),
            "after": asdict(after)}
