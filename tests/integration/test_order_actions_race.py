"""The money and shipments of one order under fire, across two kasse server processes
sharing one database, with the test gateway as its own process reached over real HTTP.

* 20 partial refunds of 10.00 sent at once (through a gate, race_gate.py) to an order
  that captured 184.25: 18 go through, 2 are refused by kasse itself with what is left;
  never does kasse ask the gateway for more than was captured, and the database and the
  gateway agree on 180.00 refunded.
* The same refund sent ten times at once under one ``Idempotency-Key``: the gateway sees
  one refund, and every answer is that refund (or "still being processed").
* A cancel racing a shipment: one consistent outcome either way. A shipment after the
  cancel is refused; a cancel after the shipment goes through and says what was shipped
  (and does not restock it).

The card order: 1 × Rain Jacket M 159.00 + 2 × Enamel Camp Mug 9.90 + delivery 4.95 + card
fee 0.50 = 184.25 (prices with tax, DE).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import func, select

from kasse.adapters.config_file import read_config_file
from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import (
    fulfilments,
    order_lines,
    order_payments,
    orders,
    outbox_events,
    product_variants,
    products,
    stock_ledger,
)
from kasse.demo import DEMO_STORE_FILE
from kasse.payments.testgateway.cards import APPROVE
from kasse.payments.testgateway.signing import sign_fields
from tests.api.test_cart_reads_across_processes import reimport
from tests.conftest import API_KEY
from tests.integration.conftest import serving
from tests.integration.hosted import DbReader, free_port, running
from tests.integration.race_gate import gate
from tests.management import MANAGEMENT, bearer, issue_token

BASE = "/umbraco/commerce/storefront/api"
MERCHANT, SECRET = "kasse-demo", "demo-signing-secret-change-me"
TOTAL = Decimal("184.25")  # 159.00 + 2 × 9.90 + 4.95 + 0.50
REFUNDS, EACH = 20, Decimal("10.00")
FITS = 18  # 18 × 10.00 = 180.00 <= 184.25 < 19 × 10.00


@dataclass(frozen=True)
class Stack:
    kasse: str
    gateway: str
    db_url: str
    token: str


@pytest.fixture
def stack(demo_db_url: str, tmp_path: Path) -> Iterator[Stack]:
    """The test gateway (its own process) and kasse serving with two workers; the demo
    store's card method pays at that gateway."""
    port = free_port()
    gateway = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "kasse.payments.testgateway", "--host", "127.0.0.1",
            "--port", str(port), "--merchant", f"{MERCHANT}:{SECRET}", "--log-level",
            "warning"]
    with running(args, dict(os.environ), tmp_path / "gateway.log", f"{gateway}/health",
                 "the test gateway"):
        data = read_config_file(DEMO_STORE_FILE).data
        card = next(m for m in data["paymentMethods"] if m["alias"] == "card")
        card["settings"]["GatewayUrl"] = gateway
        reimport(demo_db_url, data)
        with serving(demo_db_url, tmp_path, KASSE_CHECKOUT_RATE_PER_MINUTE="0") as kasse:
            yield Stack(kasse, gateway, demo_db_url, issue_token(demo_db_url, "owner"))


async def card_order(http: httpx.AsyncClient, stack: Stack) -> tuple[str, str]:
    """A placed card order, authorized at the gateway: its id and the payment's id."""
    created = await http.post(f"{BASE}/v1/orders", json={})
    order_id = created.json()["id"]
    for body in ({"productReference": "rain-jacket", "productVariantReference":
                  "rain-jacket-m", "quantity": 1},
                 {"productReference": "camp-mug", "quantity": 2}):
        added = await http.post(f"{BASE}/v1/order/{order_id}", json=body)
        assert added.status_code == 200, added.text
    patched = await http.patch(f"{BASE}/v1/order/{order_id}", json={
        "customer": {"firstName": "Erika", "lastName": "Mustermann",
                     "email": "erika@example.com"},
        "billingAddress": {"line1": "Hauptstraße 5", "city": "Berlin", "zipCode": "10115",
                           "country": "DE"},
        "shippingAddress": {"sameAsBilling": True}, "paymentMethod": "card",
        "shippingMethod": "standard"})
    assert patched.status_code == 200, patched.text
    ready = await http.get(f"{BASE}/v1/checkout/{order_id}/initialize")
    assert ready.status_code == 200, ready.text
    reference = await asyncio.to_thread(lambda: DbReader(stack.db_url).references(order_id))
    fields = {"merchant": MERCHANT, "reference": reference[-1], "amount": f"{TOTAL:f}",
              "currency": "EUR", "description": "race", "success_url": "https://shop.test/ok",
              "cancel_url": "https://shop.test/no", "error_url": "https://shop.test/error",
              "webhook_url": "http://127.0.0.1:9/none"}
    fields["signature"] = sign_fields(SECRET, fields)
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=15) as browser:
        page = await browser.post("/pay", data=fields)
        assert page.status_code == 303, page.text
        paid = await browser.post(f"{httpx.URL(page.headers['location']).path}/submit", data={
            "card_number": APPROVE, "expiry": "12/39", "cvc": "123", "holder": "Erika M",
            "webhook": "none", "action": "pay"})
        assert paid.status_code == 303, paid.text
    payment_id = str(httpx.URL(paid.headers["location"]).params["payment_id"])
    confirmed = await http.post(f"{BASE}/v1/checkout/{order_id}/confirm", json={
        "amount": float(TOTAL), "transactionId": payment_id, "paymentStatus": "Authorized"})
    assert confirmed.status_code == 200, confirmed.text
    return order_id, payment_id


def act(http: httpx.AsyncClient, stack: Stack, order_id: str, action: str,
        body: Any = None, key: str | None = None) -> Any:
    return http.post(f"{MANAGEMENT}/orders/{order_id}/{action}", json=body,
                     headers=bearer(stack.token, **{"Idempotency-Key": key or uuid4().hex,
                                                    "Api-Key": ""}))


async def warm_up(http: httpx.AsyncClient, stack: Stack) -> None:
    """Both server processes serve a few actions first (connections opened, the store
    loaded), so that a cold process does not keep a contender from the gate."""
    order_id, _ = await card_order(http, stack)
    answers = await asyncio.gather(*(act(http, stack, order_id, "notes", {"body": "warm"})
                                     for _ in range(8)))
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]


async def later(request: Any, seconds: float) -> httpx.Response:
    await asyncio.sleep(seconds)
    response: httpx.Response = await request
    return response


async def at_gateway(stack: Stack, payment_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=15) as client:
        answer = await client.get(f"/api/payments/{payment_id}",
                                  headers={"Authorization": f"Bearer {MERCHANT}:{SECRET}"})
    payment: dict[str, Any] = answer.json()
    return payment


def client(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.kasse, timeout=60,
                             headers={"Api-Key": API_KEY, "Store": "demo"},
                             limits=httpx.Limits(max_connections=50))


async def read(db_url: str, query: Any) -> list[dict[str, Any]]:
    db = Database.from_url(db_url)
    try:
        async with db.read() as conn:
            return [dict(row._mapping) for row in (await conn.execute(query)).all()]
    finally:
        await db.dispose()


def test_twenty_partial_refunds_at_once_never_refund_more_than_was_captured(
        stack: Stack) -> None:
    async def scenario() -> tuple[list[httpx.Response], Any, str, str]:
        async with client(stack) as http:
            await warm_up(http, stack)
            order_id, payment_id = await card_order(http, stack)
            captured = await act(http, stack, order_id, "capture")
            assert captured.status_code == 200, captured.text
            async with gate(stack.db_url, order_id) as held:
                answers = await held.contend(
                    [act(http, stack, order_id, "refunds", {"amount": f"{EACH:f}"})
                     for _ in range(REFUNDS)], expected_waiters=4)
        return answers, held, order_id, payment_id

    answers, held, order_id, payment_id = asyncio.run(scenario())
    held.assert_overlapped()
    statuses = sorted(a.status_code for a in answers)
    # Every refusal is kasse's own, before asking the gateway for what is not left.
    assert statuses == [201] * FITS + [400] * (REFUNDS - FITS), [a.text for a in answers]
    for refused in (a for a in answers if a.status_code == 400):
        assert refused.json()["type"].endswith("refund-exceeds-refundable"), refused.text
        assert "is left to refund" in refused.json()["detail"]

    order = asyncio.run(read(stack.db_url, select(orders).where(orders.c.id == UUID(order_id))))[0]
    rows = asyncio.run(read(stack.db_url, select(order_payments).where(
        order_payments.c.order_id == UUID(order_id), order_payments.c.kind == "refund")))
    succeeded = [r["amount"] for r in rows if r["status"] == "succeeded"]
    assert len(succeeded) == FITS and not [r for r in rows if r["status"] != "succeeded"]
    assert sum(succeeded) + order["refund_pending_amount"] <= order["captured_amount"] == TOTAL
    assert order["refunded_amount"] == FITS * EACH and order["refund_pending_amount"] == 0
    assert order["payment_status"] == "PartiallyRefunded"
    gateway = asyncio.run(at_gateway(stack, payment_id))
    assert gateway["refunded_amount"] == f"{FITS * EACH:.2f}"  # the gateway agrees
    assert len({r["operation_id"] for r in rows}) == FITS  # one idempotency key each
    news = asyncio.run(read(stack.db_url, select(func.count()).select_from(outbox_events).where(
        outbox_events.c.aggregate_id == UUID(order_id),
        outbox_events.c.topic == "payment.refunded")))
    assert list(news[0].values()) == [FITS]


def test_one_idempotency_key_refunds_once_however_often_it_is_sent(stack: Stack) -> None:
    async def scenario() -> tuple[list[httpx.Response], httpx.Response, str, str]:
        async with client(stack) as http:
            order_id, payment_id = await card_order(http, stack)
            assert (await act(http, stack, order_id, "capture")).status_code == 200
            key = uuid4().hex
            body = {"amount": "25.00", "reason": "sent twice by a flaky network"}
            answers = await asyncio.gather(*(act(http, stack, order_id, "refunds", body, key)
                                             for _ in range(10)))
            await asyncio.sleep(0.5)
            later = await act(http, stack, order_id, "refunds", body, key)
        return list(answers), later, order_id, payment_id

    answers, later, order_id, payment_id = asyncio.run(scenario())
    assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
    done = [a for a in answers if a.status_code == 201]
    assert done and len({a.text for a in done}) == 1
    for busy in (a for a in answers if a.status_code == 409):
        assert "still being processed" in busy.json()["detail"]
    assert later.status_code == 201 and later.text == done[0].text
    assert later.headers["idempotent-replayed"] == "true"
    assert asyncio.run(at_gateway(stack, payment_id))["refunded_amount"] == "25.00"
    rows = asyncio.run(read(stack.db_url, select(order_payments).where(
        order_payments.c.order_id == UUID(order_id), order_payments.c.kind == "refund")))
    assert len(rows) == 1


ROUNDS = 4


def test_a_cancel_racing_a_shipment_ends_one_way_or_the_other(stack: Stack,
                                                              engine_kind: str) -> None:
    async def scenario() -> list[tuple[str, httpx.Response, httpx.Response, Any]]:
        rounds = []
        async with client(stack) as http:
            await warm_up(http, stack)
            for number in range(ROUNDS):
                order_id, _ = await card_order(http, stack)
                if number % 2:  # a captured payment is refunded, an authorized one voided
                    assert (await act(http, stack, order_id, "capture")).status_code == 200
                # Both wait at the gate; one of them a moment longer, so that on
                # PostgreSQL (whose lock queue is first come, first served) each order
                # of arrival is tried: the cancel first, then the shipment first.
                cancel_first = number < 2
                canceling = later(act(http, stack, order_id, "cancel", {"reason": "race"}),
                                  0 if cancel_first else 0.5)
                shipping = later(act(http, stack, order_id, "fulfilments",
                                     {"carrier": "DHL"}), 0.5 if cancel_first else 0)
                async with gate(stack.db_url, order_id) as held:
                    canceled, shipped = await held.contend([canceling, shipping])
                rounds.append((order_id, canceled, shipped, held))
        return rounds

    rounds = asyncio.run(scenario())
    if engine_kind == "postgresql":  # the lock queue decides: each outcome happens
        assert [shipped.status_code for _, _, shipped, _ in rounds] == [409, 409, 201, 201]
    for order_id, canceled, shipped, held in rounds:
        held.assert_overlapped()
        assert canceled.status_code == 200, canceled.text  # a cancel always goes through
        order = asyncio.run(read(stack.db_url, select(orders).where(
            orders.c.id == UUID(order_id))))[0]
        lines = asyncio.run(read(stack.db_url, select(order_lines).where(
            order_lines.c.order_id == UUID(order_id))))
        shipments = asyncio.run(read(stack.db_url, select(fulfilments).where(
            fulfilments.c.order_id == UUID(order_id))))
        assert order["canceled_at"] is not None
        assert order["payment_status"] in ("Cancelled", "Refunded")
        if shipped.status_code == 201:  # shipped first: the cancel says so, restocks none
            assert len(shipments) == 1 and order["fulfilment_status"] == "fulfilled"
            assert any("were shipped" in w for w in canceled.json()["warnings"])
            assert all(line["restocked_quantity"] == 0 for line in lines)
        else:  # canceled first: the shipment is refused, everything is restocked
            assert shipped.status_code == 409, shipped.text
            assert "canceled" in shipped.json()["detail"]
            assert shipments == [] and order["fulfilment_status"] == "unfulfilled"
            assert all(line["restocked_quantity"] == line["quantity"] for line in lines)
    assert_stock_matches_its_ledger(stack.db_url)


def assert_stock_matches_its_ledger(db_url: str) -> None:
    """On hand equals the sum of the ledger, for the items the orders held."""
    for table, reference in ((product_variants, "rain-jacket-m"), (products, "camp-mug")):
        item = asyncio.run(read(db_url, select(table.c.id, table.c.stock).where(
            table.c.reference == reference)))[0]
        ledger = asyncio.run(read(db_url, select(func.sum(stock_ledger.c.delta)).where(
            stock_ledger.c.item_id == item["id"])))
        assert list(ledger[0].values()) == [item["stock"]], reference
