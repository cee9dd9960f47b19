"""Stock that cannot be oversold: 50 shoppers race for the last 10 lanterns across two
kasse processes, paying hosted (a token and the pay page) and inline (initialize and
confirm), with 1 to 3 lanterns each. The holds are taken at a gate (race_gate.py), so they
really race.

Whatever order they arrive in: at most 10 lanterns are held and sold, every shopper who
is refused gets a clear 400 naming the lantern and what is available, no order is placed
without its stock, stock on hand never goes below zero and always equals the sum of its
ledger, and once the holds of the shoppers who never paid run out, what is available
returns to what is on hand.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text, update

from kasse.adapters.config_file import read_config_file
from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import stock_reservations
from kasse.demo import DEMO_STORE_FILE
from tests.api.test_cart_reads_across_processes import reimport
from tests.conftest import API_KEY
from tests.integration.conftest import serving
from tests.integration.race_gate import gate

BASE = "/umbraco/commerce/storefront/api"
HEADERS = {"Api-Key": API_KEY, "Store": "demo"}
LANTERN, ON_HAND = "lantern", 10
SHOPPERS = 50


@pytest.fixture
def lantern_store(demo_db_url: str) -> str:
    """The demo store plus a product with 10 units."""
    data = read_config_file(DEMO_STORE_FILE).data
    data["products"].append({"reference": LANTERN, "sku": "LANTERN-1", "name": "Lantern",
                             "prices": {"EUR": "19.90"}, "stock": ON_HAND})
    reimport(demo_db_url, data)
    return demo_db_url


@pytest.fixture
def servers(lantern_store: str, tmp_path: Path) -> Iterator[str]:
    # Every shopper comes from one address here: the per-client limit has its own tests.
    with serving(lantern_store, tmp_path, KASSE_CHECKOUT_RATE_PER_MINUTE="0") as url:
        yield url


def quantity(n: int) -> int:
    return 1 + n % 3


async def _cart(http: httpx.AsyncClient, n: int) -> str:
    order_id: str = (await http.post(f"{BASE}/v1/orders", json={})).json()["id"]
    added = await http.post(f"{BASE}/v1/order/{order_id}",
                            json={"productReference": LANTERN, "quantity": quantity(n)})
    assert added.status_code == 200, added.text
    changed = await http.patch(f"{BASE}/v1/order/{order_id}", json={
        "paymentMethod": "invoicing", "shippingMethod": "standard"})
    assert changed.status_code == 200, changed.text
    return order_id


def _hold(http: httpx.AsyncClient, n: int, order_id: str) -> Any:
    """Hosted shoppers ask for a token, inline ones initialize: both hold the stock."""
    if n % 2:
        return http.get(f"{BASE}/v1/checkout/{order_id}/token",
                        headers={"Api-Key": "", "Store": "demo"})
    return http.get(f"{BASE}/v1/checkout/{order_id}/initialize")


async def _pay(http: httpx.AsyncClient, n: int, order_id: str, held: httpx.Response) -> int:
    if n % 2:  # hosted: the invoice pay page posts straight back to kasse
        page = await http.get(held.json()["payUrl"])
        assert page.status_code == 200, page.text
        action = html.unescape(re.search(r'action="([^"]+)"', page.text)[1])  # type: ignore[index]
        done = await http.post(action)
        assert done.status_code in (200, 303), done.text
        return done.status_code
    order = (await http.get(f"{BASE}/v1/order/{order_id}")).json()
    confirmed = await http.post(f"{BASE}/v1/checkout/{order_id}/confirm", json={
        "amount": order["transactionAmount"]["value"]["value"],
        "transactionId": f"tx-{order_id}", "paymentStatus": "Authorized"})
    assert confirmed.status_code == 200, confirmed.text
    return confirmed.status_code


async def _rows(url: str, sql: str) -> list[Any]:
    db = Database.from_url(url)
    try:
        async with db.read() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await db.dispose()


async def _expire_all(url: str) -> None:
    db = Database.from_url(url)
    try:
        async with db.transaction() as conn:
            await conn.execute(update(stock_reservations).values(
                expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    finally:
        await db.dispose()


async def _stock(http: httpx.AsyncClient) -> Decimal:
    found = (await http.get(f"{BASE}/v1/products", params={"productReference": LANTERN})
             ).json()
    return Decimal(str(found[0]["stock"]))


async def _race(server: str, db_url: str) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=SHOPPERS + 10)
    async with httpx.AsyncClient(base_url=server, headers=HEADERS, timeout=60,
                                 limits=limits) as http:
        carts = [await _cart(http, n) for n in range(SHOPPERS)]
        async with gate(db_url, row=("products", "reference", LANTERN)) as held:
            holds = await held.contend([_hold(http, n, order_id)
                                        for n, order_id in enumerate(carts)],
                                       expected_waiters=SHOPPERS // 2)
        held.assert_overlapped()
        while_held = await _stock(http)
        winners = [(n, order_id, answer) for n, (order_id, answer)
                   in enumerate(zip(carts, holds, strict=True)) if answer.status_code == 200]
        # Every winner but the last two pays (concurrently); those two walk away.
        paying, leaving = winners[:-2], winners[-2:]
        await asyncio.gather(*(_pay(http, n, order_id, answer)
                               for n, order_id, answer in paying))
        after_sales = await _stock(http)
        await _expire_all(db_url)  # the walkers' holds run out
        after_expiry = await _stock(http)
        finals = [(await http.get(f"{BASE}/v1/order/{order_id}")).json()
                  for order_id in carts]
    return {"holds": holds, "winners": winners, "paying": paying, "leaving": leaving,
            "while_held": while_held, "after_sales": after_sales,
            "after_expiry": after_expiry, "finals": finals}


def test_fifty_shoppers_for_ten_lanterns_never_oversell(lantern_store: str,
                                                         servers: str) -> None:
    result = asyncio.run(_race(servers, lantern_store))

    held_units = sum(quantity(n) for n, _, _ in result["winners"])
    assert 0 < held_units <= ON_HAND, held_units
    for answer in result["holds"]:
        if answer.status_code == 200:
            continue
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        detail = answer.json()["detail"]
        assert "Lantern" in detail and "available" in detail, detail
    # Refused only when the lanterns left could not cover the cart.
    assert ON_HAND - held_units < 3
    assert result["while_held"] == ON_HAND - held_units

    sold = [order for order in result["finals"] if order["isFinalized"]]
    sold_units = sum(Decimal(str(o["orderLines"][0]["quantity"])) for o in sold)
    assert len(sold) == len(result["paying"])
    assert sold_units == sum(quantity(n) for n, _, _ in result["paying"]) <= ON_HAND
    left = ON_HAND - sold_units
    walked = sum(quantity(n) for n, _, _ in result["leaving"])
    assert result["after_sales"] == left - walked  # the walkers still hold theirs
    assert result["after_expiry"] == left  # until their holds run out

    (on_hand,) = asyncio.run(_rows(lantern_store, "SELECT stock FROM products "
                                                  f"WHERE reference = '{LANTERN}'"))[0]
    ledger = asyncio.run(_rows(lantern_store, (
        "SELECT cause, delta FROM stock_ledger WHERE item_id = (SELECT id FROM products "
        f"WHERE reference = '{LANTERN}')")))
    scale = Decimal(10) ** 6
    assert Decimal(on_hand) / scale == left >= 0
    assert sum(Decimal(delta) for _, delta in ledger) == on_hand  # on hand = the ledger
    assert sorted(cause for cause, _ in ledger) == ["import"] + ["sale"] * len(sold)
    # Every order was placed with its stock: none oversold, none short.
    shortfalls = asyncio.run(_rows(lantern_store, "SELECT count(*) FROM outbox_events "
                                                  "WHERE topic = 'order.stock_shortfall'"))
    assert shortfalls[0][0] == 0
