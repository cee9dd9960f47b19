"""Plumbing for the hosted checkout tests.

The simulated payment gateway and kasse each run as their own process on a free loopback
port, and talk to each other over real HTTP. A shopper's browser is a plain HTTP client
that follows no redirect by itself, so every hop is seen. The database is read directly,
the way an operator would look at it.
"""

from __future__ import annotations

import asyncio
import html
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID

import httpx
from sqlalchemy import select, update

from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import (
    checkout_attempts,
    orders,
    outbox_events,
    payment_events,
)
from kasse.demo import DEMO_STORE_FILE
from kasse.payments.testgateway.cards import APPROVE
from tests.conftest import API_KEY

API = "/umbraco/commerce/storefront/api"
CALLBACK = "/umbraco/commerce/payment/callback"
MERCHANT = "kasse-demo"
SECRET = "demo-signing-secret-change-me"
SHOP = "http://shop.test"
STORE_NAME = 'Kasse <Outfitters> & "Sons"'
"""The store's name in the imported copy: characters a page must escape, in every field
of the hand-over form that carries the name (the payment description)."""
LATE_DELAY = 1.0
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 15.0,
             interval: float = 0.05) -> T:
    """Polls ``probe`` until it returns something truthy, or fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# --- processes ----------------------------------------------------------------------------


def wait_healthy(url: str, process: subprocess.Popen[bytes], name: str, log_path: Path,
                 timeout: float = 60.0) -> None:
    """Waits until ``url`` answers 200; fails with the process's log if it dies first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{name} did not start:\n{log_path.read_text()}")
        time.sleep(0.1)


@contextmanager
def running(args: list[str], env: dict[str, str], log_path: Path, health_url: str,
            name: str) -> Iterator[subprocess.Popen[bytes]]:
    """A server process, healthy while the block runs, stopped after it."""
    log = log_path.open("w")
    process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(health_url, process, name, log_path)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def store_file(folder: Path, gateway_url: str) -> Path:
    """A copy of the demo store whose ``card`` method uses the gateway at ``gateway_url``."""
    text = DEMO_STORE_FILE.read_text(encoding="utf-8")
    replacements = {
        'GatewayUrl: ""': f'GatewayUrl: "{gateway_url}"',
        "name: Kasse Outfitters": "name: '" + STORE_NAME.replace("'", "''") + "'",
    }
    for old, new in replacements.items():
        assert text.count(old) == 1, f"the demo store file no longer has {old!r} once"
        text = text.replace(old, new)
    path = folder / "store.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Stack:
    kasse: str
    gateway: str
    db: DbReader
    card_method_id: str
    logs: Path

    def api(self) -> httpx.Client:
        """The storefront's server: Api-Key and Store on every request."""
        return httpx.Client(base_url=self.kasse + API, timeout=15,
                            headers={"Api-Key": API_KEY, "Store": "demo"})


@contextmanager
def run_stack(db_url: str, folder: Path) -> Iterator[Stack]:
    """The test gateway and a kasse server (one worker), wired to each other."""
    gateway_port, kasse_port = free_port(), free_port()
    gateway = f"http://127.0.0.1:{gateway_port}"
    kasse = f"http://127.0.0.1:{kasse_port}"
    gateway_args = [sys.executable, "-m", "kasse.payments.testgateway", "--host", "127.0.0.1",
                    "--port", str(gateway_port), "--merchant", f"{MERCHANT}:{SECRET}",
                    "--late-delay", str(LATE_DELAY), "--log-level", "warning"]
    env = {**os.environ, "KASSE_DATABASE_URL": db_url, "KASSE_API_KEYS": API_KEY,
           "KASSE_DATA_DIR": str(folder), "KASSE_PUBLIC_URL": kasse,
           "KASSE_LOG_LEVEL": "warning",
           # Every simulated shopper of the module comes from 127.0.0.1; the per-client
           # limit has its own tests.
           "KASSE_CHECKOUT_RATE_PER_MINUTE": "0"}
    with running(gateway_args, dict(os.environ), folder / "gateway.log",
                  f"{gateway}/health", "the test gateway"):
        loaded = subprocess.run(
            [sys.executable, "-m", "kasse", "import", str(store_file(folder, gateway))],
            env=env, capture_output=True, text=True, timeout=120, check=False)
        assert loaded.returncode == 0, f"import failed:\n{loaded.stdout}\n{loaded.stderr}"
        kasse_args = [sys.executable, "-m", "kasse", "serve", "--port", str(kasse_port),
                      "--workers", "1"]
        with running(kasse_args, env, folder / "kasse.log", f"{kasse}/health", "kasse"):
            with httpx.Client(base_url=kasse + API, timeout=15,
                              headers={"Api-Key": API_KEY, "Store": "demo"}) as client:
                method = client.get("/v1/paymentmethod/card")
                assert method.status_code == 200, method.text
                settings = client.get("/v1/store/demo").json()
                assert settings["name"] == STORE_NAME, settings
            yield Stack(kasse=kasse, gateway=gateway, db=DbReader(db_url),
                        card_method_id=str(method.json()["id"]), logs=folder)


# --- the database, as an operator sees it ---------------------------------------------------


class DbReader:
    def __init__(self, url: str) -> None:
        self.url = url

    def _run(self, statement: Any, *, write: bool = False) -> list[dict[str, Any]]:
        async def go() -> list[dict[str, Any]]:
            db = Database.from_url(self.url, pool_size=1)
            try:
                if write:
                    async with db.transaction() as conn:
                        await conn.execute(statement)
                    return []
                async with db.read() as conn:
                    result = await conn.execute(statement)
                    return [dict(row._mapping) for row in result]
            finally:
                await db.dispose()

        return asyncio.run(go())

    def attempts(self, order_id: str) -> list[dict[str, Any]]:
        return self._run(select(checkout_attempts)
                         .where(checkout_attempts.c.order_id == UUID(order_id))
                         .order_by(checkout_attempts.c.created_at))

    def references(self, order_id: str) -> list[str]:
        """The payment references the gateway knows this order's attempts by."""
        return [row["id"].hex for row in self.attempts(order_id)]

    def inbox(self, order_id: str) -> list[dict[str, Any]]:
        """Gateway events recorded for any checkout attempt of the order."""
        references = self.references(order_id)
        if not references:
            return []
        return self._run(select(payment_events)
                         .where(payment_events.c.reference.in_(references))
                         .order_by(payment_events.c.received_at))

    def event(self, event_id: str) -> list[dict[str, Any]]:
        return self._run(select(payment_events).where(payment_events.c.event_id == event_id))

    def outbox(self, order_id: str, topic: str = "order.finalized") -> list[dict[str, Any]]:
        return self._run(select(outbox_events)
                         .where(outbox_events.c.aggregate_id == UUID(order_id),
                                outbox_events.c.topic == topic))

    def order(self, order_id: str) -> dict[str, Any]:
        rows = self._run(select(orders).where(orders.c.id == UUID(order_id)))
        assert len(rows) == 1
        return rows[0]

    def expire(self, attempt_id: UUID) -> None:
        past = datetime.now(UTC) - timedelta(days=1)
        self._run(update(checkout_attempts).where(checkout_attempts.c.id == attempt_id)
                  .values(expires_at=past), write=True)


# --- HTML ------------------------------------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(values.get("action", ""), values.get("method", "get")))
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1].fields[values["name"]] = values.get("value", "")
        elif tag == "button" and self.forms and values.get("name"):
            self.forms[-1].buttons.append((values["name"], values.get("value", "")))


def forms(page: str) -> list[Form]:
    parser = _Forms()
    parser.feed(page)
    parser.close()
    return parser.forms


def raw_attribute_values(page: str, name: str) -> list[str]:
    """The ``value`` attribute of every input called ``name``, exactly as written."""
    out = []
    marker = f'name="{html.escape(name)}" value="'
    start = page.find(marker)
    while start >= 0:
        begin = start + len(marker)
        out.append(page[begin:page.index('"', begin)])
        start = page.find(marker, begin)
    return out


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


# --- the shopper and the storefront ----------------------------------------------------------


@dataclass
class Journey:
    """One trip to the gateway: what the shopper saw on the way."""

    order_id: str
    token: str
    pay_url: str
    payment_id: str = ""
    return_url: str = ""
    landing: httpx.Response | None = None


class Shopper:
    """A browser that never follows a redirect by itself, plus the storefront's server."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.browser = httpx.Client(follow_redirects=False, timeout=15)
        self.api = stack.api()

    def close(self) -> None:
        self.browser.close()
        self.api.close()

    # storefront (server side, Api-Key)

    def cart(self, items: tuple[tuple[str, int], ...] = (("trail-backpack", 1),),
             payment: str = "card", shipping: str = "standard") -> str:
        created = self.api.post("/v1/orders", json={})
        assert created.status_code == 200, created.text
        order_id = str(created.json()["id"])
        for reference, quantity in items:
            self.add(order_id, reference, quantity)
        changed = self.api.patch(f"/v1/order/{order_id}",
                                 json={"paymentMethod": payment, "shippingMethod": shipping})
        assert changed.status_code == 200, changed.text
        return order_id

    def add(self, order_id: str, reference: str, quantity: int) -> None:
        added = self.api.post(f"/v1/order/{order_id}",
                              json={"productReference": reference, "quantity": quantity})
        assert added.status_code == 200, added.text

    def order(self, order_id: str) -> dict[str, Any]:
        response = self.api.get(f"/v1/order/{order_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def stock(self, reference: str) -> Any:
        response = self.api.get("/v1/products", params={"productReference": reference})
        assert response.status_code == 200, response.text
        found = response.json()
        assert len(found) == 1, found
        return found[0]["stock"]

    # browser (no Api-Key)

    def token_response(self, order_id: str, mode: str | None = None,
                       origin: str | None = None) -> httpx.Response:
        headers = {"Store": "demo"}
        if mode:
            headers["Mode"] = mode
        if origin:
            headers["Origin"] = origin
        return self.browser.get(f"{self.stack.kasse}{API}/v1/checkout/{order_id}/token",
                                headers=headers)

    def token(self, order_id: str, mode: str | None = None,
              origin: str | None = None) -> Journey:
        response = self.token_response(order_id, mode, origin)
        assert response.status_code == 200, response.text
        body = response.json()
        return Journey(order_id, body["token"], body["payUrl"])

    def pay_page(self, journey: Journey) -> httpx.Response:
        return self.browser.get(journey.pay_url)

    def hand_over(self, journey: Journey) -> Form:
        """Opens the pay page and submits its form, as the page's script would."""
        page = self.pay_page(journey)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        (form,) = forms(page.text)
        assert form.method.upper() == "POST"
        return form

    def to_gateway(self, journey: Journey) -> str:
        """From the pay page to the gateway's card page; returns the card page's URL."""
        form = self.hand_over(journey)
        assert form.action == f"{self.stack.gateway}/pay", form.action
        created = self.browser.post(form.action, data=form.fields)
        assert created.status_code == 303, created.text
        card_url = created.headers["location"]
        assert card_url.startswith(f"{self.stack.gateway}/pay/"), card_url
        return card_url

    def submit(self, journey: Journey, card_url: str, *, card: str = APPROVE,
               webhook: str = "normal", action: str = "pay") -> str:
        """Fills the card page in and presses Pay (or Cancel); returns where it sends the
        shopper back to (the shopper has not gone there yet)."""
        page = self.browser.get(card_url)
        assert page.status_code == 200, page.text
        (form,) = forms(page.text)
        assert ("action", action) in form.buttons, form.buttons
        fields = {"card_number": card, "expiry": "12/39", "cvc": "123",
                  "holder": "Erika Mustermann", "webhook": webhook, "action": action}
        done = self.browser.post(form.action, data=fields)
        assert done.status_code == 303, done.text
        journey.return_url = done.headers["location"]
        journey.payment_id = query_of(journey.return_url)["payment_id"]
        return journey.return_url

    def come_back(self, journey: Journey, url: str | None = None) -> httpx.Response:
        journey.landing = self.browser.get(url or journey.return_url)
        return journey.landing

    def pay(self, order_id: str, *, card: str = APPROVE, webhook: str = "normal",
            action: str = "pay", mode: str | None = None, origin: str | None = None,
            come_back: bool = True) -> Journey:
        """Token, pay page, gateway, card page and (unless told not to) the way back."""
        journey = self.token(order_id, mode, origin)
        card_url = self.to_gateway(journey)
        self.submit(journey, card_url, card=card, webhook=webhook, action=action)
        if come_back:
            self.come_back(journey)
        return journey

    # the gateway's merchant API

    def gateway_payment(self, payment_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.stack.gateway}/api/payments/{payment_id}", timeout=15,
                             headers={"Authorization": f"Bearer {MERCHANT}:{SECRET}"})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body
