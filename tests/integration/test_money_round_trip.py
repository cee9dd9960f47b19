"""Money survives the database exactly, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.exc import StatementError

from kasse.adapters.db import tables as t
from kasse.adapters.db.database import Database
from kasse.domain.errors import PrecisionError

AWKWARD = [
    Decimal("0.1") + Decimal("0.2"),
    Decimal("1234567.8905"),
    Decimal("0.000001"),
    Decimal("-19.99"),
    Decimal("9999999999.999999"),
    Decimal("100"),
    Decimal("0"),
    Decimal("33.333333"),
]


async def _round_trip(url: str, values: list[Decimal]) -> list[Decimal]:
    db = Database.from_url(url)
    try:
        store_id, currency_id = uuid.uuid4(), uuid.uuid4()
        owners = [uuid.uuid4() for _ in values]
        async with db.transaction() as conn:
            await conn.execute(insert(t.stores).values(
                id=store_id, alias=f"s{store_id.hex[:8]}", name="S", prices_include_tax=True,
                cart_number_template="C-{0}", order_number_template="O-{0}",
                rounding_method="unit", config_version=1))
            await conn.execute(insert(t.currencies).values(
                id=currency_id, store_id=store_id, code="EUR", name="Euro", culture="de-DE",
                decimal_places=2, allowed_country_codes=[], sort_order=0))
            for owner, value in zip(owners, values, strict=True):
                await conn.execute(insert(t.prices).values(owner_id=owner,
                                                           currency_id=currency_id, value=value))
        async with db.read() as conn:
            rows = {r.owner_id: r.value for r in await conn.execute(
                select(t.prices.c.owner_id, t.prices.c.value)
                .where(t.prices.c.currency_id == currency_id))}
        return [rows[o] for o in owners]
    finally:
        await db.dispose()


def test_awkward_amounts_come_back_exactly(empty_db_url: str) -> None:
    stored = asyncio.run(_round_trip(empty_db_url, AWKWARD))
    for original, back in zip(AWKWARD, stored, strict=True):
        assert isinstance(back, Decimal)
        assert back == original
    assert stored[0] == Decimal("0.3")  # not 0.30000000000000004


def test_arithmetic_in_sql_stays_exact(empty_db_url: str) -> None:
    """Adding 0.1 ten times in the database gives exactly 1 (no float drift)."""

    async def scenario() -> Decimal:
        db = Database.from_url(empty_db_url)
        try:
            [start] = await _round_trip(empty_db_url, [Decimal("0")])
            async with db.transaction() as conn:
                owner = (await conn.execute(select(t.prices.c.owner_id))).scalar_one()
                for _ in range(10):
                    await conn.execute(update(t.prices).where(t.prices.c.owner_id == owner)
                                       .values(value=t.prices.c.value + Decimal("0.1")))
                value: Decimal = (await conn.execute(
                    select(t.prices.c.value).where(t.prices.c.owner_id == owner))).scalar_one()
            assert start == 0
            return value
        finally:
            await db.dispose()

    assert asyncio.run(scenario()) == Decimal("1")


def test_more_precision_than_stored_is_refused_not_rounded(empty_db_url: str) -> None:
    with pytest.raises(StatementError) as caught:
        asyncio.run(_round_trip(empty_db_url, [Decimal("0.0000001")]))
    assert isinstance(caught.value.orig, PrecisionError)
    assert "7 decimal places" in str(caught.value.orig)
