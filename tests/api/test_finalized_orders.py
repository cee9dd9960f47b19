"""A customer's finalized orders, and finalized orders refusing every change."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from fastapi.testclient import TestClient

from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.domain.payment import PaymentStatus
from kasse.services.catalog import StoreDirectory
from tests.api.conftest import BASE


def _cart(client: TestClient, email: str, reference: str | None = None) -> str:
    created = client.post(f"{BASE}/v1/orders", json={"customerReference": reference}
                          if reference else {})
    order_id: str = created.json()["id"]
    client.post(f"{BASE}/v1/order/{order_id}",
                json={"productReference": "camp-mug", "quantity": 2})
    client.patch(f"{BASE}/v1/order/{order_id}",
                 json={"customer": {"firstName": "Grace", "lastName": "Hopper",
                                    "email": email}})
    return order_id


async def _finalize(db_url: str, order_id: str) -> None:
    """Finalize as the checkout will: through the domain and the repository."""
    db = Database.from_url(db_url)
    storage = SqlStorage(db)
    try:
        config = await StoreDirectory(storage).get("demo")
        async with storage.ordering(write=True) as unit:
            order = await unit.orders.get(config.store.id, UUID(order_id), for_update=True)
            assert order is not None
            order.finalize(datetime.now(UTC), amount=Decimal("25.80"),
                           transaction_id="tx-1", payment_status=PaymentStatus.AUTHORIZED,
                           currency_code="EUR")
            await unit.orders.save(order)
    finally:
        await db.dispose()


def test_customer_orders_lists_finalized_orders_by_email_or_reference(
        client: TestClient, demo_db_url: str) -> None:
    finalized = _cart(client, "Grace@Example.com", reference="cust-42")
    still_open = _cart(client, "grace@example.com", reference="cust-42")
    _cart(client, "someone.else@example.com")
    asyncio.run(_finalize(demo_db_url, finalized))

    by_email = client.get(f"{BASE}/v1/customer/grace@example.com/orders")
    assert by_email.status_code == 200
    assert [o["id"] for o in by_email.json()] == [finalized]
    order = by_email.json()[0]
    assert order["isFinalized"] is True
    assert order["finalizedDate"] is not None
    assert order["customerInfo"] == {"customerReference": "cust-42", "firstName": "Grace",
                                     "lastName": "Hopper", "email": "Grace@Example.com"}
    assert order["transactionInfo"]["paymentStatus"] == "Authorized"
    assert order["transactionInfo"]["authorizedAmount"]["value"] == 25.8

    by_reference = client.get(f"{BASE}/v1/customer/cust-42/orders",
                              params={"fields": "isFinalized"})
    assert by_reference.json() == [{"id": finalized, "isFinalized": True}]
    assert still_open not in [o["id"] for o in by_reference.json()]
    assert client.get(f"{BASE}/v1/customer/nobody@example.com/orders").json() == []


def test_a_finalized_order_refuses_every_change(client: TestClient, demo_db_url: str) -> None:
    order_id = _cart(client, "ada@example.com")
    asyncio.run(_finalize(demo_db_url, order_id))
    before = client.get(f"{BASE}/v1/order/{order_id}").json()
    line_id = before["orderLines"][0]["id"]

    attempts = [
        client.post(f"{BASE}/v1/order/{order_id}",
                    json={"productReference": "camp-mug", "quantity": 1}),
        client.patch(f"{BASE}/v1/order/{order_id}", json={"tags": ["late"]}),
        client.patch(f"{BASE}/v1/order/{order_id}/item/{line_id}", json={"quantity": 5}),
        client.patch(f"{BASE}/v1/order/{order_id}/items", json=[{"id": line_id,
                                                                  "quantity": 5}]),
        client.delete(f"{BASE}/v1/order/{order_id}/item/{line_id}"),
        client.delete(f"{BASE}/v1/order/{order_id}/items"),
        client.delete(f"{BASE}/v1/order/{order_id}"),
    ]
    for response in attempts:
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "finalized" in response.json()["detail"]
        assert "Umb-Notifications" in response.headers
    after = client.get(f"{BASE}/v1/order/{order_id}").json()
    assert after == before
