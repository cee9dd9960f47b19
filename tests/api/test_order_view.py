"""One placed order as the staff see it: what the storefront sees, its checkout payment,
its history after checkout, the merchant webhooks sent about it, all in one timeline; and
the audit log of an order and of a store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.adapters.db.webhook_repository import SqlWebhookStorage
from kasse.api.app import create_app
from kasse.domain.access import Principal, Role
from kasse.domain.audit import Actor, AuditEntry
from kasse.services.webhook_endpoints import WebhookEndpoints
from tests.api.conftest import make_settings
from tests.api.placed_orders import staff
from tests.api.shoppers import (
    open_cart,
    place,
    store_id,
    utc_now,
)
from tests.integration.webhook_receiver import Receiver
from tests.management import MANAGEMENT, bearer, issue_token


@pytest.fixture
def api(demo_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(demo_db_url, tmp_path,
                                             webhook_poll_seconds=0.1)),
                    raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def support(demo_db_url: str) -> dict[str, str]:
    return bearer(issue_token(demo_db_url, "support"))


def view(api: TestClient, headers: dict[str, str], order_id: str, **params: str
         ) -> dict[str, Any]:
    answer = api.get(f"{MANAGEMENT}/orders/{order_id}", headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["etag"] == f'"{answer.json()["version"]}"'
    body: dict[str, Any] = answer.json()
    return body


def test_an_order_shows_what_the_storefront_sees_and_how_it_was_paid(
        api: TestClient, support: dict[str, str]) -> None:
    placed = place(api, first="Ada", last="Lovelace", email="ada@example.com",
                   product="trail-map", quantity=2, tags=["vip"], code="WELCOME10")
    body = view(api, support, placed.id, expand="$prices")
    assert (body["id"], body["orderNumber"], body["paymentStatus"]) == (
        placed.id, placed.number, "Authorized")
    order = body["order"]  # the Storefront API's rendering, with its expand
    assert order["isFinalized"] is True
    assert [(line["sku"], line["quantity"]) for line in order["orderLines"]] == [
        ("MAP-ALPS", 2)]
    assert order["properties"]["billingCity"] == "Berlin"
    assert order["customerInfo"]["email"] == "ada@example.com"
    assert [c["code"] for c in order["discountCodes"]] == ["WELCOME10"]
    assert "withoutAdjustments" in order["totalPrice"]  # $prices expanded
    assert body["tags"] == ["vip"]
    # 2 x 12.90 = 25.80 - 10 % = 23.22 + 4.95 shipping = 28.17
    (payment,) = body["payments"]
    assert payment == {"kind": "checkout", "transactionId": f"tx-{placed.id}",
                       "provider": "invoicing", "paymentMethod": "invoicing",
                       "paymentStatus": "Authorized", "amount": "28.17", "fee": None,
                       "checkout": "inline", "at": body["placedAt"]}
    for empty in ("refunds", "fulfilments", "notes", "statusHistory", "audit",
                  "webhookDeliveries"):
        assert body[empty] == [], empty
    # both at the moment the order was placed: the later recorded first
    assert [(item["kind"], item["summary"]) for item in body["timeline"]] == [
        ("payment", "Payment Authorized: 28.17 EUR through invoicing"),
        ("placed", f"Order {placed.number} placed")]
    assert {item["at"] for item in body["timeline"]} == {body["placedAt"]}


def test_the_webhooks_sent_about_an_order_are_on_it(api: TestClient, demo_db_url: str,
                                                    support: dict[str, str]) -> None:
    with Receiver().running() as receiver:
        secret_url = receiver.url.replace("http://", "http://hook:pa55@") + "?token=s3cret"

        async def register() -> None:
            db = Database.from_url(demo_db_url)
            try:
                await WebhookEndpoints(SqlWebhookStorage(db)).add(
                    secret_url, "order.finalized", secret="s" * 16)
            finally:
                await db.dispose()

        asyncio.run(register())
        placed = place(api)
        receiver.wait_for(1, timeout=10)
        deadline = time.monotonic() + 10
        while True:
            body = view(api, support, placed.id)
            deliveries = body["webhookDeliveries"]
            if deliveries and deliveries[0]["status"] == "succeeded":
                break
            assert time.monotonic() < deadline, deliveries
            time.sleep(0.1)
    (delivery,) = deliveries
    assert delivery["topic"] == "order.finalized"
    assert (delivery["attempts"], delivery["lastStatusCode"]) == (1, 200)
    # the address without what may be a secret in it
    assert delivery["endpointUrl"] == receiver.url
    assert "pa55" not in str(body) and "s3cret" not in str(body)
    webhook = next(item for item in body["timeline"] if item["kind"] == "webhook")
    assert "order.finalized" in webhook["summary"] and "succeeded" in webhook["summary"]
    assert body["timeline"][0]["kind"] == "webhook"  # sent after the order was placed


def test_what_the_staff_did_to_an_order_is_on_it_newest_first(
        api: TestClient, demo_db_url: str, support: dict[str, str]) -> None:
    placed = place(api, product="trail-backpack")  # 89.95 + 4.95 = 94.90, by invoice
    manager = staff(api, demo_db_url, "manager")
    manager.ok(f"/orders/{placed.id}/payments", {"reference": "BANK-42"}, 201)
    manager.ok(f"/orders/{placed.id}/fulfilments", {"carrier": "DHL",
                                                    "trackingNumber": "JD0001"}, 201)
    manager.ok(f"/orders/{placed.id}/notes", {"body": "Customer called about the strap"},
               201)
    manager.ok(f"/orders/{placed.id}/status", {"status": "shipped"})
    manager.ok(f"/orders/{placed.id}/refunds", {"amount": "10", "reason": "scratched"}, 201)

    body = view(api, support, placed.id)
    # the summary as the list shows it: 94.90 captured, 10.00 back, 84.90 left to refund
    assert (body["captured"], body["refunded"], body["refundable"]) == (
        "94.90", "10.00", "84.90")
    assert (body["fulfilmentStatus"], body["orderStatus"]["alias"]) == ("fulfilled",
                                                                       "shipped")
    assert [p["kind"] for p in body["payments"]] == ["checkout", "payment"]
    assert (body["payments"][1]["amount"], body["payments"][1]["reference"]) == (
        "94.90", "BANK-42")
    (refund,) = body["refunds"]
    assert (refund["amount"], refund["reason"], refund["status"]) == ("10.00", "scratched",
                                                                      "succeeded")
    (shipment,) = body["fulfilments"]
    assert (shipment["carrier"], shipment["trackingNumber"]) == ("DHL", "JD0001")
    assert [n["body"] for n in body["notes"]] == ["Customer called about the strap"]
    (change,) = body["statusHistory"]
    assert (change["from"]["alias"], change["to"]["alias"]) == ("new", "shipped")
    # one audit entry per action, each by the manager's token
    assert {entry["actor"]["kind"] for entry in body["audit"]} == {"token"}
    assert [entry["action"] for entry in body["audit"]] == [
        "order.payment_recorded", "order.fulfilled", "order.note_added",
        "order.status_changed", "order.refunded"]  # oldest first, as recorded
    versions = [(e["versionBefore"], e["versionAfter"]) for e in body["audit"]]
    assert all(after >= before for before, after in versions)
    assert all(b[0] == a[1] for a, b in zip(versions, versions[1:], strict=False))
    assert versions[-1][1] == body["version"]

    timeline = [item for item in body["timeline"] if item["kind"] != "audit"]
    assert [item["kind"] for item in timeline] == [
        "refund", "status", "note", "fulfilment", "payment", "payment", "placed"]
    summaries = [item["summary"] for item in timeline]
    assert summaries[0].startswith("Refund of 10.00 EUR succeeded")
    assert summaries[1].startswith("Status changed from New to Shipped by ")
    assert "DHL JD0001" in summaries[3]
    times = [item["at"] for item in body["timeline"]]
    assert times == sorted(times, reverse=True)
    actions = [item["summary"].split()[0] for item in body["timeline"]
               if item["kind"] == "audit"]
    assert actions == ["order.refunded", "order.status_changed", "order.note_added",
                       "order.fulfilled", "order.payment_recorded"]

    # and the lists see the same order as the staff left it
    manager_headers = bearer(issue_token(demo_db_url, "manager"))
    row, = api.get(f"{MANAGEMENT}/orders", headers=manager_headers,
                   params={"fulfilmentStatus": "fulfilled", "orderStatus": "shipped"}
                   ).json()["items"]
    assert {k: row[k] for k in ("id", "captured", "refunded", "refundable")} == {
        "id": placed.id, "captured": "94.90", "refunded": "10.00", "refundable": "84.90"}
    exported = api.get(f"{MANAGEMENT}/orders/export.csv", headers=manager_headers).text
    assert f"{placed.number}," in exported and ",Shipped,94.90,10.00," in exported


def test_an_order_nobody_may_see_is_not_found(api: TestClient, demo_db_url: str,
                                              support: dict[str, str]) -> None:
    placed = place(api)
    cart = open_cart(api)
    elsewhere = bearer(issue_token(demo_db_url, "owner", stores=[UUID(int=7)]))
    for headers, order_id in ((support, cart), (support, str(uuid4())),
                              (support, "not-an-id"), (elsewhere, placed.id)):
        answer = api.get(f"{MANAGEMENT}/orders/{order_id}", headers=headers)
        assert answer.status_code == 404, (order_id, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    assert api.get(f"{MANAGEMENT}/orders/{placed.id}").status_code == 401
    for role in ("owner", "manager", "fulfilment", "support"):
        view(api, bearer(issue_token(demo_db_url, role)), placed.id)


def add_audit(db_url: str, store: UUID, order_id: UUID | None, action: str,
              at: Any, name: str = "Grace") -> None:
    """An audit entry as the management actions write it."""
    actor = Actor(Principal(kind="token", id=str(uuid4()), name=name, role=Role.MANAGER,
                            store_ids=None), request_id="req-1")

    async def write() -> None:
        db = Database.from_url(db_url)
        try:
            async with SqlStorage(db).ordering(write=True) as unit:
                await unit.audit.add(AuditEntry.of(actor, action, store, at,
                                                   order_id=order_id, detail={"n": 1},
                                                   version_before=3, version_after=4))
        finally:
            await db.dispose()

    asyncio.run(write())


def test_the_audit_of_an_order_and_of_a_store_page_by_time(
        api: TestClient, demo_db_url: str, support: dict[str, str]) -> None:
    placed, other = place(api), place(api, email="other@example.com")
    demo = store_id(demo_db_url)
    start = utc_now()
    for n in range(5):  # two at the same instant: the cursor tells them apart
        at = start + timedelta(seconds=min(n, 3))
        add_audit(demo_db_url, demo, UUID(placed.id), f"order.step{n}", at)
    add_audit(demo_db_url, demo, UUID(other.id), "order.other", start + timedelta(seconds=9))
    add_audit(demo_db_url, demo, None, "stock.adjusted", start + timedelta(seconds=10))

    def walk(url: str, headers: dict[str, str]) -> list[str]:
        actions, cursor = [], None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            answer = api.get(url, headers=headers, params=params)
            assert answer.status_code == 200, answer.text
            actions += [entry["action"] for entry in answer.json()["items"]]
            cursor = answer.json()["nextCursor"]
            if cursor is None:
                return actions

    steps = walk(f"{MANAGEMENT}/orders/{placed.id}/audit", support)
    assert sorted(steps[:2]) == ["order.step3", "order.step4"]  # the same instant
    assert steps[2:] == ["order.step2", "order.step1", "order.step0"]
    everything = walk(f"{MANAGEMENT}/stores/demo/audit", support)
    assert everything[:2] == ["stock.adjusted", "order.other"]
    assert len(everything) == 7
    first = api.get(f"{MANAGEMENT}/stores/{demo}/audit", headers=support).json()["items"][0]
    assert first["actor"] == {"kind": "token", "id": first["actor"]["id"], "name": "Grace"}
    assert (first["versionBefore"], first["versionAfter"], first["requestId"]) == (
        3, 4, "req-1")
    elsewhere = bearer(issue_token(demo_db_url, "owner", stores=[UUID(int=7)]))
    assert api.get(f"{MANAGEMENT}/stores/demo/audit", headers=elsewhere).status_code == 404
    assert api.get(f"{MANAGEMENT}/stores/nowhere/audit", headers=support).status_code == 404
    assert api.get(f"{MANAGEMENT}/orders/{placed.id}/audit",
                   headers=elsewhere).status_code == 404
    bad = api.get(f"{MANAGEMENT}/stores/demo/audit", headers=support,
                  params={"cursor": "bm9wZQ"})
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]
