"""What a checkout holds, for how long, and what lets it go (one process; the races are
in tests/integration/test_stock_race.py).

Rain Jacket M: 5 on hand. The store holds stock for 5 minutes (``stockHoldMinutes``)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient
from sqlalchemy import select

from kasse.adapters.config_file import read_config_file
from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import stock_reservations
from kasse.demo import DEMO_STORE_FILE
from tests.api.conftest import BASE
from tests.api.test_cart_reads_across_processes import reimport
from tests.api.test_inline_checkout import (
    checkout_url,
    jacket_cart,
    ok,
    order_url,
    problem,
    stock_of,
)

JACKET = "rain-jacket:rain-jacket-m"


def holds(db_url: str, order_id: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        db = Database.from_url(db_url)
        try:
            async with db.read() as conn:
                rows = await conn.execute(select(stock_reservations).where(
                    stock_reservations.c.order_id == UUID(order_id)))
                return [dict(row._mapping) for row in rows]
        finally:
            await db.dispose()

    return asyncio.run(read())


def minutes_left(hold: dict[str, Any]) -> float:
    expires: datetime = hold["expires_at"]
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return (expires - datetime.now(UTC)) / timedelta(minutes=1)


def test_a_checkout_holds_for_the_stores_time_and_lets_go_when_the_cart_changes(
        client: TestClient, demo_db_url: str) -> None:
    data = read_config_file(DEMO_STORE_FILE).data
    data["store"]["stockHoldMinutes"] = 5
    reimport(demo_db_url, data)
    time.sleep(1.1)  # a running process sees an import within a second

    order_id = jacket_cart(client)
    assert stock_of(client, JACKET) == 5
    ok(client.get(checkout_url(order_id, "initialize")))
    (held,) = holds(demo_db_url, order_id)
    assert held["quantity"] == Decimal(1) and 4.5 < minutes_left(held) <= 5
    assert stock_of(client, JACKET) == 4  # held for this checkout

    # Another shopper wants all five: only four are available to them.
    other = jacket_cart(client)
    changed = client.patch(f"{order_url(other)}/items", json=[{
        "id": client.get(order_url(other)).json()["orderLines"][0]["id"], "quantity": 5}])
    assert "only 4" in problem(changed, 400)

    # The shopper's own checkout may still take its unit (what it holds is its own).
    ok(client.get(checkout_url(order_id, "initialize")))  # holds anew, for 5 minutes
    assert len(holds(demo_db_url, order_id)) == 1

    # A change to what the cart holds lets go; a change that leaves it alone does not.
    ok(client.patch(order_url(order_id), json={"properties": {"note": "gift"}}))
    assert len(holds(demo_db_url, order_id)) == 1
    ok(client.post(order_url(order_id), json={"productReference": "camp-mug",
                                                "quantity": 1}))
    assert holds(demo_db_url, order_id) == []
    assert stock_of(client, JACKET) == 5


def test_deleting_the_cart_lets_go(client: TestClient, demo_db_url: str) -> None:
    order_id = jacket_cart(client)
    ok(client.get(checkout_url(order_id, "initialize")))
    (held,) = holds(demo_db_url, order_id)
    assert 14.5 < minutes_left(held) <= 15  # the default hold time
    ok(client.delete(f"{BASE}/v1/order/{order_id}"))
    assert holds(demo_db_url, order_id) == []
    assert stock_of(client, JACKET) == 5
