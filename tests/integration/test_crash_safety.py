"""kasse killed (SIGKILL) in the middle of 200 concurrent checkouts, hosted and inline,
then started again: nothing paid is lost, nothing happens twice.

The test gateway, a merchant's webhook endpoint and kasse (two workers) run as real
processes on loopback. Shoppers pay; half way through, kasse's whole process group is
killed and restarted on the same port. The gateway keeps retrying its webhooks, inline
storefronts retry their confirmations, and the webhook worker resumes from the outbox.
Then, read from the gateway, the receiver and the database:

* every payment the gateway approved has exactly one finalized order, and every inline
  confirmation that was answered 200 is a finalized order;
* order numbers are unique and no stock level is negative;
* every gateway event was recorded once and finalized at most one order;
* every outbox event reached the merchant's endpoint, correctly signed, and was
  processed there once (the receiver drops repeats by event id, as the README tells
  merchants to).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from kasse.adapters.db.database import Database
from kasse.payments.testgateway.cards import APPROVE
from tests.conftest import API_KEY
from tests.integration.hosted import (
    API,
    MERCHANT,
    SECRET,
    free_port,
    running,
    store_file,
    wait_healthy,
)
from tests.integration.webhook_receiver import Receiver

HOSTED = 100
INLINE = 100
KILL_AFTER = 70
"""Payments made (approved at the gateway or confirmed) before kasse is killed."""
WEBHOOK_SECRET = "crash-test-webhook-secret-0123456789"
HEADERS = {"Api-Key": API_KEY, "Store": "demo"}


# --- processes --------------------------------------------------------------------------


@dataclass
class Kasse:
    """kasse serve in its own process group, so that SIGKILL takes every worker."""

    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        with (self.log.parent / f"kasse-{self.starts}.log").open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kasse", "serve", "--port", str(self.port),
                 "--workers", "2"], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        wait_healthy(f"{self.url}/health", self.process, f"kasse (start {self.starts})",
                     self.log.parent / f"kasse-{self.starts}.log")

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@contextmanager
def stack(db_url: str, folder: Path, receiver_url: str) -> Iterator[tuple[Kasse, str]]:
    gateway_port, kasse_port = free_port(), free_port()
    gateway = f"http://127.0.0.1:{gateway_port}"
    env = {**os.environ, "KASSE_DATABASE_URL": db_url, "KASSE_API_KEYS": API_KEY,
           "KASSE_DATA_DIR": str(folder), "KASSE_PUBLIC_URL": f"http://127.0.0.1:{kasse_port}",
           "KASSE_LOG_LEVEL": "warning", "KASSE_CHECKOUT_RATE_PER_MINUTE": "0",
           "KASSE_WEBHOOK_POLL_SECONDS": "0.2", "KASSE_WEBHOOK_RETRY_BASE_SECONDS": "0.5"}
    gateway_args = [sys.executable, "-m", "kasse.payments.testgateway", "--host", "127.0.0.1",
                    "--port", str(gateway_port), "--merchant", f"{MERCHANT}:{SECRET}",
                    "--log-level", "warning"]
    with running(gateway_args, dict(os.environ), folder / "gateway.log",
                  f"{gateway}/health", "the test gateway"):
        for args in (["import", str(store_file(folder, gateway))],
                     ["webhook", "add", "--url", receiver_url, "--events", "*",
                      "--secret", WEBHOOK_SECRET]):
            done = subprocess.run([sys.executable, "-m", "kasse", *args], env=env,
                                  capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 0, f"kasse {args[0]}:\n{done.stdout}\n{done.stderr}"
        kasse = Kasse(kasse_port, env, folder / "kasse.log")
        kasse.start()
        try:
            yield kasse, gateway
        finally:
            kasse.stop()


# --- shoppers ---------------------------------------------------------------------------


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
        elif tag == "input" and self.action is not None and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")


def _form(page: str) -> tuple[str, dict[str, str]]:
    parser = _Form()
    parser.feed(page)
    assert parser.action, page[:500]
    return parser.action, parser.fields


@dataclass
class Run:
    kasse: Kasse
    gateway: str
    paid: int = 0
    """Payments approved at the gateway or confirmed: the kill comes after KILL_AFTER."""
    killed: asyncio.Event = field(default_factory=asyncio.Event)
    restarted: asyncio.Event = field(default_factory=asyncio.Event)
    confirmed: dict[str, str] = field(default_factory=dict)
    """Inline order id -> the transaction id whose confirm was answered 200."""
    hosted_orders: list[str] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)

    async def paid_one(self) -> None:
        self.paid += 1
        if self.paid == KILL_AFTER and not self.killed.is_set():
            self.killed.set()
            await asyncio.to_thread(self.kasse.kill)
            await asyncio.sleep(1.0)  # down for a while: gateway webhooks fail meanwhile
            await asyncio.to_thread(self.kasse.start)
            self.restarted.set()

    async def call(self, http: httpx.AsyncClient, method: str, url: str, **kw: Any
                   ) -> httpx.Response:
        """A call to kasse that, like a storefront's server, tries again while kasse is
        down; a repeat is safe for every call made here."""
        for _ in range(300):
            try:
                return await http.request(method, url, **kw)
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        raise AssertionError(f"kasse did not come back for {method} {url}")


async def _cart(run: Run, http: httpx.AsyncClient, payment: str, extra: bool) -> str:
    kasse = run.kasse.url + API
    order_id: str = (await run.call(http, "POST", f"{kasse}/v1/orders", json={},
                                    headers=HEADERS)).json()["id"]
    lines = [("camp-mug", 1)] + ([("first-aid-kit", 1)] if extra else [])
    for product, quantity in lines:
        await run.call(http, "POST", f"{kasse}/v1/order/{order_id}", headers=HEADERS,
                       json={"productReference": product, "quantity": quantity})
    await run.call(http, "PATCH", f"{kasse}/v1/order/{order_id}", headers=HEADERS,
                   json={"paymentMethod": payment, "shippingMethod": "standard"})
    return order_id


async def inline_shopper(run: Run, http: httpx.AsyncClient, number: int) -> None:
    order_id = await _cart(run, http, "invoicing", extra=number % 4 == 0)
    kasse = run.kasse.url + API
    ready = await run.call(http, "GET", f"{kasse}/v1/checkout/{order_id}/initialize",
                           headers=HEADERS)
    if ready.status_code != 200:  # e.g. the first aid kits are sold out
        run.refused[ready.json().get("type", "?")] += 1
        return
    order = (await run.call(http, "GET", f"{kasse}/v1/order/{order_id}",
                            headers=HEADERS)).json()
    amount = order["transactionAmount"]["value"]["value"]
    transaction = f"inline-{number}"
    await run.paid_one()
    answer = await run.call(http, "POST", f"{kasse}/v1/checkout/{order_id}/confirm",
                            headers=HEADERS, json={"amount": amount,
                                                   "transactionId": transaction,
                                                   "paymentStatus": "Authorized"})
    assert answer.status_code == 200, answer.text
    run.confirmed[order_id] = transaction


async def hosted_shopper(run: Run, http: httpx.AsyncClient, number: int) -> None:
    order_id = await _cart(run, http, "card", extra=number % 4 == 0)
    kasse = run.kasse.url + API
    token = await run.call(http, "GET", f"{kasse}/v1/checkout/{order_id}/token",
                           headers={"Store": "demo"})
    if token.status_code != 200:
        run.refused[token.json().get("type", "?")] += 1
        return
    run.hosted_orders.append(order_id)
    pay_page = await run.call(http, "GET", token.json()["payUrl"])
    action, fields = _form(pay_page.text)
    created = await http.post(action, data=fields)
    card_url = created.headers["location"]
    card_page = await http.get(card_url)
    submit, _ = _form(card_page.text)
    if submit.startswith("/"):
        submit = run.gateway + submit
    paid = await http.post(submit, data={
        "card_number": APPROVE, "expiry": "12/39", "cvc": "123", "holder": "Crash Test",
        "webhook": "normal", "action": "pay"})
    assert paid.status_code == 303, paid.text
    await run.paid_one()
    if number % 2 == 0:  # half the shoppers come back; the others close the tab
        try:
            await http.get(paid.headers["location"])
        except httpx.TransportError:
            pass  # kasse was down: the webhook finalizes anyway


async def _drive(kasse: Kasse, gateway: str) -> Run:
    run = Run(kasse, gateway)
    limits = httpx.Limits(max_connections=60, max_keepalive_connections=60)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        gate = asyncio.Semaphore(40)

        async def shopper(kind: str, number: int) -> None:
            async with gate:
                await (hosted_shopper if kind == "hosted" else inline_shopper)(
                    run, http, number)

        await asyncio.gather(*[shopper("hosted", i) for i in range(HOSTED)],
                             *[shopper("inline", i) for i in range(INLINE)])
    assert run.killed.is_set() and run.restarted.is_set(), "kasse was never killed"
    return run


# --- what must hold afterwards --------------------------------------------------------


async def _query(url: str, sql: str) -> list[Any]:
    db = Database.from_url(url, pool_size=1)
    try:
        async with db.read() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await db.dispose()


def _rows(url: str, sql: str) -> list[Any]:
    return asyncio.run(_query(url, sql))


def _approved(gateway: str) -> dict[str, dict[str, Any]]:
    answer = httpx.get(f"{gateway}/api/payments", timeout=10,
                       headers={"Authorization": f"Bearer {MERCHANT}:{SECRET}"})
    return {p["reference"]: p for p in answer.json()["payments"]
            if p["status"] in ("authorized", "captured")}


def _wait(probe: Any, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def _id(value: Any) -> str:
    """Ids as the API writes them (SQLite keeps them without dashes)."""
    return str(value).replace("-", "").lower()


def _signed(received: Any) -> bool:
    stamp, _, given = received.headers["kasse-signature"].partition(",v1=")
    expected = hmac.new(WEBHOOK_SECRET.encode(), stamp.removeprefix("t=").encode() + b"."
                        + received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


def test_a_crash_in_the_middle_loses_nothing_and_repeats_nothing(demo_db_url: str,
                                                                tmp_path: Path) -> None:
    receiver = Receiver()
    with receiver.running(), stack(demo_db_url, tmp_path, receiver.url) as (kasse, gateway):
        run = asyncio.run(_drive(kasse, gateway))

        # The gateway retries its webhooks; kasse finalizes what was paid.
        def every_payment_placed() -> bool:
            approved = _approved(gateway)
            placed = _rows(demo_db_url, "SELECT count(*) FROM checkout_attempts a JOIN "
                                        "orders o ON o.id = a.order_id WHERE a.kind = "
                                        "'hosted' AND a.status = 'completed' AND "
                                        "o.finalized_at IS NOT NULL")[0][0]
            return len(approved) > 0 and placed == len(approved)

        _wait(every_payment_placed, "the approved payments to become orders")

        # The webhook worker delivers every outbox event to the merchant.
        def everything_delivered() -> bool:
            events = {_id(r[0]) for r in _rows(demo_db_url, "SELECT id FROM outbox_events")}
            seen = {_id(r.event_id) for r in receiver.received if r.status == 200}
            return bool(events) and events <= seen

        _wait(everything_delivered, "every outbox event to reach the merchant")
        approved = _approved(gateway)

    # Every approved payment: exactly one finalized order, paid by that payment.
    finalized = _rows(demo_db_url, "SELECT id, order_number, transaction_id FROM orders "
                                   "WHERE finalized_at IS NOT NULL")
    attempts = _rows(demo_db_url, "SELECT id, order_id, status FROM checkout_attempts "
                                  "WHERE kind = 'hosted'")
    order_of_reference = {_id(a[0]): _id(a[1]) for a in attempts}
    paid_orders = Counter(order_of_reference[_id(ref)] for ref in approved)
    assert all(count == 1 for count in paid_orders.values()), paid_orders.most_common(3)
    finalized_ids = {_id(r[0]) for r in finalized}
    assert set(paid_orders) <= finalized_ids
    assert len(approved) == len(paid_orders)

    # Every inline confirmation answered 200 is a finalized order with its transaction.
    by_id = {_id(r[0]): r for r in finalized}
    for order_id, transaction in run.confirmed.items():
        assert _id(order_id) in by_id and by_id[_id(order_id)][2] == transaction
    assert len(finalized_ids) == len(paid_orders) + len(run.confirmed)
    assert run.paid == len(paid_orders) + len(run.confirmed)

    # Unique order numbers, no negative stock, one finalization event per order.
    numbers = [r[1] for r in finalized]
    assert len(numbers) == len(set(numbers)) and None not in numbers
    assert _rows(demo_db_url, "SELECT count(*) FROM products WHERE stock < 0")[0][0] == 0
    assert _rows(demo_db_url, "SELECT count(*) FROM product_variants "
                              "WHERE stock < 0")[0][0] == 0
    per_order = Counter(_id(r[0]) for r in _rows(
        demo_db_url, "SELECT aggregate_id FROM outbox_events WHERE topic = 'order.finalized'"))
    assert set(per_order) == finalized_ids and set(per_order.values()) == {1}

    # Gateway events: each recorded once, none finalized an order twice.
    events = _rows(demo_db_url, "SELECT provider_alias, event_id, outcome FROM payment_events")
    assert len(events) == len({(e[0], e[1]) for e in events})
    assert sum(1 for e in events if e[2] == "finalized") <= len(paid_orders)

    # Merchant webhooks: every event arrived signed; processed once after dropping
    # repeats by event id (a delivery cut by the kill may be sent again).
    delivered = [r for r in receiver.received if r.status == 200]
    assert all(_signed(r) for r in delivered)
    processed = {_id(r.event_id) for r in delivered}
    outbox = _rows(demo_db_url, "SELECT count(*) FROM outbox_events")[0][0]
    assert len(processed) == outbox
    repeats = len(delivered) - len(processed)
    assert repeats <= 10, f"{repeats} repeated deliveries"
