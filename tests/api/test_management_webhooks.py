"""Merchant webhooks through the management API, against a real HTTP receiver on loopback
and the app's own delivery worker: what a receiver gets (an order event carries the
order; stock.adjusted the item), the deliveries as staff look them up, and sending them
again, one or every failing one, audited."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import webhook_deliveries
from kasse.adapters.db.webhook_repository import SqlWebhookStorage
from kasse.api.app import create_app
from kasse.services.webhook_endpoints import WebhookEndpoints
from tests.api.conftest import make_settings
from tests.api.test_inline_checkout import (
    JACKET_TOTAL,
    confirm,
    get_order,
    initialize,
    jacket_cart,
    ok,
)
from tests.conftest import API_KEY
from tests.integration.webhook_receiver import Receiver
from tests.management import MANAGEMENT, bearer, issue_token

HOOKS = f"{MANAGEMENT}/webhooks"
SECRET = "whsec_for-the-tests-0123456789"


def run(db_url: str, work: Any) -> Any:
    async def go() -> Any:
        db = Database.from_url(db_url)
        try:
            return await work(db)
        finally:
            await db.dispose()
    return asyncio.run(go())


def register(db_url: str, url: str, events: str, *, store: str | None = "demo",
             active: bool = True) -> str:
    async def add(db: Database) -> str:
        added = await WebhookEndpoints(SqlWebhookStorage(db)).add(
            url, events, store=store, secret=SECRET, active=active)
        return str(added.endpoint.id)
    endpoint_id: str = run(db_url, add)
    return endpoint_id


def rows(db_url: str, sql: str) -> list[Any]:
    async def read(db: Database) -> list[Any]:
        async with db.read() as conn:
            return list((await conn.execute(text(sql))).all())
    found: list[Any] = run(db_url, read)
    return found


def give_up(db_url: str, delivery_id: str) -> None:
    """What a day of failed attempts leaves (tested on its own elsewhere): given up."""
    async def write(db: Database) -> None:
        async with db.transaction() as conn:
            await conn.execute(update(webhook_deliveries)
                               .where(webhook_deliveries.c.id == UUID(delivery_id))
                               .values(status="failed", completed_at=datetime.now(UTC)))
    run(db_url, write)


def as_dict(value: Any) -> dict[str, Any]:
    found: dict[str, Any] = value if isinstance(value, dict) else json.loads(value)
    return found


@pytest.fixture
def app(demo_db_url: str, tmp_path: Path) -> Any:
    # Polls often, and retries a failure only after an hour: what is sent again in these
    # tests is sent because someone asked.
    return create_app(make_settings(demo_db_url, tmp_path, webhook_poll_seconds=0.1,
                                    webhook_retry_base_seconds=3600))


@pytest.fixture
def manager(demo_db_url: str) -> dict[str, str]:
    return bearer(issue_token(demo_db_url, "manager", name="back office"))


@pytest.fixture
def api(app: Any) -> Iterator[TestClient]:
    with TestClient(app, headers={"Api-Key": API_KEY, "Store": "demo"},
                    raise_server_exceptions=False) as client:
        yield client


def place_order(api: TestClient) -> dict[str, Any]:
    order_id = jacket_cart(api)
    initialize(api, order_id)
    ok(confirm(api, order_id, JACKET_TOTAL, transaction_id="tx-77"))
    return get_order(api, order_id)


def act(api: TestClient, headers: dict[str, str], path: str, body: Any = None,
        key: str | None = None) -> Any:
    return api.post(path, json=body, headers={**headers,
                                              "Idempotency-Key": key or str(uuid4())})


def wait_until(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("not within the time")


def test_an_order_event_carries_the_order(demo_db_url: str, app: Any) -> None:
    with Receiver().running() as receiver:
        register(demo_db_url, receiver.url, "order.finalized")
        with TestClient(app, headers={"Api-Key": API_KEY, "Store": "demo"}) as api:
            placed = place_order(api)
            (received,) = receiver.wait_for(1)
    data = received.json["data"]
    # What the event said before stays as it was ...
    assert {k: data[k] for k in ("orderId", "orderNumber", "transactionId", "paymentStatus",
                                 "amount", "currency")} == {
        "orderId": placed["id"], "orderNumber": placed["orderNumber"],
        "transactionId": "tx-77", "paymentStatus": "Authorized", "amount": "163.95",
        "currency": "EUR"}
    # ... and the order comes with it: a mailer or an ERP need not call back.
    order = data["order"]
    assert order["id"] == placed["id"] and order["orderNumber"] == placed["orderNumber"]
    assert order["placedAt"].endswith("Z") and order["placedAt"][:10] == \
        placed["finalizedDate"][:10]
    assert order["orderStatus"]["alias"] and order["orderStatus"]["name"]
    assert (order["paymentStatus"], order["currency"]) == ("Authorized", "EUR")
    assert order["customer"] == {"email": "erika@example.com", "firstName": "Erika",
                                 "lastName": "Mustermann", "reference": None}
    billing = order["billingAddress"]
    assert (billing["firstName"], billing["line1"], billing["city"], billing["zipCode"],
            billing["country"]) == ("Erika", "Hauptstraße 5", "Berlin", "10115", "DE")
    shipping = order["shippingAddress"]
    assert shipping["sameAsBilling"] is True
    assert (shipping["line1"], shipping["city"], shipping["country"]) == (
        "Hauptstraße 5", "Berlin", "DE")
    assert order["shippingMethod"]["alias"] == "standard"
    assert order["paymentMethod"]["alias"] == "invoicing"
    (line,) = order["lines"]
    assert {k: line[k] for k in ("sku", "name", "quantity", "unitPrice", "totalPrice")} == {
        "sku": "JKT-RAIN-M", "name": "Rain Jacket M", "quantity": "1",
        "unitPrice": "159.00", "totalPrice": "159.00"}
    assert line["productReference"] == "rain-jacket"
    assert line["variantReference"] == "rain-jacket-m"
    totals = order["totals"]
    # 159.00 jacket + 4.95 standard delivery + 0.00 invoicing = 163.95, nothing off
    assert {k: totals[k] for k in ("subtotal", "shipping", "paymentFee", "discount",
                                   "totalPrice", "giftCards", "transactionAmount")} == {
        "subtotal": "159.00", "shipping": "4.95", "paymentFee": "0.00", "discount": "0.00",
        "totalPrice": "163.95", "giftCards": "0.00", "transactionAmount": "163.95"}
    # German VAT 19% within the gross prices: 159.00 - 133.61 + 4.95 - 4.16
    assert Decimal(totals["totalTax"]) == Decimal("25.39") + Decimal("0.79")
    assert Decimal(totals["totalWithoutTax"]) + Decimal(totals["totalTax"]) == JACKET_TOTAL


def test_redeliver_one_and_every_failing_one(demo_db_url: str, api: TestClient,
                                             manager: dict[str, str]) -> None:
    # The receiver is down for the first three requests, then back.
    with Receiver(answers=[500, 500, 503]).running() as receiver:
        endpoint = register(demo_db_url, receiver.url, "order.finalized,stock.adjusted")
        placed = place_order(api)
        for change in (5, -1):
            answer = act(api, manager, f"{MANAGEMENT}/stores/demo/stock/trail-map/adjustments",
                         {"change": change, "reason": "received" if change > 0 else "damaged"})
            assert answer.status_code == 201, answer.text
        receiver.wait_for(3)

        def attempted_once() -> list[dict[str, Any]] | None:
            found = [d for d in api.get(f"{HOOKS}/deliveries", headers=manager
                                        ).json()["deliveries"] if d["attemptCount"] == 1]
            return found if len(found) == 3 else None  # each attempt recorded
        listed = wait_until(attempted_once)
        by_event: dict[str, list[dict[str, Any]]] = {}
        for delivery in listed:
            by_event.setdefault(delivery["event"], []).append(delivery)
            assert delivery["status"] == "pending" and delivery["endpointId"] == endpoint
            assert delivery["lastStatusCode"] in (500, 503)
            next_at = datetime.fromisoformat(delivery["nextAttemptAt"].replace("Z", "+00:00"))
            assert next_at > datetime.now(UTC) + timedelta(minutes=30)  # an hour away
        (finalized,) = by_event["order.finalized"]
        assert finalized["orderId"] == placed["id"]
        assert len(by_event["stock.adjusted"]) == 2
        give_up(demo_db_url, by_event["stock.adjusted"][0]["id"])

        # Staff find them by status, event type, order and endpoint.
        def ids(**params: str) -> set[str]:
            answer = api.get(f"{HOOKS}/deliveries", headers=manager, params=params)
            assert answer.status_code == 200, answer.text
            return {d["id"] for d in answer.json()["deliveries"]}
        assert ids(status="failed") == {by_event["stock.adjusted"][0]["id"]}
        assert ids(event="stock.adjusted") == {d["id"] for d in by_event["stock.adjusted"]}
        assert ids(order=placed["id"]) == {finalized["id"]}
        assert ids(endpoint=endpoint) == {d["id"] for d in listed}
        assert ids(endpoint=str(uuid4())) == set()

        one = api.get(f"{HOOKS}/deliveries/{finalized['id']}", headers=manager).json()
        (attempt,) = one["attempts"]  # the receiver was down (500 or 503, as they came)
        assert attempt["statusCode"] == finalized["lastStatusCode"] in (500, 503)
        assert one["payload"]["type"] == "order.finalized"
        assert one["payload"]["data"]["order"]["orderNumber"] == placed["orderNumber"]

        # One sent again: due now, and the receiver (back up) gets it.
        again = act(api, manager, f"{HOOKS}/deliveries/{finalized['id']}/redeliver")
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "pending" and again.json()["attemptCount"] == 1
        received = receiver.wait_for(4)
        assert received[3].json["type"] == "order.finalized"
        first = next(r for r in received[:3] if r.json["type"] == "order.finalized")
        assert received[3].event_id == first.event_id  # the same event, again
        assert received[3].body == first.body
        done = wait_until(lambda: (lambda d: d if d["status"] == "succeeded" else None)(
            api.get(f"{HOOKS}/deliveries/{finalized['id']}", headers=manager).json()))
        assert [a["statusCode"] for a in done["attempts"]] == [attempt["statusCode"], 200]
        assert [a["number"] for a in done["attempts"]] == [1, 2]
        assert done["attemptCount"] == 2

        # Every failing one (the given-up one and the one waiting for its retry).
        key = str(uuid4())
        failing = act(api, manager, f"{HOOKS}/deliveries/redeliver-failed", {}, key=key)
        assert failing.status_code == 200, failing.text
        assert failing.json() == {"redelivered": 2, "waitingForPausedEndpoints": 0}
        received = receiver.wait_for(6)
        assert sorted(r.json["type"] for r in received[4:]) == ["stock.adjusted"] * 2
        replay = act(api, manager, f"{HOOKS}/deliveries/redeliver-failed", {}, key=key)
        assert replay.json() == failing.json()
        assert replay.headers["idempotent-replayed"] == "true"
        wait_until(lambda: ids(status="succeeded") == {d["id"] for d in listed})
        time.sleep(0.3)
        assert len(receiver.requests()) == 6  # nothing sent twice

    stock_event = next(r for r in received if r.json["type"] == "stock.adjusted"
                       and r.json["data"]["change"] == "5")
    assert {k: stock_event.json["data"][k] for k in (
        "productReference", "variantReference", "sku", "change", "onHand", "reason")} == {
        "productReference": "trail-map", "variantReference": None, "sku": "MAP-ALPS",
        "change": "5", "onHand": "65", "reason": "received"}

    audit = rows(demo_db_url, "SELECT action, order_id, actor_name, detail FROM "
                              "audit_entries WHERE action LIKE 'webhook.%' ORDER BY created_at")
    assert [a.action for a in audit] == ["webhook.redelivered", "webhook.redelivered_failed"]
    assert UUID(str(audit[0].order_id)) == UUID(placed["id"])
    assert audit[0].actor_name == "back office"
    assert as_dict(audit[0].detail)["previousStatus"] == "pending"
    assert as_dict(audit[1].detail)["count"] == 2


def test_a_paused_endpoint_and_who_may_see_what(demo_db_url: str, api: TestClient,
                                                manager: dict[str, str]) -> None:
    with Receiver(answers=[500]).running() as receiver:
        endpoint = register(demo_db_url, receiver.url, "*")
        global_endpoint = register(demo_db_url, "https://erp.example/hooks", "*", store=None,
                                   active=False)
        place_order(api)
        receiver.wait_for(1)
        (delivery,) = wait_until(lambda: [
            d for d in api.get(f"{HOOKS}/deliveries", headers=manager,
                               params={"endpoint": endpoint}).json()["deliveries"]
            if d["attemptCount"] == 1])

    async def pause(db: Database) -> None:
        await WebhookEndpoints(SqlWebhookStorage(db)).set_active(UUID(endpoint), False)
    run(demo_db_url, pause)
    paused = act(api, manager, f"{HOOKS}/deliveries/{delivery['id']}/redeliver")
    assert paused.status_code == 409, paused.text
    assert "paused" in paused.json()["detail"]
    every = act(api, manager, f"{HOOKS}/deliveries/redeliver-failed",
                {"endpoint": endpoint})
    assert every.json() == {"redelivered": 0, "waitingForPausedEndpoints": 1}

    listed = api.get(f"{HOOKS}/endpoints", headers=manager)
    assert listed.status_code == 200
    assert {e["id"] for e in listed.json()["endpoints"]} == {endpoint, global_endpoint}
    assert SECRET not in listed.text and "secret" not in listed.text

    # A token for another store: the endpoint of every store, none of demo's deliveries.
    elsewhere = bearer(issue_token(demo_db_url, "owner", stores=[uuid4()]))
    assert [e["id"] for e in api.get(f"{HOOKS}/endpoints", headers=elsewhere
                                     ).json()["endpoints"]] == [global_endpoint]
    assert api.get(f"{HOOKS}/deliveries", headers=elsewhere).json()["deliveries"] == []
    assert api.get(f"{HOOKS}/deliveries/{delivery['id']}", headers=elsewhere
                   ).status_code == 404
    assert act(api, elsewhere, f"{HOOKS}/deliveries/{delivery['id']}/redeliver"
               ).status_code == 404
    assert act(api, elsewhere, f"{HOOKS}/deliveries/redeliver-failed",
               {"endpoint": endpoint}).status_code == 404

    support = bearer(issue_token(demo_db_url, "support"))
    assert api.get(f"{HOOKS}/deliveries/{delivery['id']}", headers=support
                   ).status_code == 200
    assert act(api, support, f"{HOOKS}/deliveries/{delivery['id']}/redeliver"
               ).status_code == 403
    fulfilment = bearer(issue_token(demo_db_url, "fulfilment"))
    assert act(api, fulfilment, f"{HOOKS}/deliveries/redeliver-failed", {}
               ).status_code == 403
    assert api.get(f"{HOOKS}/deliveries", headers={"Api-Key": API_KEY}).status_code == 401


@pytest.mark.parametrize(("params", "status"), [
    ({"status": "lost"}, 400), ({"event": "order.finalised"}, 400),
    ({"endpoint": "nope"}, 400), ({"order": "42"}, 400), ({"cursor": "nope"}, 400),
    ({"limit": "0"}, 400), ({"limit": "500"}, 400),
])
def test_bad_filters_are_400(api: TestClient, manager: dict[str, str],
                             params: dict[str, str], status: int) -> None:
    answer = api.get(f"{HOOKS}/deliveries", headers=manager, params=params)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_unknown_deliveries_are_404(api: TestClient, manager: dict[str, str]) -> None:
    for delivery in (str(uuid4()), "not-an-id"):
        assert api.get(f"{HOOKS}/deliveries/{delivery}", headers=manager).status_code == 404
        assert act(api, manager, f"{HOOKS}/deliveries/{delivery}/redeliver"
                   ).status_code == 404
    assert act(api, manager, f"{HOOKS}/deliveries/redeliver-failed",
               {"endpoint": str(uuid4())}).status_code == 404
    assert act(api, manager, f"{HOOKS}/deliveries/redeliver-failed",
               {"endpoint": "x"}).status_code == 400


def test_deliveries_page_by_cursor(demo_db_url: str, api: TestClient,
                                   manager: dict[str, str]) -> None:
    register(demo_db_url, "http://127.0.0.1:9/never", "stock.adjusted")
    for _ in range(5):
        assert act(api, manager, f"{MANAGEMENT}/stores/demo/stock/trail-map/adjustments",
                   {"change": 1, "reason": "received"}).status_code == 201
    wait_until(lambda: len(api.get(f"{HOOKS}/deliveries", headers=manager
                                   ).json()["deliveries"]) == 5)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"{HOOKS}/deliveries", headers=manager, params=params).json()
        seen += [d["id"] for d in page["deliveries"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    created = [d["createdAt"] for d in api.get(f"{HOOKS}/deliveries", headers=manager
                                               ).json()["deliveries"]]
    assert len(seen) == len(set(seen)) == 5
    assert created == sorted(created, reverse=True)
