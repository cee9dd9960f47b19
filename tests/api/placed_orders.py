"""Helpers for the tests of the actions on placed orders: orders placed through the
Storefront API (by invoice, or by card at the test gateway kasse serves itself), the
management API called with a token, and what the database and the gateway then hold.

The demo store, DE, prices with tax, standard delivery 4.95:
* the invoice order: 2 × Enamel Camp Mug 9.90 + 1 × Alps Trail Map 12.90 + 4.95 + the
  invoicing fee 0 = 37.65;
* the card order: 1 × Rain Jacket M 159.00 + 2 × Enamel Camp Mug 9.90 + 4.95 + the card
  fee 0.50 = 184.25.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import audit_entries, order_payments, orders, outbox_events
from kasse.api.app import create_app
from tests.api.conftest import BASE, make_settings
from tests.api.test_inline_checkout import cart, confirm, initialize
from tests.api.test_inline_verification import SECRET, confirm_card, pay_at_gateway, reference_of
from tests.conftest import API_KEY
from tests.management import MANAGEMENT, bearer, issue_token

INVOICE_TOTAL = Decimal("37.65")  # 2 × 9.90 + 12.90 + 4.95
CARD_TOTAL = Decimal("184.25")  # 159.00 + 2 × 9.90 + 4.95 + 0.50


@pytest.fixture
def client(demo_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The app with the test gateway it serves itself; storefront headers by default."""
    app = create_app(make_settings(demo_db_url, tmp_path, test_gateway=True))
    with TestClient(app, headers={"Api-Key": API_KEY, "Store": "demo"},
                    raise_server_exceptions=False) as test_client:
        yield test_client


class Staff:
    """The management API as a token holder calls it."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    def act(self, path: str, body: Any = None, *, method: str = "POST",
            key: str | None = None, if_match: int | str | None = None,
            headers: dict[str, str] | None = None) -> httpx.Response:
        extra = {"Idempotency-Key": key or uuid4().hex, **(headers or {})}
        if if_match is not None:
            extra["If-Match"] = f'"{if_match}"' if isinstance(if_match, int) else if_match
        # No storefront key: the management API does not take one.
        sent = {**bearer(self.token, **extra), "Api-Key": "", "Store": ""}
        response: httpx.Response = self.client.request(
            method, f"{MANAGEMENT}{path}", json=body, headers=sent)
        return response

    def ok(self, path: str, body: Any = None, status: int | None = None,
           **options: Any) -> dict[str, Any]:
        response = self.act(path, body, **options)
        assert response.status_code in ((status,) if status else (200, 201)), response.text
        answer: dict[str, Any] = response.json()
        assert response.headers["etag"] == f'"{answer["version"]}"'
        return answer


def staff(client: TestClient, db_url: str, role: str = "owner",
          stores: list[UUID] | None = None) -> Staff:
    return Staff(client, issue_token(db_url, role, stores=stores))


def problem(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    for word in words:
        assert word in body["detail"], body
    return body


def invoice_order(client: TestClient) -> tuple[str, dict[str, str]]:
    """A placed invoice order (Authorized); its id and its lines' ids by product."""
    order_id = cart(client, ("camp-mug", 2, None), ("trail-map", 1, None))
    initialize(client, order_id)
    placed = confirm(client, order_id, INVOICE_TOTAL, f"tx-{uuid4().hex[:8]}")
    assert placed.status_code == 200, placed.text
    return order_id, lines_of(storefront_order(client, order_id))


def card_order(client: TestClient, db_url: str) -> tuple[str, dict[str, str], str]:
    """A placed card order whose payment the test gateway holds (Authorized): its id, its
    lines' ids by product, and the gateway's payment id."""
    order_id = cart(client, ("rain-jacket", 1, "rain-jacket-m"), ("camp-mug", 2, None),
                    payment="card")
    initialize(client, order_id)
    payment = pay_at_gateway(client, reference_of(db_url, order_id), CARD_TOTAL)
    placed = confirm_card(client, order_id, payment, amount=CARD_TOTAL)
    assert placed.status_code == 200, placed.text
    return order_id, lines_of(storefront_order(client, order_id)), payment


def lines_of(order: dict[str, Any]) -> dict[str, str]:
    return {line["productReference"]: line["id"] for line in order["orderLines"]}


def at_gateway(client: TestClient, payment_id: str) -> dict[str, Any]:
    """The payment as the test gateway's merchant API shows it."""
    answer = client.get(f"/testgateway/api/payments/{payment_id}",
                        headers={"Authorization": f"Bearer kasse-demo:{SECRET}"})
    assert answer.status_code == 200, answer.text
    payment: dict[str, Any] = answer.json()
    return payment


def storefront_order(client: TestClient, order_id: str) -> dict[str, Any]:
    order: dict[str, Any] = client.get(f"{BASE}/v1/order/{order_id}").json()
    return order


def _rows(db_url: str, query: Any) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        db = Database.from_url(db_url)
        try:
            async with db.read() as conn:
                return [dict(row._mapping) for row in (await conn.execute(query)).all()]
        finally:
            await db.dispose()

    return asyncio.run(read())


def topics(db_url: str, order_id: str) -> list[str]:
    """The outbox events recorded about the order, oldest first."""
    rows = _rows(db_url, select(outbox_events.c.topic)
                 .where(outbox_events.c.aggregate_id == UUID(order_id))
                 .order_by(outbox_events.c.created_at, outbox_events.c.id))
    return [row["topic"] for row in rows]


def events(db_url: str, order_id: str, topic: str) -> list[dict[str, Any]]:
    rows = _rows(db_url, select(outbox_events.c.payload)
                 .where(outbox_events.c.aggregate_id == UUID(order_id),
                        outbox_events.c.topic == topic)
                 .order_by(outbox_events.c.created_at))
    return [row["payload"] for row in rows]


def audit(db_url: str, order_id: str) -> list[dict[str, Any]]:
    """The order's audit entries, oldest first."""
    return _rows(db_url, select(audit_entries)
                 .where(audit_entries.c.order_id == UUID(order_id))
                 .order_by(audit_entries.c.created_at))


def payments(db_url: str, order_id: str) -> list[dict[str, Any]]:
    return _rows(db_url, select(order_payments)
                 .where(order_payments.c.order_id == UUID(order_id))
                 .order_by(order_payments.c.created_at))


def order_row(db_url: str, order_id: str) -> dict[str, Any]:
    (row,) = _rows(db_url, select(orders).where(orders.c.id == UUID(order_id)))
    return row


def outbox_moments(db_url: str, order_id: str) -> dict[str, Any]:
    """When each topic's events about the order were recorded (a list where several)."""
    rows = _rows(db_url, select(outbox_events.c.topic, outbox_events.c.created_at)
                 .where(outbox_events.c.aggregate_id == UUID(order_id))
                 .order_by(outbox_events.c.created_at))
    moments: dict[str, Any] = {}
    for row in rows:
        if row["topic"] == "payment.refunded":
            moments.setdefault(row["topic"], []).append(row["created_at"])
        else:
            moments[row["topic"]] = row["created_at"]
    return moments
