"""The simulated payment gateway, driven over real HTTP like a shop and a shopper would.

The gateway runs in uvicorn on a real port; a second small app on another port receives
its webhooks and records them.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from kasse.payments.testgateway import (
    APPROVE,
    DECLINE,
    ERROR,
    WEBHOOK_SIGNATURE_HEADER,
    GatewayConfig,
    create_gateway_app,
    luhn_valid,
    sign_fields,
    sign_return,
    sign_webhook,
    verify_fields,
    verify_return,
    verify_webhook,
)
from kasse.payments.testgateway.cli import main

MERCHANT = "demo"
SECRET = "demo-signing-secret"
OTHER_MERCHANT = "other"
OTHER_SECRET = "other-signing-secret"
LATE_DELAY = 0.5
RETRY_DELAYS = (0.1, 0.1, 0.1)
SHOP = "https://shop.example"
OTHER_VALID_CARD = "5555555555554444"
RETURN_PARAMS = ("payment_id", "status", "reference", "amount", "currency", "t", "sig")


def _config(**overrides: Any) -> GatewayConfig:
    settings: dict[str, Any] = {
        "merchants": {MERCHANT: SECRET, OTHER_MERCHANT: OTHER_SECRET},
        "webhook_delay": 0.0, "late_delay": LATE_DELAY, "retry_delays": RETRY_DELAYS,
        "webhook_timeout": 5.0,
    }
    settings.update(overrides)
    return GatewayConfig(**settings)


def _wait_until(condition: Any, timeout: float = 5.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(interval)


class ThreadServer:
    """A uvicorn server on a free port of 127.0.0.1, running in a background thread."""

    def __init__(self, app: ASGIApp) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.socket]}, daemon=True)

    def start(self, health_path: str = "/health") -> ThreadServer:
        self.thread.start()

        def healthy() -> bool:
            try:
                return httpx.get(self.url + health_path, timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        _wait_until(healthy, timeout=10, interval=0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()
        assert not self.thread.is_alive()


@dataclass
class Delivery:
    token: str
    body: bytes
    headers: dict[str, str]
    at: float
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


class Receiver:
    """A merchant's webhook endpoint: ``POST /hook/{token}[?fail=N]`` records every
    delivery and answers 500 to the first N for that token."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deliveries: list[Delivery] = []
        self.counts: dict[str, int] = {}
        self.app = Starlette(routes=[
            Route("/health", self.health),
            Route("/hook/{token}", self.hook, methods=["POST"]),
        ])

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def hook(self, request: Request) -> Response:
        token = request.path_params["token"]
        body = await request.body()
        fail = int(request.query_params.get("fail", "0"))
        with self.lock:
            self.counts[token] = count = self.counts.get(token, 0) + 1
            answered = 500 if count <= fail else 200
            self.deliveries.append(Delivery(token, body, dict(request.headers),
                                            time.monotonic(), answered))
        return Response("no" if answered == 500 else "ok", status_code=answered)

    def of(self, token: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.token == token]

    def wait_for(self, token: str, count: int, timeout: float = 5.0) -> list[Delivery]:
        _wait_until(lambda: len(self.of(token)) >= count, timeout=timeout)
        return self.of(token)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    hooks = Receiver()
    server = ThreadServer(hooks.app).start()
    try:
        yield hooks, server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[Starlette, str]]:
    app = create_gateway_app(_config())
    server = ThreadServer(app).start()
    try:
        yield app, server.url
    finally:
        server.stop()
    assert not app.state.tasks


@pytest.fixture(scope="module")
def mounted_gateway() -> Iterator[str]:
    gateway_app = create_gateway_app(_config())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with gateway_app.router.lifespan_context(gateway_app):
            yield

    async def home(request: Request) -> Response:
        return JSONResponse({"shop": True})

    outer = Starlette(routes=[Route("/health", home), Mount("/gateway", app=gateway_app)],
                      lifespan=lifespan)
    server = ThreadServer(outer).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        yield client


class Shop:
    """The merchant side: signs payment forms and reads what comes back."""

    def __init__(self, http: httpx.Client, gateway_url: str, hooks_url: str) -> None:
        self.http = http
        self.gateway_url = gateway_url
        self.hooks_url = hooks_url
        self.token = secrets.token_hex(6)

    def form(self, secret: str = SECRET, **overrides: str) -> dict[str, str]:
        fields = {
            "merchant": MERCHANT,
            "reference": f"order-{self.token}",
            "amount": "123.45",
            "currency": "EUR",
            "description": "Order at the demo shop",
            "success_url": f"{SHOP}/checkout/success?order=7",
            "cancel_url": f"{SHOP}/checkout/cancel",
            "error_url": f"{SHOP}/checkout/error",
            "webhook_url": f"{self.hooks_url}/hook/{self.token}",
        }
        fields.update(overrides)
        fields["signature"] = sign_fields(secret, fields)
        return fields

    def start(self, **overrides: str) -> str:
        """Posts a signed payment form; the URL of the card page the shopper lands on."""
        response = self.http.post(f"{self.gateway_url}/pay", data=self.form(**overrides))
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        assert re.fullmatch(re.escape(self.gateway_url) + r"/pay/pay_[0-9a-f]{24}", location)
        return location

    def submit(self, page_url: str, card: str = APPROVE, webhook: str = "normal",
               action: str = "pay", **extra: str) -> httpx.Response:
        page = self.http.get(page_url)
        assert page.status_code == 200
        match = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert match is not None, page.text
        data = {"card_number": card, "expiry": "12/39", "cvc": "123", "holder": "Ada",
                "webhook": webhook, "action": action, **extra}
        return self.http.post(html.unescape(match.group(1)), data=data)

    def returned(self, response: httpx.Response, expected_base: str) -> dict[str, str]:
        """The signed query of a redirect back to the shop (checked against the secret)."""
        assert response.status_code == 303, response.text
        location = httpx.URL(response.headers["location"])
        query = dict(location.params)
        own = [(k, v) for k, v in location.params.multi_items() if k not in RETURN_PARAMS]
        assert str(location.copy_with(params=own or None)) == expected_base
        assert verify_return(SECRET, query)
        return query

    def api(self, method: str, path: str, credentials: str = f"{MERCHANT}:{SECRET}",
            **kwargs: Any) -> httpx.Response:
        return self.http.request(method, f"{self.gateway_url}/api/payments{path}",
                                 headers={"Authorization": f"Bearer {credentials}"}, **kwargs)


@pytest.fixture
def shop(http: httpx.Client, gateway: tuple[Starlette, str],
         receiver: tuple[Receiver, str]) -> Shop:
    return Shop(http, gateway[1], receiver[1])


@pytest.fixture
def hooks(receiver: tuple[Receiver, str]) -> Receiver:
    return receiver[0]


def _payment_id(page_url: str) -> str:
    return page_url.rsplit("/", 1)[1]


def _recorded_attempts(shop: Shop, payment_id: str, count: int) -> list[dict[str, Any]]:
    """The webhook attempts the gateway reports, once there are ``count`` of them (the
    receiver sees a delivery a moment before the gateway records its answer)."""
    found: list[dict[str, Any]] = []

    def recorded() -> bool:
        found[:] = shop.api("GET", f"/{payment_id}").json()["webhook_attempts"]
        return len(found) >= count

    _wait_until(recorded)
    return found


def _assert_signed(delivery: Delivery) -> None:
    assert delivery.headers["content-type"] == "application/json"
    assert verify_webhook(SECRET, delivery.body, delivery.headers[WEBHOOK_SIGNATURE_HEADER.lower()])


# -- signing ---------------------------------------------------------------------------


def test_form_signature_covers_every_field_but_itself() -> None:
    fields = {"merchant": "m", "amount": "10.00", "reference": "r"}
    signed = {**fields, "signature": sign_fields("key", fields)}
    assert sign_fields("key", signed) == signed["signature"]
    assert verify_fields("key", signed)
    assert not verify_fields("other key", signed)
    assert not verify_fields("key", {**signed, "amount": "1.00"})
    assert not verify_fields("key", {**signed, "extra": "x"})
    assert not verify_fields("key", fields)  # no signature at all
    assert not verify_fields("key", {**signed, "signature": ""})
    # a line break could pass one field off as two: never accepted
    broken = {"merchant": "m\namount=1.00"}
    assert not verify_fields("key", {**broken, "signature": sign_fields("key", broken)})


def test_webhook_signature() -> None:
    body = b'{"id":"evt_1","type":"payment.authorized"}'
    now = 1_700_000_000
    header = sign_webhook("key", body, now)
    assert re.fullmatch(r"t=1700000000,v1=[0-9a-f]{64}", header)
    assert verify_webhook("key", body, header, now=now)
    assert verify_webhook("key", body, header, now=now + 299)
    assert not verify_webhook("key", body + b" ", header, now=now)  # tampered body
    assert not verify_webhook("wrong", body, header, now=now)  # wrong secret
    assert not verify_webhook("key", body, header, now=now + 301)  # stale
    assert not verify_webhook("key", body, header, now=now - 301)  # from the future
    assert verify_webhook("key", body, header, now=now + 1000, tolerance=1000)
    assert verify_webhook("key", body, sign_webhook("key", body, int(time.time())))
    forged_time = header.replace("t=1700000000", "t=1700000100")
    assert not verify_webhook("key", body, forged_time, now=now + 100)
    for garbled in (None, "", "v1=abc", "t=1700000000", "t=abc,v1=00", "nonsense",
                    "t=1700000000,v1=" + "0" * 64, "t=" + "9" * 5000 + ",v1=00"):
        assert not verify_webhook("key", body, garbled, now=now)


def test_return_signature() -> None:
    now = 1_700_000_000
    query = {"payment_id": "pay_1", "status": "authorized", "reference": "order-1",
             "amount": "12.50", "currency": "EUR", "t": str(now),
             "sig": sign_return("key", "pay_1", "authorized", "order-1", now, "12.50", "EUR")}
    assert verify_return("key", query, now=now)
    assert verify_return("key", query, now=now + 3600)
    assert not verify_return("key", query, now=now + 3601)
    assert not verify_return("other", query, now=now)
    assert not verify_return("key", {**query, "status": "captured"}, now=now)
    assert not verify_return("key", {**query, "reference": "order-2"}, now=now)
    assert not verify_return("key", {**query, "amount": "1250"}, now=now)
    assert not verify_return("key", {**query, "currency": "JPY"}, now=now)
    assert not verify_return("key", {**query, "t": str(now + 1)}, now=now)
    assert not verify_return("key", {**query, "t": "soon"}, now=now)
    assert not verify_return("key", {k: v for k, v in query.items() if k != "sig"}, now=now)


def test_test_cards_pass_the_luhn_check() -> None:
    for number in (APPROVE, DECLINE, ERROR, OTHER_VALID_CARD):
        assert luhn_valid(number)
    assert not luhn_valid("4242424242424241")
    assert not luhn_valid("4242")
    assert not luhn_valid("42424242424242a2")


# -- the payment form ------------------------------------------------------------------


def test_payment_form_must_be_signed(shop: Shop) -> None:
    tampered = shop.form()
    tampered["amount"] = "1.00"
    response = shop.http.post(f"{shop.gateway_url}/pay", data=tampered)
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]
    assert "signature" in response.text

    unsigned = shop.form()
    del unsigned["signature"]
    assert shop.http.post(f"{shop.gateway_url}/pay", data=unsigned).status_code == 400

    wrong_secret = shop.form(secret=OTHER_SECRET)
    assert shop.http.post(f"{shop.gateway_url}/pay", data=wrong_secret).status_code == 400

    stranger = shop.form(merchant="<b>nobody</b>")
    response = shop.http.post(f"{shop.gateway_url}/pay", data=stranger)
    assert response.status_code == 400
    assert "&lt;b&gt;nobody&lt;/b&gt;" in response.text
    assert "<b>nobody" not in response.text


@pytest.mark.parametrize(("field", "value", "complaint"), [
    ("amount", "0", "amount"),
    ("amount", "12.3456", "amount"),
    ("amount", "-5", "amount"),
    ("currency", "EURO", "currency"),
    ("reference", "r" * 201, "reference"),
    ("reference", "", "reference is missing"),
    ("success_url", "/relative/path", "success_url"),
    ("webhook_url", "ftp://shop.example/hook", "webhook_url"),
])
def test_invalid_fields_are_explained(shop: Shop, field: str, value: str,
                                      complaint: str) -> None:
    response = shop.http.post(f"{shop.gateway_url}/pay", data=shop.form(**{field: value}))
    assert response.status_code == 400
    assert complaint in response.text


def test_card_page_escapes_what_it_shows(shop: Shop) -> None:
    page_url = shop.start(description="<script>alert(1)</script>",
                          reference="r&<\"'>", amount="5.5")
    page = shop.http.get(page_url)
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "r&amp;&lt;&#34;&#39;&gt;" in page.text
    for number in (APPROVE, DECLINE, ERROR):
        assert number in page.text
    assert 'name="action" value="pay"' in page.text
    assert 'name="action" value="cancel"' in page.text
    for behaviour in ("normal", "late", "twice", "before-return", "out-of-order", "none"):
        assert f'value="{behaviour}"' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    assert stylesheet is not None
    css = shop.http.get(stylesheet.group(1))
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_unknown_payment_is_404(shop: Shop) -> None:
    page = shop.http.get(f"{shop.gateway_url}/pay/pay_{'0' * 24}")
    assert page.status_code == 404
    assert "not found" in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    submit = shop.http.post(f"{shop.gateway_url}/pay/pay_{'0' * 24}/submit",
                            data={"card_number": APPROVE})
    assert submit.status_code == 404


# -- outcomes --------------------------------------------------------------------------


def test_approved_card_returns_to_success_url_and_sends_a_webhook(
        shop: Shop, hooks: Receiver) -> None:
    page_url = shop.start()
    response = shop.submit(page_url, card="4242 4242-4242 4242")
    query = shop.returned(response, f"{SHOP}/checkout/success?order=7")
    assert query["order"] == "7"  # the shop's own query survives
    assert query["status"] == "authorized"
    assert query["payment_id"] == _payment_id(page_url)
    assert query["reference"] == f"order-{shop.token}"

    [delivery] = hooks.wait_for(shop.token, 1)
    _assert_signed(delivery)
    event = delivery.event
    assert re.fullmatch(r"evt_[0-9a-f]{24}", event["id"])
    assert event["type"] == "payment.authorized"
    assert isinstance(event["created"], int)
    assert event["data"] == {
        "payment_id": _payment_id(page_url), "reference": f"order-{shop.token}",
        "merchant": MERCHANT, "amount": "123.45", "currency": "EUR", "status": "authorized",
        "fee": "0.00", "captured_amount": "0.00", "refunded_amount": "0.00",
    }
    assert not verify_webhook(OTHER_SECRET, delivery.body,
                              delivery.headers[WEBHOOK_SIGNATURE_HEADER.lower()])

    # the finished payment shows its outcome instead of the form
    page = shop.http.get(page_url)
    assert "Payment authorized" in page.text
    assert 'name="card_number"' not in page.text


@pytest.mark.parametrize(("card", "status"), [
    (DECLINE, "declined"), (ERROR, "error"), (OTHER_VALID_CARD, "declined")])
def test_declines_and_errors_return_to_error_url(shop: Shop, hooks: Receiver, card: str,
                                                 status: str) -> None:
    response = shop.submit(shop.start(), card=card)
    assert shop.returned(response, f"{SHOP}/checkout/error")["status"] == status
    [delivery] = hooks.wait_for(shop.token, 1)
    _assert_signed(delivery)
    assert delivery.event["type"] == f"payment.{status}"


def test_cancel_returns_to_cancel_url(shop: Shop, hooks: Receiver) -> None:
    response = shop.submit(shop.start(), card="", action="cancel")
    assert shop.returned(response, f"{SHOP}/checkout/cancel")["status"] == "cancelled"
    assert hooks.wait_for(shop.token, 1)[0].event["type"] == "payment.cancelled"


def test_invalid_card_number_shows_the_form_again(shop: Shop, hooks: Receiver) -> None:
    page_url = shop.start()
    for bad in ("4242424242424241", "not a card", ""):
        response = shop.submit(page_url, card=bad)
        assert response.status_code == 400
        assert "text/html" in response.headers["content-type"]
        assert 'name="card_number"' in response.text
        assert "card number" in response.text
    expired = shop.submit(page_url, card=APPROVE, expiry="01/20")
    assert expired.status_code == 400 and "expired" in expired.text
    assert hooks.of(shop.token) == []
    # still payable
    response = shop.submit(page_url, card=APPROVE)
    assert shop.returned(response, f"{SHOP}/checkout/success?order=7")["status"] == "authorized"


def test_second_submit_changes_nothing(shop: Shop, hooks: Receiver) -> None:
    page_url = shop.start()
    first = shop.returned(shop.submit(page_url, card=DECLINE), f"{SHOP}/checkout/error")
    hooks.wait_for(shop.token, 1)
    form_action = f"{page_url}/submit"
    again = shop.http.post(form_action, data={"card_number": APPROVE, "action": "pay"})
    second = shop.returned(again, f"{SHOP}/checkout/error")
    assert second["status"] == first["status"] == "declined"
    cancel = shop.http.post(form_action, data={"action": "cancel"})
    assert shop.returned(cancel, f"{SHOP}/checkout/error")["status"] == "declined"
    time.sleep(0.2)  # room for a wrong extra webhook to show up
    assert len(hooks.of(shop.token)) == 1
    payment = shop.api("GET", f"/{_payment_id(page_url)}").json()
    assert payment["status"] == "declined"


# -- webhook behaviours ----------------------------------------------------------------


def test_twice_delivers_the_same_event_twice(shop: Shop, hooks: Receiver) -> None:
    shop.submit(shop.start(), webhook="twice")
    first, second = hooks.wait_for(shop.token, 2)
    assert first.body == second.body
    assert first.event["id"] == second.event["id"]
    _assert_signed(first)
    _assert_signed(second)


def test_late_webhook_arrives_after_the_return(shop: Shop, hooks: Receiver) -> None:
    page_url = shop.start()
    started = time.monotonic()
    response = shop.submit(page_url, webhook="late")
    assert shop.returned(response, f"{SHOP}/checkout/success?order=7")
    assert hooks.of(shop.token) == []  # the shopper is back first
    [delivery] = hooks.wait_for(shop.token, 1)
    assert delivery.at - started >= LATE_DELAY
    assert delivery.event["type"] == "payment.authorized"


def test_before_return_webhook_arrives_before_the_redirect(shop: Shop,
                                                           hooks: Receiver) -> None:
    response = shop.submit(shop.start(), webhook="before-return")
    assert response.status_code == 303
    [delivery] = hooks.of(shop.token)
    _assert_signed(delivery)
    assert delivery.event["type"] == "payment.authorized"


def test_out_of_order_sends_a_stale_decline_after_the_authorization(
        shop: Shop, hooks: Receiver) -> None:
    shop.submit(shop.start(), webhook="out-of-order")
    authorized, declined = hooks.wait_for(shop.token, 2)
    assert authorized.event["type"] == "payment.authorized"
    assert declined.event["type"] == "payment.declined"
    assert declined.event["id"] != authorized.event["id"]
    assert declined.event["created"] == authorized.event["created"] - 1
    assert declined.event["data"]["payment_id"] == authorized.event["data"]["payment_id"]
    _assert_signed(declined)


def test_none_sends_no_webhook(shop: Shop, hooks: Receiver) -> None:
    page_url = shop.start()
    response = shop.submit(page_url, webhook="none")
    assert shop.returned(response, f"{SHOP}/checkout/success?order=7")
    time.sleep(0.2)
    assert hooks.of(shop.token) == []
    assert shop.api("GET", f"/{_payment_id(page_url)}").json()["webhook_attempts"] == []


def test_failed_deliveries_are_retried_with_the_same_event(shop: Shop,
                                                           hooks: Receiver) -> None:
    page_url = shop.start(webhook_url=f"{shop.hooks_url}/hook/{shop.token}?fail=2")
    shop.submit(page_url)
    deliveries = hooks.wait_for(shop.token, 3)
    assert [d.answered for d in deliveries] == [500, 500, 200]
    assert len({d.event["id"] for d in deliveries}) == 1
    for delivery in deliveries:
        _assert_signed(delivery)
    attempts = _recorded_attempts(shop, _payment_id(page_url), 3)
    assert [a["status_code"] for a in attempts] == [500, 500, 200]
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert all(a["event_id"] == deliveries[0].event["id"] for a in attempts)


def test_deliveries_give_up_after_the_last_retry(shop: Shop, hooks: Receiver) -> None:
    page_url = shop.start(webhook_url=f"{shop.hooks_url}/hook/{shop.token}?fail=100")
    shop.submit(page_url)
    hooks.wait_for(shop.token, len(RETRY_DELAYS) + 1)
    time.sleep(0.3)
    assert len(hooks.of(shop.token)) == len(RETRY_DELAYS) + 1


def test_unreachable_receiver_is_recorded(shop: Shop) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    page_url = shop.start(webhook_url=f"http://127.0.0.1:{port}/hook")
    shop.submit(page_url, webhook="before-return")  # first attempt fails, retries go on

    attempts = _recorded_attempts(shop, _payment_id(page_url), len(RETRY_DELAYS) + 1)
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4]
    assert all(a["status_code"] is None and a["error"] for a in attempts)


# -- server API ------------------------------------------------------------------------


def _authorized(shop: Shop, hooks: Receiver, **overrides: str) -> str:
    page_url = shop.start(**overrides)
    shop.submit(page_url)
    hooks.wait_for(shop.token, 1)
    _recorded_attempts(shop, _payment_id(page_url), 1)
    return _payment_id(page_url)


def test_capture_then_partial_and_full_refund(shop: Shop, hooks: Receiver) -> None:
    payment_id = _authorized(shop, hooks)
    payment = shop.api("GET", f"/{payment_id}").json()
    assert payment["status"] == "authorized"
    assert payment["captured_amount"] == "0.00"
    assert len(payment["webhook_attempts"]) == 1

    captured = shop.api("POST", f"/{payment_id}/capture")
    assert captured.status_code == 200
    assert captured.json()["status"] == "captured"
    assert captured.json()["captured_amount"] == "123.45"
    assert shop.api("POST", f"/{payment_id}/capture").status_code == 409
    assert shop.api("POST", f"/{payment_id}/cancel").status_code == 409

    too_much = shop.api("POST", f"/{payment_id}/refund", json={"amount": "200"})
    assert too_much.status_code == 400
    partly = shop.api("POST", f"/{payment_id}/refund", json={"amount": "23.45"})
    assert partly.json()["status"] == "partially_refunded"
    assert partly.json()["refunded_amount"] == "23.45"
    rest = shop.api("POST", f"/{payment_id}/refund", json={"amount": "100.00"})
    assert rest.json()["status"] == "refunded"
    assert rest.json()["refunded_amount"] == "123.45"
    over = shop.api("POST", f"/{payment_id}/refund", json={"amount": "0.01"})
    assert over.status_code == 409
    assert "error" in over.json()

    deliveries = hooks.wait_for(shop.token, 4)
    assert [d.event["type"] for d in deliveries] == [
        "payment.authorized", "payment.captured", "payment.partially_refunded",
        "payment.refunded"]
    assert len({d.event["id"] for d in deliveries}) == 4
    for delivery in deliveries:
        _assert_signed(delivery)


def test_partial_capture_and_refund_of_the_rest(shop: Shop, hooks: Receiver) -> None:
    payment_id = _authorized(shop, hooks)
    captured = shop.api("POST", f"/{payment_id}/capture", json={"amount": "100"})
    assert captured.json()["captured_amount"] == "100.00"
    refunded = shop.api("POST", f"/{payment_id}/refund")
    assert refunded.json()["status"] == "refunded"
    assert refunded.json()["refunded_amount"] == "100.00"
    bad = shop.api("POST", f"/{payment_id}/refund", content=b"not json")
    assert bad.status_code == 400


def test_cancel_an_authorization(shop: Shop, hooks: Receiver) -> None:
    payment_id = _authorized(shop, hooks)
    cancelled = shop.api("POST", f"/{payment_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert shop.api("POST", f"/{payment_id}/capture").status_code == 409
    assert shop.api("POST", f"/{payment_id}/refund").status_code == 409
    assert hooks.wait_for(shop.token, 2)[1].event["type"] == "payment.cancelled"


def test_wrong_state_is_409(shop: Shop, hooks: Receiver) -> None:
    page_url = shop.start()
    payment_id = _payment_id(page_url)
    for action in ("capture", "refund", "cancel"):  # not paid yet
        response = shop.api("POST", f"/{payment_id}/{action}")
        assert response.status_code == 409
        assert "created" in response.json()["error"]
    shop.submit(page_url, card=DECLINE)
    assert shop.api("POST", f"/{payment_id}/capture").status_code == 409


def test_api_needs_the_merchants_credentials(shop: Shop, hooks: Receiver) -> None:
    payment_id = _authorized(shop, hooks)
    for credentials in (f"{MERCHANT}:wrong", f"{MERCHANT}", "nobody:x", ":",
                        f"{OTHER_MERCHANT}:{SECRET}"):
        response = shop.api("GET", f"/{payment_id}", credentials=credentials)
        assert response.status_code == 401
        assert "error" in response.json()
    no_header = shop.http.get(f"{shop.gateway_url}/api/payments/{payment_id}")
    assert no_header.status_code == 401
    basic = shop.http.get(f"{shop.gateway_url}/api/payments/{payment_id}",
                          auth=(MERCHANT, SECRET))
    assert basic.status_code == 401
    # another merchant cannot see it
    other = f"{OTHER_MERCHANT}:{OTHER_SECRET}"
    assert shop.api("GET", f"/{payment_id}", credentials=other).status_code == 404
    assert shop.api("POST", f"/{payment_id}/capture", credentials=other).status_code == 404


def test_list_payments_by_reference(shop: Shop, hooks: Receiver) -> None:
    first = _payment_id(shop.start())
    second = _payment_id(shop.start())
    listed = shop.api("GET", "", params={"reference": f"order-{shop.token}"})
    assert listed.status_code == 200
    assert [p["payment_id"] for p in listed.json()["payments"]] == [first, second]
    other = f"{OTHER_MERCHANT}:{OTHER_SECRET}"
    mine_only = shop.api("GET", "", params={"reference": f"order-{shop.token}"},
                         credentials=other)
    assert mine_only.json()["payments"] == []


def test_health(shop: Shop) -> None:
    response = shop.http.get(f"{shop.gateway_url}/health")
    assert response.json() == {"status": "ok"}


# -- deployment ------------------------------------------------------------------------


def test_works_mounted_under_a_prefix(http: httpx.Client, mounted_gateway: str,
                                      receiver: tuple[Receiver, str]) -> None:
    hooks, hooks_url = receiver
    gateway_url = f"{mounted_gateway}/gateway"
    shop = Shop(http, gateway_url, hooks_url)
    page_url = shop.start()  # checks the redirect carries the prefix
    page = http.get(page_url)
    assert f'action="{page_url}/submit"' in page.text
    assert f'href="{gateway_url}/assets/gateway.css"' in page.text
    assert http.get(f"{gateway_url}/assets/gateway.css").status_code == 200
    response = shop.submit(page_url, webhook="before-return")
    assert shop.returned(response, f"{SHOP}/checkout/success?order=7")["status"] == "authorized"
    assert hooks.of(shop.token)[0].event["type"] == "payment.authorized"
    payment = shop.api("GET", f"/{_payment_id(page_url)}")
    assert payment.json()["status"] == "authorized"
    assert http.get(f"{gateway_url}/health").json() == {"status": "ok"}


def test_shutdown_cancels_pending_webhooks(http: httpx.Client,
                                           receiver: tuple[Receiver, str]) -> None:
    hooks, hooks_url = receiver
    app = create_gateway_app(_config(webhook_delay=60.0))
    server = ThreadServer(app).start()
    try:
        shop = Shop(http, server.url, hooks_url)
        shop.submit(shop.start())
        assert len(app.state.tasks) == 1
    finally:
        started = time.monotonic()
        server.stop()
    assert time.monotonic() - started < 5
    assert not app.state.tasks
    assert hooks.of(shop.token) == []


def test_command_line_rejects_a_merchant_without_secret() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--merchant", "demo"])
    assert exit_info.value.code == 2
