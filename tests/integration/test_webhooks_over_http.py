"""Merchant webhooks end to end: real ``kasse serve`` and ``kasse worker`` processes, a real
HTTP receiver on loopback, the endpoint registered with the real CLI, and the database
read the way an operator would."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import update
from standardwebhooks import Webhook, WebhookVerificationError

from kasse.adapters.db.tables import webhook_attempts, webhook_deliveries
from kasse.adapters.http.webhook_signature import verify
from tests.conftest import API_KEY
from tests.integration.hosted import Shopper, free_port, run_stack, wait_for
from tests.integration.test_webhook_delivery import database, demo_store_id, record_events, rows
from tests.integration.webhook_receiver import Receiver

API = "/umbraco/commerce/storefront/api"
SECRET = "whsec_for-the-tests-0123456789"


def kasse_env(db_url: str, folder: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "KASSE_DATABASE_URL": db_url, "KASSE_DATA_DIR": str(folder),
            "KASSE_API_KEYS": API_KEY, "KASSE_LOG_LEVEL": "info", "KASSE_LOG_FORMAT": "text",
            "KASSE_WEBHOOK_POLL_SECONDS": "0.2", **extra}


def cli(env: dict[str, str], *args: str) -> str:
    """``python -m kasse …`` as an operator runs it; returns what it printed."""
    done = subprocess.run([sys.executable, "-m", "kasse", *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, f"kasse {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def register(env: dict[str, str], url: str, events: str = "*") -> str:
    printed = cli(env, "webhook", "add", "--url", url, "--events", events, "--store", "demo",
                  "--secret", SECRET)
    assert SECRET not in printed  # a secret the operator chose is not echoed
    return printed.split()[2]  # "webhook endpoint <id> added: …"


@contextmanager
def process(args: list[str], env: dict[str, str], log_path: Path,
            ready: str | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A kasse process; with ``ready``, waits until its log says so (a worker has no port)."""
    with log_path.open("w") as log:
        child = subprocess.Popen([sys.executable, "-m", "kasse", *args], env=env, stdout=log,
                                 stderr=subprocess.STDOUT)
        try:
            if ready is not None:
                wait_for(lambda: ready in log_path.read_text() or child.poll() is not None,
                         f"{' '.join(args)} to start", timeout=60)
                assert child.poll() is None, log_path.read_text()
            yield child
        finally:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def worker(env: dict[str, str], log_path: Path) -> Any:
    return process(["worker"], env, log_path, ready="kasse worker delivers")


@contextmanager
def serving(env: dict[str, str], folder: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with process(["serve", "--port", str(port), "--workers", "2"], env,
                 folder / "server.log"):
        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, "kasse serve to answer", timeout=60, interval=0.1)
        yield url


def events_in_db(db_url: str, count: int) -> list[UUID]:
    async def go() -> list[UUID]:
        async with database(db_url) as db:
            return await record_events(db, await demo_store_id(db), count,
                                       at=datetime.now(UTC))
    return asyncio.run(go())


def table(db_url: str, which: Any, order: Any = None) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        async with database(db_url) as db:
            return await rows(db, which, order)
    return asyncio.run(go())


def expire_leases(db_url: str) -> None:
    """What time does to the lease of a worker that died: it runs out."""
    async def go() -> None:
        async with database(db_url) as db, db.transaction() as conn:
            await conn.execute(update(webhook_deliveries)
                               .where(webhook_deliveries.c.lease_owner.is_not(None))
                               .values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    asyncio.run(go())


def assert_signed(received: Any) -> None:
    assert verify(SECRET, received.body, received.headers["kasse-signature"])
    assert received.headers["content-type"] == "application/json"
    assert received.json["id"] == received.event_id


def inline_checkout(base_url: str) -> tuple[str, dict[str, Any]]:
    """A storefront's inline checkout, invoice payment: returns the order id and order."""
    with httpx.Client(base_url=base_url + API, timeout=15,
                      headers={"Api-Key": API_KEY, "Store": "demo"}) as api:
        order_id = api.post("/v1/orders", json={}).json()["id"]
        added = api.post(f"/v1/order/{order_id}",
                         json={"productReference": "trail-backpack", "quantity": 1})
        assert added.status_code == 200, added.text
        changed = api.patch(f"/v1/order/{order_id}", json={
            "customer": {"firstName": "Ada", "lastName": "Lovelace",
                         "email": "ada@example.com"},
            "billingAddress": {"line1": "Hauptstr. 1", "city": "Berlin", "zipCode": "10115",
                               "country": "DE"},
            "shippingAddress": {"sameAsBilling": True},
            "shippingMethod": "standard", "paymentMethod": "invoicing"})
        assert changed.status_code == 200, changed.text
        assert api.get(f"/v1/checkout/{order_id}/initialize").status_code == 200
        amount = changed.json()["transactionAmount"]["value"]["value"]
        confirmed = api.post(f"/v1/checkout/{order_id}/confirm", json={
            "amount": amount, "transactionId": "INV-1", "paymentStatus": "Authorized"})
        assert confirmed.status_code == 200, confirmed.text
        order: dict[str, Any] = api.get(f"/v1/order/{order_id}").json()
        store_id = api.get("/v1/store/demo").json()["id"]
        order["storeId"] = store_id
        return str(order_id), order


def test_a_finalized_order_reaches_the_merchant_once_signed(demo_db_url: str,
                                                            tmp_path: Path) -> None:
    env = kasse_env(demo_db_url, tmp_path)
    with Receiver().running() as receiver:
        endpoint_id = register(env, receiver.url, "order.finalized,order.payment_failed")
        with serving(env, tmp_path) as url:
            order_id, order = inline_checkout(url)
            (received,) = receiver.wait_for(1)
            time.sleep(1.5)  # both server workers poll several times meanwhile
            assert len(receiver.requests()) == 1

    assert_signed(received)
    body = received.json
    assert body["type"] == "order.finalized" and body["storeId"] == order["storeId"]
    assert body["data"]["orderId"] == order_id
    assert body["data"]["orderNumber"] == order["orderNumber"]
    assert Decimal(body["data"]["amount"]) == Decimal(
        str(order["transactionAmount"]["value"]["value"]))
    assert body["data"]["transactionId"] == "INV-1"
    created = datetime.fromisoformat(body["createdAt"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)

    (delivery,) = table(demo_db_url, webhook_deliveries)
    assert (delivery["status"], delivery["attempts"]) == ("succeeded", 1)
    assert received.headers["kasse-delivery-id"] == str(delivery["id"])
    assert str(delivery["endpoint_id"]) == endpoint_id
    (attempt,) = table(demo_db_url, webhook_attempts)
    assert (attempt["status_code"], attempt["response_body"]) == (200, '{"received":true}')

    report = cli(env, "webhook", "deliveries", "--attempts")
    assert str(delivery["id"]) in report and "succeeded" in report
    assert "order.finalized" in report and "#1" in report
    listed = cli(env, "webhook", "list")
    assert endpoint_id in listed and receiver.url in listed and SECRET not in listed


def test_a_receiver_that_fails_gets_the_same_event_again(demo_db_url: str,
                                                         tmp_path: Path) -> None:
    env = kasse_env(demo_db_url, tmp_path, KASSE_WEBHOOK_RETRY_BASE_SECONDS="0.3")
    with Receiver(answers=[500]).running() as receiver:
        register(env, receiver.url)
        with worker(env, tmp_path / "worker.log") as running:
            (event,) = events_in_db(demo_db_url, 1)
            first, second = receiver.wait_for(2)
            running.send_signal(signal.SIGTERM)
            assert running.wait(timeout=30) == 0  # a clean stop
    assert "kasse worker stopping" in (tmp_path / "worker.log").read_text()

    assert [first.status, second.status] == [500, 200]
    assert first.event_id == second.event_id == str(event)
    assert first.body == second.body  # the same document, signed afresh
    assert [first.headers["kasse-delivery-attempt"],
            second.headers["kasse-delivery-attempt"]] == ["1", "2"]
    for received in (first, second):
        assert_signed(received)
    (delivery,) = table(demo_db_url, webhook_deliveries)
    assert (delivery["status"], delivery["attempts"]) == ("succeeded", 2)
    attempts = table(demo_db_url, webhook_attempts, webhook_attempts.c.number)
    assert [(a["number"], a["status_code"]) for a in attempts] == [(1, 500), (2, 200)]
    gap = attempts[1]["attempted_at"] - attempts[0]["attempted_at"]
    assert gap >= timedelta(seconds=0.2)  # 0.3 s less at most a quarter of jitter


def test_a_standard_webhooks_endpoint_is_verified_by_the_receivers_library(
        demo_db_url: str, tmp_path: Path) -> None:
    env = kasse_env(demo_db_url, tmp_path, KASSE_WEBHOOK_RETRY_BASE_SECONDS="0.3")
    with Receiver(answers=[500]).running() as receiver:
        printed = cli(env, "webhook", "add", "--url", receiver.url, "--events", "*",
                      "--store", "demo", "--format", "standard")
        secret = printed.split("keep it with the receiver): ")[1].strip()
        with worker(env, tmp_path / "worker.log"):
            (event,) = events_in_db(demo_db_url, 1)
            first, second = receiver.wait_for(2)
    assert "standard" in cli(env, "webhook", "list")

    assert [first.status, second.status] == [500, 200]
    # A retry is the same message: receivers deduplicate by webhook-id.
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(event)
    assert first.body == second.body
    for received in (first, second):
        assert Webhook(secret).verify(received.body, received.headers)["id"] == str(event)
        assert "kasse-signature" not in received.headers
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(received.body.replace(b"ORDER-", b"ORDER-9"),
                                   received.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + "A" * 43 + "=").verify(received.body, received.headers)


def test_two_workers_deliver_each_event_exactly_once(demo_db_url: str,
                                                     tmp_path: Path) -> None:
    env = kasse_env(demo_db_url, tmp_path, KASSE_WEBHOOK_CONCURRENCY="4")
    with Receiver(delay=0.2).running() as receiver:
        register(env, receiver.url)
        with worker(env, tmp_path / "one.log"), worker(env, tmp_path / "two.log"):
            events = events_in_db(demo_db_url, 48)
            receiver.wait_for(48, timeout=60)
            time.sleep(1.5)  # anything sent twice would arrive meanwhile
            received = receiver.requests()

    assert sorted(r.event_id for r in received) == sorted(str(e) for e in events)
    deliveries = table(demo_db_url, webhook_deliveries)
    assert len(deliveries) == 48 and {d["status"] for d in deliveries} == {"succeeded"}
    attempts = table(demo_db_url, webhook_attempts)
    assert len(attempts) == 48
    assert len({a["worker"] for a in attempts}) == 2  # both did their share


def test_a_worker_killed_while_sending_is_taken_over(demo_db_url: str,
                                                    tmp_path: Path) -> None:
    env = kasse_env(demo_db_url, tmp_path)
    receiver = Receiver()
    receiver.hold.set()  # the first request hangs
    with receiver.running():
        register(env, receiver.url)
        with worker(env, tmp_path / "killed.log") as doomed:
            (event,) = events_in_db(demo_db_url, 1)
            wait_for(lambda: receiver.arrived, "the first worker's request")
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(timeout=30)

        (claimed,) = table(demo_db_url, webhook_deliveries)
        assert claimed["status"] == "pending" and claimed["lease_owner"] is not None
        assert claimed["attempts"] == 0  # the dead worker recorded nothing
        expire_leases(demo_db_url)
        receiver.release()
        with worker(env, tmp_path / "second.log"):
            wait_for(lambda: len(receiver.arrived) >= 2, "the delivery to be sent again")
            wait_for(lambda: table(demo_db_url, webhook_deliveries)[0]["status"] == "succeeded",
                     "the delivery to be recorded")

    first, again = receiver.arrived[:2]
    assert first == again  # the same event, at least once; receivers dedupe by its id
    assert str(event) in again.decode()
    (delivery,) = table(demo_db_url, webhook_deliveries)
    assert delivery["attempts"] == 1 and delivery["lease_owner"] is None


def test_a_cancelled_payment_is_reported_as_payment_failed(demo_db_url: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setenv("KASSE_WEBHOOK_POLL_SECONDS", "0.2")
    with Receiver().running() as receiver:
        register(kasse_env(demo_db_url, tmp_path), receiver.url,
                 "order.payment_failed,order.finalized")
        with run_stack(demo_db_url, tmp_path) as stack:
            shopper = Shopper(stack)
            try:
                order_id = shopper.cart()
                journey = shopper.pay(order_id, action="cancel")
                assert journey.return_url.split("?")[0].endswith("/canceled")
                (received,) = receiver.wait_for(1)
                time.sleep(2)  # the gateway's own cancel webhook reports it again
            finally:
                shopper.close()
            assert len(receiver.requests()) == 1

    assert_signed(received)
    assert received.json["type"] == "order.payment_failed"
    data = received.json["data"]
    assert data["orderId"] == order_id and data["paymentStatus"] == "Cancelled"
    assert data["checkout"] == "hosted" and data["orderNumber"].startswith("ORDER-")
