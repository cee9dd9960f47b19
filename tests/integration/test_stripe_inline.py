"""Stripe's inline flow against a running Stripe-compatible server (localstripe).

kasse, localstripe and the storefront talk over real HTTP: the storefront initializes,
asks kasse's callback URL for a PaymentIntent client secret, the shopper's card is
confirmed at "Stripe", and localstripe's signed webhook reaches kasse, which finalizes
the order (or finds it finalized by the storefront's ``confirm``: exactly once either
way). Then the shop captures and refunds through kasse.
"""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.conftest import API_KEY
from tests.integration.stripe_stack import (
    EUR_TOTAL,
    JPY_TOTAL,
    PUBLIC_KEY,
    SECRET_KEY,
    STORE,
    WEBHOOK_SECRET,
    StripeStack,
    cart,
    run_stripe_stack,
    signed,
    wait_until,
)
from tests.management import MANAGEMENT, bearer, issue_token


@pytest.fixture
def capturing(empty_db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A method that captures at once; localstripe delivers webhooks to kasse."""
    with run_stripe_stack(empty_db_url, tmp_path, capture=True) as stack:
        yield stack


@pytest.fixture
def authorizing(empty_db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A method that only authorizes (the shop captures later)."""
    with run_stripe_stack(empty_db_url, tmp_path, capture=False) as stack:
        yield stack


@pytest.fixture
def quiet(empty_db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Capture at once, but localstripe keeps its webhooks: the test delivers them."""
    with run_stripe_stack(empty_db_url, tmp_path, capture=True,
                          deliver_webhooks=False) as stack:
        yield stack


def initialize(api: httpx.Client, order_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/checkout/{order_id}/initialize")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def client_secret(callback: str) -> str:
    """What the storefront does: ``GET {urls.callback}?create=paymentIntent``."""
    response = httpx.get(callback, params={"create": "paymentIntent"}, timeout=15)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"clientSecret"}
    secret: str = body["clientSecret"]
    return secret


def intent_of(secret: str) -> str:
    return secret.split("_secret_")[0]


def pay_with_card(stack: StripeStack, intent_id: str) -> dict[str, Any]:
    """The shopper's card, confirmed with Stripe (what Stripe.js does in the browser)."""
    client = stack.stripe()
    client.v1.payment_intents.update(intent_id, {"payment_method": "pm_card_visa"})
    return client.v1.payment_intents.confirm(intent_id).to_dict()


def order(api: httpx.Client, order_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/order/{order_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def finalized(api: httpx.Client, order_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body = order(api, order_id)
        return body if body["isFinalized"] else None
    found: dict[str, Any] = wait_until(probe, f"order {order_id} to be finalized")
    return found


@pytest.mark.parametrize(("currency", "total", "minor"), [
    ("EUR", EUR_TOTAL, 5000),
    ("JPY", JPY_TOTAL, 6500),  # zero-decimal: whole yen, not 650000
])
def test_the_webhook_alone_places_the_order(capturing: StripeStack, currency: str,
                                            total: Decimal, minor: int) -> None:
    with capturing.api() as api:
        order_id = cart(api, currency)
        ready = initialize(api, order_id)
        method = ready["paymentMethod"]
        # Publishable key yes, secret key and signing secret never.
        assert method["settings"]["TestPublicKey"] == PUBLIC_KEY
        shown = json.dumps(ready)
        assert SECRET_KEY not in shown and WEBHOOK_SECRET not in shown
        assert "TestSecretKey" not in method["settings"]
        assert "TestWebhookSigningSecret" not in method["settings"]
        callback = method["urls"]["callback"]
        assert callback == f"{capturing.callback}/{order_id}"

        secret = client_secret(callback)
        assert client_secret(callback) == secret  # asking again: the same payment intent
        intent_id = intent_of(secret)
        intent = capturing.stripe().v1.payment_intents.retrieve(intent_id).to_dict()
        (attempt,) = capturing.db.attempts(order_id)
        assert intent["amount"] == minor
        assert intent["currency"] == currency.lower()
        assert intent["capture_method"] == "automatic"
        assert intent["metadata"]["kasseReference"] == attempt["id"].hex
        assert intent["metadata"]["orderNumber"] == ready["orderNumber"]

        paid = pay_with_card(capturing, intent_id)
        assert paid["status"] == "succeeded"
        # The storefront never confirms: localstripe's webhook places the order.
        placed = finalized(api, order_id)
        info = placed["transactionInfo"]
        assert info["transactionId"] == intent_id
        assert info["paymentStatus"] == "Captured"
        assert Decimal(str(info["authorizedAmount"]["value"])) == total
        (event,) = capturing.db.inbox(order_id)
        assert event["provider_alias"] == "stripe-checkout"
        assert event["outcome"] == "finalized"
        assert len(capturing.db.outbox(order_id)) == 1
        # Later the storefront does call confirm: answered like the first time.
        confirmed = api.post(f"/v1/checkout/{order_id}/confirm", json={
            "amount": float(total), "transactionId": intent_id, "paymentStatus": "Captured"})
        assert confirmed.status_code == 200, confirmed.text
        assert len(capturing.db.outbox(order_id)) == 1


def succeeded_event(stack: StripeStack, intent_id: str) -> dict[str, Any]:
    """The ``payment_intent.succeeded`` event localstripe recorded for this intent."""
    events = stack.stripe().v1.events.list({"type": "payment_intent.succeeded"}).to_dict()
    (event,) = [e for e in events["data"] if e["data"]["object"]["id"] == intent_id]
    found: dict[str, Any] = event
    return found


def race(stack: StripeStack, order_id: str, intent_id: str, body: bytes,
         headers: dict[str, str]) -> dict[str, httpx.Response]:
    """The webhook and the storefront's confirm, sent at the same moment."""
    start = threading.Barrier(2)
    answers: dict[str, httpx.Response] = {}

    def webhook() -> None:
        start.wait()
        answers["webhook"] = httpx.post(stack.callback, content=body, headers=headers,
                                        timeout=30)

    def confirm() -> None:
        with httpx.Client(base_url=stack.kasse + "/umbraco/commerce/storefront/api",
                          headers={"Api-Key": API_KEY, "Store": STORE}, timeout=30) as client:
            start.wait()
            answers["confirm"] = client.post(
                f"/v1/checkout/{order_id}/confirm",
                json={"amount": float(EUR_TOTAL), "transactionId": intent_id,
                      "paymentStatus": "Captured"})

    threads = [threading.Thread(target=webhook), threading.Thread(target=confirm)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_confirm_and_webhook_racing_place_the_order_once(quiet: StripeStack) -> None:
    with quiet.api() as api:
        for _ in range(3):
            order_id = cart(api)
            callback = initialize(api, order_id)["paymentMethod"]["urls"]["callback"]
            intent_id = intent_of(client_secret(callback))
            pay_with_card(quiet, intent_id)
            event = succeeded_event(quiet, intent_id)

            # Forged or replayed news is refused before any work: nothing is recorded.
            for body, headers in (signed(event, secret="whsec_not_the_shops"),
                                  signed(event, timestamp=int(time.time()) - 3600),
                                  (json.dumps(event).encode(), {})):
                refused = httpx.post(quiet.callback, content=body, headers=headers, timeout=15)
                assert refused.status_code == 401, refused.text
                assert refused.headers["content-type"] == "application/problem+json"
            assert quiet.db.inbox(order_id) == []
            assert order(api, order_id)["isFinalized"] is False

            # The storefront confirms while the webhook arrives.
            body, headers = signed(event)
            answers = race(quiet, order_id, intent_id, body, headers)
            assert answers["webhook"].status_code == 200, answers["webhook"].text
            assert answers["confirm"].status_code == 200, answers["confirm"].text
            assert answers["webhook"].json()["outcome"] in ("finalized", "already_finalized")
            placed = order(api, order_id)
            assert placed["isFinalized"] is True
            assert placed["transactionInfo"]["transactionId"] == intent_id
            assert len(quiet.db.outbox(order_id)) == 1  # one order.finalized
            # The same webhook again (Stripe retries) is a duplicate.
            again = httpx.post(quiet.callback, content=body, headers=headers, timeout=15)
            assert again.json()["outcome"] == "duplicate"


ACTIONS = {"capture": "capture", "refund": "refunds", "cancel": "cancel"}
"""The management API's action for each payment operation."""


def manage(stack: StripeStack, order_id: str, operation: str,
           amount: float | None = None) -> httpx.Response:
    """A payment operation through the management API, as the shop's owner."""
    # A token of its own each time: on PostgreSQL the tests reuse one database's name
    # after emptying it, so a token kept from an earlier test would be gone.
    token = issue_token(stack.db.url, "owner")
    return httpx.post(f"{stack.kasse}{MANAGEMENT}/orders/{order_id}/{ACTIONS[operation]}",
                      json={"amount": amount} if amount is not None else None,
                      headers=bearer(token, **{"Idempotency-Key": uuid4().hex}), timeout=30)


def authorized_order(stack: StripeStack, api: httpx.Client) -> tuple[str, str]:
    """An order paid by a card that was authorized, not captured, and confirmed."""
    order_id = cart(api)
    callback = initialize(api, order_id)["paymentMethod"]["urls"]["callback"]
    intent_id = intent_of(client_secret(callback))
    assert pay_with_card(stack, intent_id)["status"] == "requires_capture"
    confirmed = api.post(f"/v1/checkout/{order_id}/confirm", json={
        "amount": float(EUR_TOTAL), "transactionId": intent_id,
        "paymentStatus": "Authorized", "metaData": {"stripePaymentIntentId": intent_id}})
    assert confirmed.status_code == 200, confirmed.text
    return order_id, intent_id


def status_changes(stack: StripeStack, order_id: str) -> list[str]:
    rows = stack.db.outbox(order_id, "order.payment_status_changed")
    return [row["payload"]["paymentStatus"] for row in
            sorted(rows, key=lambda row: row["created_at"])]


def test_capture_then_refund_in_parts(authorizing: StripeStack) -> None:
    with authorizing.api() as api:
        order_id, intent_id = authorized_order(authorizing, api)
        assert order(api, order_id)["transactionInfo"]["paymentStatus"] == "Authorized"
        no_key = httpx.post(f"{authorizing.kasse}{MANAGEMENT}/orders/{order_id}/capture",
                            headers={"Api-Key": API_KEY, "Idempotency-Key": "k"},
                            timeout=15)
        assert no_key.status_code == 401  # a storefront key opens nothing there

        captured = manage(authorizing, order_id, "capture")
        assert captured.status_code == 200, captured.text
        assert captured.json()["paymentStatus"] == "Captured"
        assert (captured.json()["captured"], captured.json()["refundable"]) == ("50.00",
                                                                               "50.00")
        intent = authorizing.stripe().v1.payment_intents.retrieve(intent_id).to_dict()
        assert intent["status"] == "succeeded"
        assert order(api, order_id)["transactionInfo"]["paymentStatus"] == "Captured"
        # Stripe's payment_intent.succeeded follows the capture: old news by then.
        event = wait_until(lambda: authorizing.db.inbox(order_id), "the capture's webhook")
        assert event[0]["outcome"] == "already_finalized"

        twice = manage(authorizing, order_id, "capture")
        assert twice.status_code == 409, twice.text
        too_much = manage(authorizing, order_id, "refund", 50.01)
        assert too_much.status_code == 400, too_much.text

        part = manage(authorizing, order_id, "refund", 10.00)
        assert part.status_code == 201, part.text
        assert part.json()["paymentStatus"] == "PartiallyRefunded"
        assert (part.json()["refunded"], part.json()["refundable"]) == ("10.00", "40.00")
        assert part.json()["refund"]["operationId"].endswith("-refund-1")
        charge = authorizing.stripe().v1.payment_intents.retrieve(
            intent_id, {"expand": ["latest_charge"]}).to_dict()["latest_charge"]
        assert charge["amount_refunded"] == 1000

        # The rest from the command line.
        rest = authorizing.kasse_command("payment", "refund", order_id, "--store", STORE)
        assert rest.returncode == 0, rest.stderr
        assert "Refunded" in rest.stdout
        assert order(api, order_id)["transactionInfo"]["paymentStatus"] == "Refunded"
        stored = authorizing.db.order(order_id)
        assert (stored["captured_amount"], stored["refunded_amount"],
                stored["refund_pending_amount"]) == (EUR_TOTAL, EUR_TOTAL, 0)
        assert status_changes(authorizing, order_id) == [
            "Captured", "PartiallyRefunded", "Refunded"]

        again = authorizing.kasse_command("payment", "refund", order_id, "--store", STORE)
        assert again.returncode == 2
        assert "it is Refunded" in again.stderr


def test_cancel_voids_the_authorization(authorizing: StripeStack) -> None:
    with authorizing.api() as api:
        order_id, intent_id = authorized_order(authorizing, api)
        cancelled = authorizing.kasse_command("payment", "cancel", order_id, "--store", STORE)
        assert cancelled.returncode == 0, cancelled.stderr
        intent = authorizing.stripe().v1.payment_intents.retrieve(intent_id).to_dict()
        assert intent["status"] == "canceled"
        assert order(api, order_id)["transactionInfo"]["paymentStatus"] == "Cancelled"
        assert status_changes(authorizing, order_id) == ["Cancelled"]
        late = manage(authorizing, order_id, "capture")
        assert late.status_code == 409
        assert "was canceled" in late.json()["detail"]


def test_confirm_is_checked_with_stripe_before_it_places_an_order(quiet: StripeStack) -> None:
    """A made-up transaction, another order's payment, an unpaid one, a wrong amount or
    status: each refused with a 400 naming what Stripe says, and nothing placed."""
    with quiet.api() as api:
        other_id = cart(api)
        other_callback = initialize(api, other_id)["paymentMethod"]["urls"]["callback"]
        others_intent = intent_of(client_secret(other_callback))
        pay_with_card(quiet, others_intent)

        order_id = cart(api)
        callback = initialize(api, order_id)["paymentMethod"]["urls"]["callback"]
        intent_id = intent_of(client_secret(callback))

        def confirm(transaction: str, status: str = "Captured",
                    amount: Decimal = EUR_TOTAL) -> httpx.Response:
            return api.post(f"/v1/checkout/{order_id}/confirm", json={
                "amount": float(amount), "transactionId": transaction,
                "paymentStatus": status})

        refusals = {
            "pi_made_up_by_the_storefront": "knows no transaction",
            others_intent: "does not belong to this order",
            intent_id: "Initialized",  # not paid yet
        }
        for transaction, expected in refusals.items():
            refused = confirm(transaction)
            assert refused.status_code == 400, refused.text
            assert expected in refused.json()["detail"], refused.text
        pay_with_card(quiet, intent_id)
        for refused in (confirm(intent_id, amount=EUR_TOTAL + 1),
                        confirm(intent_id, status="Authorized")):
            assert refused.status_code == 400, refused.text
            assert intent_id in refused.json()["detail"], refused.text
        assert order(api, order_id)["isFinalized"] is False
        assert quiet.db.outbox(order_id) == []

        placed = confirm(intent_id)
        assert placed.status_code == 200, placed.text
        assert order(api, order_id)["transactionInfo"]["transactionId"] == intent_id
