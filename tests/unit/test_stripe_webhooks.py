"""Stripe webhooks: verified over the raw body before anything is read, then turned into
provider-neutral results; and the provider's settings rules."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
import stripe

from kasse.domain.payment import PaymentStatus
from kasse.payments.provider import CallbackRejected, missing_settings
from kasse.payments.stripe import create_provider
from kasse.payments.stripe.webhooks import read_event, verified_event

SECRET = "whsec_unit_test"
REFERENCE = "0123456789abcdef0123456789abcdef"


def event(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"id": "evt_1", "object": "event", "type": kind, "livemode": False,
            "data": {"object": item}}


def intent(**changes: Any) -> dict[str, Any]:
    return {"id": "pi_1", "object": "payment_intent", "amount": 6500, "currency": "jpy",
            "status": "succeeded", "latest_charge": "ch_1", "customer": None,
            "metadata": {"kasseReference": REFERENCE, "orderNumber": "ORDER-00001"},
            **changes}


def session(**changes: Any) -> dict[str, Any]:
    return {"id": "cs_test_1", "object": "checkout.session", "mode": "payment",
            "client_reference_id": REFERENCE, "payment_intent": "pi_1",
            "payment_status": "paid", "status": "complete", "amount_total": 5000,
            "currency": "eur", "customer": "cus_1",
            "metadata": {"kasseReference": REFERENCE}, **changes}


def signed(body: bytes, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, at)
    return {"stripe-signature": header}


def test_a_signed_event_is_read() -> None:
    body = json.dumps(event("payment_intent.succeeded", intent())).encode()
    assert verified_event(body, signed(body), SECRET)["id"] == "evt_1"


@pytest.mark.parametrize("tamper", ["secret", "body", "old", "missing", "garbage"])
def test_unverified_events_are_rejected(tamper: str) -> None:
    body = json.dumps(event("payment_intent.succeeded", intent())).encode()
    headers = signed(body)
    if tamper == "secret":
        headers = signed(body, secret="whsec_someone_else")
    elif tamper == "body":
        body = body.replace(b"6500", b"1")
    elif tamper == "old":  # a replay from beyond the tolerance
        headers = signed(body, at=int(time.time()) - 301)
    elif tamper == "missing":
        headers = {}
    else:
        body = b"\xff\xfe not json"
        headers = signed(b"x")
    with pytest.raises(CallbackRejected):
        verified_event(body, headers, SECRET)


def test_without_a_signing_secret_nothing_verifies() -> None:
    body = b"{}"
    with pytest.raises(CallbackRejected):
        verified_event(body, signed(body, secret="whsec_x"), "")


def test_payment_intent_events() -> None:
    result = read_event(event("payment_intent.succeeded", intent()), manual_capture=False)
    assert result is not None
    assert (result.reference, result.status, result.transaction_id, result.amount,
            result.event_id) == (REFERENCE, PaymentStatus.CAPTURED, "pi_1", Decimal(6500),
                                 "evt_1")
    assert result.metadata == {"stripePaymentIntentId": "pi_1", "stripeChargeId": "ch_1"}
    authorized = read_event(event("payment_intent.amount_capturable_updated",
                                  intent(status="requires_capture")), manual_capture=True)
    assert authorized is not None and authorized.status is PaymentStatus.AUTHORIZED
    # A decline is not the end: the shopper may still pay the intent with another card.
    assert read_event(event("payment_intent.payment_failed", intent()),
                      manual_capture=False) is None
    # Payments kasse did not start are none of its business.
    assert read_event(event("payment_intent.succeeded", intent(metadata={})),
                      manual_capture=False) is None
    assert read_event(event("customer.created", {"id": "cus_1"}), manual_capture=False) is None


def test_checkout_session_events() -> None:
    result = read_event(event("checkout.session.completed", session()), manual_capture=False)
    assert result is not None
    assert (result.reference, result.status, result.transaction_id, result.amount) == (
        REFERENCE, PaymentStatus.CAPTURED, "pi_1", Decimal("50.00"))
    assert result.metadata == {"stripeSessionId": "cs_test_1", "stripePaymentIntentId": "pi_1",
                               "stripeCustomerId": "cus_1"}
    unpaid = event("checkout.session.completed", session(payment_status="unpaid"))
    held = read_event(unpaid, manual_capture=True)
    slow = read_event(unpaid, manual_capture=False)
    assert held is not None and held.status is PaymentStatus.AUTHORIZED
    assert slow is not None and slow.status is PaymentStatus.PENDING_EXTERNAL_SYSTEM
    held_paid = read_event(event("checkout.session.completed", session()), manual_capture=True)
    assert held_paid is not None and held_paid.status is PaymentStatus.AUTHORIZED
    expired = read_event(event("checkout.session.expired", session(payment_intent=None)),
                         manual_capture=False)
    assert expired is not None and expired.status is PaymentStatus.CANCELLED
    assert read_event(event("checkout.session.completed", session(mode="subscription")),
                      manual_capture=False) is None


def test_settings_need_the_keys_of_the_chosen_mode() -> None:
    provider = create_provider()
    test_keys = {"TestSecretKey": "sk_test_1", "TestWebhookSigningSecret": "whsec_1"}
    assert missing_settings(provider, test_keys) == []
    assert missing_settings(provider, {**test_keys, "TestMode": "false"}) == [
        "setting LiveSecretKey is required when TestMode is false",
        "setting LiveWebhookSigningSecret is required when TestMode is false"]
    # A live key in the test settings would charge real money in test mode.
    assert missing_settings(provider, {**test_keys, "TestSecretKey": "sk_live_1"}) == [
        "setting TestSecretKey: must start with sk_test_ or rk_test_"]
    assert missing_settings(provider, {**test_keys, "Capture": "maybe"}) == [
        "setting Capture: must be true or false"]
    secret = {s.key for s in provider.settings if s.secret}
    assert secret == {"TestSecretKey", "TestWebhookSigningSecret", "LiveSecretKey",
                      "LiveWebhookSigningSecret"}
