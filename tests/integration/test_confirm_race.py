"""Confirming one inline payment many times at once, across two kasse processes: one
finalization, and every answer is the same order number (200) or a clear conflict (409).

The confirms are held at a gate (tests/integration/race_gate.py) until all of them wait
inside the servers for the order, then released together: they race for real."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text

from kasse.adapters.db.database import Database
from tests.conftest import API_KEY
from tests.integration.race_gate import Gate, gate

BASE = "/umbraco/commerce/storefront/api"
HEADERS = {"Api-Key": API_KEY, "Store": "demo"}
SAME = 40
OTHERS = 10


async def _storm(server: str, db_url: str
                 ) -> tuple[dict[str, Any], list[httpx.Response], Gate]:
    async with httpx.AsyncClient(base_url=server, headers=HEADERS, timeout=60,
                                 limits=httpx.Limits(max_connections=60)) as http:
        order_id = (await http.post(f"{BASE}/v1/orders", json={})).json()["id"]
        await http.post(f"{BASE}/v1/order/{order_id}",
                        json={"productReference": "camp-mug", "quantity": 4})
        await http.patch(f"{BASE}/v1/order/{order_id}",
                         json={"paymentMethod": "invoicing", "shippingMethod": "standard"})
        initialized = await http.get(f"{BASE}/v1/checkout/{order_id}/initialize")
        assert initialized.status_code == 200, initialized.text
        order = (await http.get(f"{BASE}/v1/order/{order_id}")).json()
        amount = order["transactionAmount"]["value"]["value"]

        def confirm(transaction_id: str) -> Any:
            return http.post(f"{BASE}/v1/checkout/{order_id}/confirm", json={
                "amount": amount, "transactionId": transaction_id,
                "paymentStatus": "Authorized"})

        # The distinct transactions are spread among the repeats, so that no kind of
        # contender reaches the order before the others.
        contenders = [confirm("tx-same") for _ in range(SAME)]
        for i in range(OTHERS):
            contenders.insert(i * (SAME // OTHERS), confirm(f"tx-{i}"))
        async with gate(db_url, order_id) as held:
            responses = await held.contend(contenders, expected_waiters=10)
        final = (await http.get(f"{BASE}/v1/order/{order_id}")).json()
        stock = (await http.get(f"{BASE}/v1/products",
                                params={"productReference": "camp-mug"})).json()[0]["stock"]
    return {"order": final, "stock": stock, "number": initialized.json()["orderNumber"]}, \
        list(responses), held


async def _finalized_events(url: str) -> int:
    db = Database.from_url(url)
    try:
        async with db.read() as conn:
            return int((await conn.execute(text(
                "SELECT count(*) FROM outbox_events WHERE topic = 'order.finalized'"))
            ).scalar_one())
    finally:
        await db.dispose()


def test_concurrent_confirms_finalize_once(server: str, demo_db_url: str) -> None:
    result, responses, held = asyncio.run(_storm(server, demo_db_url))
    held.assert_overlapped()

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409}, [r.text for r in responses if r.status_code >= 500]
    ok = [r for r in responses if r.status_code == 200]
    assert ok, "no confirmation succeeded"
    assert {r.json()["orderNumber"] for r in ok} == {result["number"]}
    winner = ok[0].json()["transactionInfo"]["transactionId"]
    # every 200 reports the one transaction that finalized the order
    assert {r.json()["transactionInfo"]["transactionId"] for r in ok} == {winner}
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.headers["content-type"].startswith("application/problem+json")

    order = result["order"]
    assert order["isFinalized"] is True
    assert order["transactionInfo"]["transactionId"] == winner
    assert result["stock"] == 200 - 4
    assert asyncio.run(_finalized_events(demo_db_url)) == 1
