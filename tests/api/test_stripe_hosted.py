"""Stripe's hosted flow: a Checkout Session per payment attempt, through kasse's pay page.

localstripe has no Checkout Sessions, so Stripe's API is answered here by respx with
responses in the shape Stripe sends (``stripe_recordings/``), at the SDK's HTTP client:
every request kasse sends to Stripe is seen and checked. The webhooks are signed as
Stripe signs them and posted to kasse's callback endpoint.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from uuid import uuid4

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from kasse.adapters.config_file import read_config_file
from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.api.app import create_app
from kasse.services.store_import import import_store
from tests.api.conftest import BASE, make_settings
from tests.conftest import API_KEY
from tests.integration.hosted import DbReader, forms
from tests.integration.stripe_stack import (
    SECRET_KEY,
    SHOP,
    STORE,
    WEBHOOK_SECRET,
    cart,
    signed,
    write_store,
)
from tests.management import MANAGEMENT, bearer, issue_token

RECORDINGS = Path(__file__).resolve().parent / "stripe_recordings"
STRIPE = "https://api.stripe.com"
CALLBACK = "/umbraco/commerce/payment/callback/stripe-checkout"
INTENT = "pi_3SNkPzLd4rT8yU0i1aBcDeFg"


def recording(name: str, **values: str) -> dict[str, Any]:
    text = (RECORDINGS / f"{name}.json").read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def form_of(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


class FakeStripe:
    """Stripe's checkout session endpoint, answering from the recording."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.requests: list[httpx.Request] = []
        self.failures: list[httpx.Response] = []
        router.post(f"{STRIPE}/v1/checkout/sessions").mock(side_effect=self._session)
        self.refunds = router.post(f"{STRIPE}/v1/refunds")

    def _session(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failures:
            return self.failures.pop(0)
        sent = form_of(request)
        return httpx.Response(200, json=recording(
            "checkout_session_created", client_reference_id=sent["client_reference_id"],
            order_number=sent["metadata[orderNumber]"], success_url=sent["success_url"],
            cancel_url=sent["cancel_url"]), headers={"Request-Id": "req_recorded"})


@pytest.fixture
def shop(empty_db_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, FakeStripe, str]]:
    """kasse in process, the test store (capture at once), and Stripe answered by respx."""
    async def load() -> None:
        db = Database.from_url(empty_db_url)
        try:
            data = read_config_file(write_store(tmp_path, capture=True)).data
            await import_store(SqlStorage(db), data)
        finally:
            await db.dispose()

    asyncio.run(load())
    app = create_app(make_settings(empty_db_url, tmp_path))
    with respx.mock(assert_all_called=False) as router, TestClient(
            app, headers={"Api-Key": API_KEY, "Store": STORE},
            raise_server_exceptions=False) as client:
        yield client, FakeStripe(router), empty_db_url


class Api:
    """The TestClient under the Storefront base path (what ``cart`` expects)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(BASE + path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.post(BASE + path, **kw)

    def patch(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.patch(BASE + path, **kw)


def checkout(client: TestClient, currency: str = "EUR") -> tuple[str, str]:
    """A cart and its hosted checkout token: (order id, pay URL)."""
    order_id = cart(Api(client), currency)  # type: ignore[arg-type]
    token = client.get(f"{BASE}/v1/checkout/{order_id}/token", headers={"Api-Key": ""})
    assert token.status_code == 200, token.text
    pay_url: str = token.json()["payUrl"]
    return order_id, pay_url


def method_id(client: TestClient) -> str:
    found = client.get(f"{BASE}/v1/paymentmethod/stripe")
    assert found.status_code == 200, found.text
    return str(found.json()["id"])


def deliver(client: TestClient, event: dict[str, Any], **signing: Any) -> httpx.Response:
    body, headers = signed(event, **signing)
    return client.post(f"{CALLBACK}/{method_id(client)}", content=body, headers=headers)


def test_pay_page_sends_the_shopper_to_a_checkout_session(
        shop: tuple[TestClient, FakeStripe, str]) -> None:
    client, stripe, db_url = shop
    order_id, pay_url = checkout(client)
    page = client.get(pay_url, headers={"Api-Key": ""})
    assert page.status_code == 200, page.text
    (form,) = forms(page.text)
    session = recording("checkout_session_created", client_reference_id="x",
                        order_number="x", success_url="x", cancel_url="x")
    assert (form.action, form.method.upper(), form.fields) == (session["url"], "GET", {})
    assert SECRET_KEY not in page.text and WEBHOOK_SECRET not in page.text

    (request,) = stripe.requests
    (attempt,) = DbReader(db_url).attempts(order_id)
    reference = attempt["id"].hex
    sent = form_of(request)
    assert request.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    key = request.headers["Idempotency-Key"]
    assert key.startswith(f"kasse-{reference}-checkout-session-")
    order_number = client.get(f"{BASE}/v1/order/{order_id}").json()["orderNumber"]
    assert sent == {
        "mode": "payment",
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "eur",
        "line_items[0][price_data][unit_amount]": "5000",
        "line_items[0][price_data][product_data][name]":
            f"Stripe Test Shop order {order_number}",
        "client_reference_id": reference,
        "metadata[kasseReference]": reference,
        "metadata[orderNumber]": order_number,
        "payment_intent_data[capture_method]": "automatic",
        "payment_intent_data[description]": f"Stripe Test Shop order {order_number}",
        "payment_intent_data[metadata][kasseReference]": reference,
        "payment_intent_data[metadata][orderNumber]": order_number,
        "success_url": f"{pay_url}/completed",
        "cancel_url": f"{pay_url}/canceled",
        "customer_email": "erika@example.com",
    }
    # A reloaded pay page asks for the same session: Stripe answers with the first one.
    again = client.get(pay_url, headers={"Api-Key": ""})
    assert again.status_code == 200
    assert stripe.requests[1].headers["Idempotency-Key"] == key


def test_zero_decimal_currency(shop: tuple[TestClient, FakeStripe, str]) -> None:
    client, stripe, _ = shop
    _, pay_url = checkout(client, "JPY")
    assert client.get(pay_url, headers={"Api-Key": ""}).status_code == 200
    sent = form_of(stripe.requests[0])
    assert sent["line_items[0][price_data][currency]"] == "jpy"
    assert sent["line_items[0][price_data][unit_amount]"] == "6500"  # yen, not 650000


def test_checkout_session_completed_places_the_order(
        shop: tuple[TestClient, FakeStripe, str]) -> None:
    client, stripe, db_url = shop
    order_id, pay_url = checkout(client)
    assert client.get(pay_url, headers={"Api-Key": ""}).status_code == 200
    sent = form_of(stripe.requests[0])
    values = {"client_reference_id": sent["client_reference_id"],
              "order_number": sent["metadata[orderNumber]"],
              "success_url": sent["success_url"], "cancel_url": sent["cancel_url"]}

    # Back from Stripe before the webhook: nothing is proven yet, the order stays open.
    back = client.get(f"{pay_url}/completed", headers={"Api-Key": ""},
                      follow_redirects=False)
    assert back.status_code == 303
    assert back.headers["location"] == f"{SHOP}/confirmation"
    assert client.get(f"{BASE}/v1/order/{order_id}").json()["isFinalized"] is False

    completed = deliver(client, recording("checkout_session_completed_event", **values))
    assert completed.status_code == 200, completed.text
    assert completed.json()["outcome"] == "finalized"
    placed = client.get(f"{BASE}/v1/order/{order_id}").json()
    assert placed["isFinalized"] is True
    assert placed["transactionInfo"]["transactionId"] == INTENT
    assert placed["transactionInfo"]["paymentStatus"] == "Captured"
    assert placed["transactionInfo"]["authorizedAmount"]["value"] == 50.0

    # The payment intent's own event is the same payment: it changes nothing.
    succeeded = deliver(client, recording("payment_intent_succeeded_event", **values))
    assert succeeded.json()["outcome"] == "already_finalized"
    db = DbReader(db_url)
    assert len(db.outbox(order_id)) == 1
    assert [e["outcome"] for e in db.inbox(order_id)] == ["finalized", "already_finalized"]


def test_a_session_webhook_that_does_not_verify_changes_nothing(
        shop: tuple[TestClient, FakeStripe, str]) -> None:
    client, stripe, db_url = shop
    order_id, pay_url = checkout(client)
    client.get(pay_url, headers={"Api-Key": ""})
    sent = form_of(stripe.requests[0])
    event = recording("checkout_session_completed_event",
                      client_reference_id=sent["client_reference_id"],
                      order_number=sent["metadata[orderNumber]"], success_url="",
                      cancel_url="")
    for signing in ({"secret": "whsec_forged"}, {"timestamp": 1_700_000_000}):
        refused = deliver(client, event, **signing)
        assert refused.status_code == 401, refused.text
    assert DbReader(db_url).inbox(order_id) == []
    assert client.get(f"{BASE}/v1/order/{order_id}").json()["isFinalized"] is False


def test_stripe_failures_are_problems_not_crashes(
        shop: tuple[TestClient, FakeStripe, str]) -> None:
    client, stripe, _ = shop
    _, pay_url = checkout(client)
    # Stripe down: the SDK retries with the same key, then kasse answers 502.
    down = httpx.Response(500, json={"error": {"type": "api_error",
                                               "message": "An unknown error occurred"}})
    stripe.failures = [down, down, down]
    failed = client.get(pay_url, headers={"Api-Key": ""})
    assert failed.status_code == 502, failed.text
    assert failed.headers["content-type"] == "application/problem+json"
    assert len(stripe.requests) == 3
    assert len({r.headers["Idempotency-Key"] for r in stripe.requests}) == 1
    # Stripe refuses the request: a 400 the shop can act on, never a 500.
    stripe.failures = [httpx.Response(400, json={"error": {
        "type": "invalid_request_error", "code": "amount_too_small",
        "message": "Amount must be at least €0.50 eur"}})]
    refused = client.get(pay_url, headers={"Api-Key": ""})
    assert refused.status_code == 400, refused.text
    assert "Amount must be at least" in refused.json()["detail"]
    # And it works once Stripe does.
    assert client.get(pay_url, headers={"Api-Key": ""}).status_code == 200


def test_a_refund_stripe_refuses_is_a_conflict(
        shop: tuple[TestClient, FakeStripe, str]) -> None:
    client, stripe, db_url = shop
    order_id, pay_url = checkout(client)
    client.get(pay_url, headers={"Api-Key": ""})
    sent = form_of(stripe.requests[0])
    deliver(client, recording("checkout_session_completed_event",
                              client_reference_id=sent["client_reference_id"],
                              order_number=sent["metadata[orderNumber]"], success_url="",
                              cancel_url=""))
    stripe.refunds.mock(return_value=httpx.Response(400, json={"error": {
        "type": "invalid_request_error", "code": "charge_already_refunded",
        "message": "Charge ch_3SNkPzLd4rT8yU0i1hJkLmNo has already been refunded."}}))
    token = issue_token(db_url, "owner")
    refused = client.post(f"{MANAGEMENT}/orders/{order_id}/refunds", json={"amount": 20},
                          headers=bearer(token, **{"Idempotency-Key": "refund-1"}))
    assert refused.status_code == 409, refused.text
    assert "already been refunded" in refused.json()["detail"]
    refund = form_of(stripe.refunds.calls.last.request)
    assert refund["payment_intent"] == INTENT and refund["amount"] == "2000"
    key = stripe.refunds.calls.last.request.headers["Idempotency-Key"]
    assert key.startswith(f"kasse-{sent['client_reference_id']}-refund-1-")
    order = client.get(f"{BASE}/v1/order/{order_id}").json()
    assert order["transactionInfo"]["paymentStatus"] == "Captured"


def test_a_client_secret_needs_an_open_inline_checkout(
        shop: tuple[TestClient, FakeStripe, str]) -> None:
    client, _, _ = shop
    order_id = cart(Api(client))  # type: ignore[arg-type]
    url = f"{CALLBACK}/{method_id(client)}/{order_id}"

    def ask(kind: str = "paymentIntent", at: str = url) -> httpx.Response:
        return client.get(at, params={"create": kind}, headers={"Api-Key": ""})

    early = ask()
    assert early.status_code == 400, early.text
    assert "initialize the checkout" in early.json()["detail"]
    ready = client.get(f"{BASE}/v1/checkout/{order_id}/initialize")
    assert ready.status_code == 200, ready.text
    assert ready.json()["paymentMethod"]["urls"]["callback"].endswith(url)
    assert ask("setupIntent").status_code == 400
    assert ask(at=f"{CALLBACK}/{method_id(client)}/{uuid4()}").status_code == 404
    more = client.post(f"{BASE}/v1/order/{order_id}",
                       json={"productReference": "tea-set", "quantity": 1})
    assert more.status_code == 200, more.text
    changed = ask()
    assert changed.status_code == 400, changed.text
    assert changed.json()["type"].endswith("cart-changed")
