"""Orders racing for the last use of a discount code, or for the last balance of a gift
card, across two kasse processes: one wins, the others get a clear error, stay open and
can be paid again at the amount without what they lost. The confirms are held at a gate
(race_gate.py) until all of them wait for the code or card, then let go together."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from kasse.adapters.config_file import read_config_file
from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.demo import DEMO_STORE_FILE
from kasse.services.store_import import import_store
from tests.conftest import API_KEY
from tests.integration.race_gate import gate

BASE = "/umbraco/commerce/storefront/api"
HEADERS = {"Api-Key": API_KEY, "Store": "demo"}
CARTS = 6
LAST_USE = "LASTONE"
SMALL_CARD = "GIFT-RACE-30"


@pytest.fixture
def race_store(demo_db_url: str) -> str:
    """The demo store plus a code that can be used once and a EUR 30 gift card."""
    data = read_config_file(DEMO_STORE_FILE).data
    data["discounts"].append({
        "alias": "last-one", "name": "Five off, once", "type": "Code",
        "codes": [{"code": LAST_USE, "usageLimit": 1}],
        "rewards": [{"target": "subtotal", "amounts": {"EUR": "5.00"}}]})
    data["giftCards"].append({"code": SMALL_CARD, "currency": "EUR", "amount": "30.00"})

    async def load() -> None:
        db = Database.from_url(demo_db_url)
        try:
            await import_store(SqlStorage(db), data)
        finally:
            await db.dispose()

    asyncio.run(load())
    return demo_db_url


async def _cart(http: httpx.AsyncClient, code: str) -> str:
    """Three mugs (EUR 29.70) with standard shipping: more than the EUR 30 card covers."""
    order_id: str = (await http.post(f"{BASE}/v1/orders", json={})).json()["id"]
    added = await http.post(f"{BASE}/v1/order/{order_id}",
                            json={"productReference": "camp-mug", "quantity": 3})
    assert added.status_code == 200, added.text
    changed = await http.patch(f"{BASE}/v1/order/{order_id}", json={
        "paymentMethod": "invoicing", "shippingMethod": "standard", "redeem": [code]})
    assert changed.status_code == 200, changed.text
    return order_id


async def _initialize(http: httpx.AsyncClient, order_id: str) -> Any:
    initialized = await http.get(f"{BASE}/v1/checkout/{order_id}/initialize")
    assert initialized.status_code == 200, initialized.text
    order = (await http.get(f"{BASE}/v1/order/{order_id}")).json()
    return order["transactionAmount"]["value"]["value"]


def _confirm(http: httpx.AsyncClient, order_id: str, amount: Any, tx: str
             ) -> Any:
    return http.post(f"{BASE}/v1/checkout/{order_id}/confirm", json={
        "amount": amount, "transactionId": tx, "paymentStatus": "Authorized"})


async def _race(server: str, db_url: str, code: str, row: tuple[str, str, object]
                ) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server, headers=HEADERS, timeout=60) as http:
        orders = [await _cart(http, code) for _ in range(CARTS)]
        amounts = [await _initialize(http, order_id) for order_id in orders]
        # Held until every confirm waits for the code's (or card's) row, then let go.
        async with gate(db_url, row=row) as held:
            first = await held.contend([_confirm(http, o, a, f"tx-{o}")
                                        for o, a in zip(orders, amounts, strict=True)],
                                       expected_waiters=CARTS - 1)
        losers = [o for o, r in zip(orders, first, strict=True) if r.status_code != 200]
        open_after = [(await http.get(f"{BASE}/v1/order/{o}")).json()["isFinalized"]
                      for o in losers]
        # The losers check out again; the card has less (or nothing) left now.
        second = []
        for order_id in losers:
            amount = await _initialize(http, order_id)
            second.append((amount, await _confirm(http, order_id, amount, f"again-{order_id}")))
        finals = [(await http.get(f"{BASE}/v1/order/{o}")).json() for o in orders]
    held.assert_overlapped()
    return {"amounts": amounts, "first": first, "open_after": open_after,
            "second": second, "finals": finals}


async def _rows(url: str, sql: str) -> list[Any]:
    db = Database.from_url(url)
    try:
        async with db.read() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await db.dispose()


def test_the_last_use_of_a_code_goes_to_one_order(race_store: str, server: str) -> None:
    result = asyncio.run(_race(server, race_store, LAST_USE,
                               ("discount_codes", "code", LAST_USE)))

    statuses = [r.status_code for r in result["first"]]
    assert statuses.count(200) == 1, [r.text for r in result["first"]]
    for lost in (r for r in result["first"] if r.status_code != 200):
        assert lost.status_code == 400
        assert lost.headers["content-type"].startswith("application/problem+json")
        assert f"discount code '{LAST_USE}' has been used up" in lost.json()["detail"]
    assert result["open_after"] == [False] * (CARTS - 1)  # still open, still payable

    # Paying again works, at the price without the discount (EUR 5 more).
    (discounted,) = {Decimal(str(a)) for a in result["amounts"]}
    for amount, response in result["second"]:
        assert response.status_code == 200, response.text
        assert Decimal(str(amount)) == discounted + Decimal("5.00")
    assert all(order["isFinalized"] for order in result["finals"])
    fulfilled = [c["isFulfilled"] for o in result["finals"] for c in o["discountCodes"]]
    assert fulfilled.count(True) == 1

    (used,) = asyncio.run(_rows(race_store, f"SELECT used FROM discount_codes "
                                            f"WHERE code = '{LAST_USE}'"))
    assert used[0] == 1
    uses = asyncio.run(_rows(race_store, f"SELECT order_id FROM redemptions "
                                         f"WHERE code = '{LAST_USE}'"))
    assert len(uses) == 1


def test_the_last_balance_of_a_gift_card_is_spent_once(race_store: str, server: str) -> None:
    result = asyncio.run(_race(server, race_store, SMALL_CARD,
                               ("gift_cards", "code", SMALL_CARD)))

    statuses = [r.status_code for r in result["first"]]
    assert statuses.count(200) == 1, [r.text for r in result["first"]]
    for lost in (r for r in result["first"] if r.status_code != 200):
        assert lost.status_code == 400
        assert SMALL_CARD in lost.json()["detail"]
    assert result["open_after"] == [False] * (CARTS - 1)
    assert all(response.status_code == 200 for _, response in result["second"])

    (card,) = asyncio.run(_rows(race_store, f"SELECT amount, debited FROM gift_cards "
                                            f"WHERE code = '{SMALL_CARD}'"))
    debits = asyncio.run(_rows(race_store, f"SELECT amount FROM redemptions "
                                           f"WHERE code = '{SMALL_CARD}'"))
    # Money is stored in millionths: what the orders used is exactly what was debited,
    # and never more than the card held.
    assert sum(d[0] for d in debits) == card[1]
    assert card[1] <= card[0] == 30_000_000
    assert card[1] == 30_000_000  # the winner used all of it
    # The winner's card paid EUR 30 of its total; the others paid their whole total.
    with_card = [o for o in result["finals"] if o["giftCards"]]
    assert len(with_card) == 1
    for order in result["finals"]:
        total = Decimal(str(order["totalPrice"]["value"]["withTax"]))
        paid = Decimal(str(order["transactionInfo"]["authorizedAmount"]["value"]))
        assert paid == (total - 30 if order in with_card else total)
