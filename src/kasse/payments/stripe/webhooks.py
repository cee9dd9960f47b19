"""Stripe webhooks: verified over the raw body, then read into provider-neutral results.

Which events finalize: ``checkout.session.completed`` (hosted) and the payment intent's
own events (hosted and inline), whichever arrives first; the other is then a duplicate
of the same transaction (the payment intent's id) and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import stripe

from kasse.domain.payment import PaymentStatus
from kasse.payments.provider import CallbackRejected, PaymentResult
from kasse.payments.stripe.amounts import from_minor_units

SIGNATURE_HEADER = "stripe-signature"
TOLERANCE_SECONDS = 300
"""Stripe's own default: an event signed longer ago than this is a replay."""
REFERENCE_KEY = "kasseReference"
"""Metadata key carrying kasse's payment reference on sessions and payment intents."""

_SESSION_EVENTS = {
    "checkout.session.completed", "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed", "checkout.session.expired",
}
_INTENT_STATUSES = {
    "payment_intent.succeeded": PaymentStatus.CAPTURED,
    "payment_intent.amount_capturable_updated": PaymentStatus.AUTHORIZED,
    # Slow methods (bank debits) are under way: the order is placed, the money follows.
    "payment_intent.processing": PaymentStatus.PENDING_EXTERNAL_SYSTEM,
    "payment_intent.canceled": PaymentStatus.CANCELLED,
    # ``payment_intent.payment_failed`` is left out on purpose: the shopper may still pay
    # the same intent with another card, so a decline is not the end of the attempt.
}


def verified_event(body: bytes, headers: Mapping[str, str], secret: str) -> dict[str, Any]:
    """The event in ``body`` once its ``Stripe-Signature`` proves it came from Stripe,
    recently; raises ``CallbackRejected`` otherwise (nothing is recorded then)."""
    header = headers.get(SIGNATURE_HEADER) or headers.get("Stripe-Signature")
    if not secret:
        raise CallbackRejected("the payment method has no webhook signing secret")
    try:
        stripe.WebhookSignature.verify_header(body, header, secret,
                                              tolerance=TOLERANCE_SECONDS)
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        raise CallbackRejected("the Stripe-Signature does not verify (wrong secret, "
                               "changed body or too old)") from None
    try:
        event = json.loads(body)
    except ValueError:
        raise CallbackRejected("the webhook body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise CallbackRejected("the webhook body is not a Stripe event")
    return event


def read_event(event: Mapping[str, Any], *, manual_capture: bool) -> PaymentResult | None:
    """What a verified event says about a kasse payment; ``None`` when it says nothing
    (another event type, or a payment that kasse did not start)."""
    kind = str(event.get("type", ""))
    item = event["data"].get("object")
    if not isinstance(item, dict):
        return None
    event_id = str(event.get("id") or "") or None
    if kind in _SESSION_EVENTS:
        return _session_result(kind, item, event_id, manual_capture)
    status = _INTENT_STATUSES.get(kind)
    if status is not None:
        return _intent_result(status, item, event_id)
    return None


def _session_result(kind: str, session: dict[str, Any], event_id: str | None,
                    manual_capture: bool) -> PaymentResult | None:
    reference = session.get("client_reference_id") or _metadata(session).get(REFERENCE_KEY)
    if not reference or session.get("mode") != "payment":
        return None
    if kind == "checkout.session.completed":
        paid = session.get("payment_status")
        if paid not in ("paid", "unpaid"):
            return None
        if manual_capture:
            # kasse asked for a hold: completed means authorized, whatever the session
            # calls it; the capture is the shop's to do.
            status = PaymentStatus.AUTHORIZED
        elif paid == "paid":
            status = PaymentStatus.CAPTURED
        else:  # a slow payment method (a bank debit) is still under way
            status = PaymentStatus.PENDING_EXTERNAL_SYSTEM
    else:
        status = {"checkout.session.async_payment_succeeded": PaymentStatus.CAPTURED,
                  "checkout.session.async_payment_failed": PaymentStatus.ERROR,
                  "checkout.session.expired": PaymentStatus.CANCELLED}[kind]
    intent_id = _id_of(session.get("payment_intent"))
    metadata = {"stripeSessionId": str(session.get("id") or ""),
                "stripePaymentIntentId": intent_id or "",
                "stripeCustomerId": _id_of(session.get("customer")) or ""}
    return PaymentResult(
        reference=str(reference), status=status, transaction_id=intent_id,
        amount=_amount(session.get("amount_total"), session.get("currency")),
        currency_code=_currency(session.get("currency")),
        event_id=event_id, metadata={k: v for k, v in metadata.items() if v})


def _intent_result(status: PaymentStatus, intent: dict[str, Any], event_id: str | None
                   ) -> PaymentResult | None:
    reference = _metadata(intent).get(REFERENCE_KEY)
    intent_id = _id_of(intent)
    if not reference or not intent_id:
        return None
    metadata = {"stripePaymentIntentId": intent_id,
                "stripeChargeId": _id_of(intent.get("latest_charge")) or "",
                "stripeCustomerId": _id_of(intent.get("customer")) or ""}
    return PaymentResult(
        reference=str(reference), status=status, transaction_id=intent_id,
        amount=_amount(intent.get("amount"), intent.get("currency")), event_id=event_id,
        currency_code=_currency(intent.get("currency")),
        metadata={k: v for k, v in metadata.items() if v})


def _metadata(item: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = item.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _id_of(value: Any) -> str | None:
    """Stripe sends related objects as an id, or expanded as the object itself."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _currency(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) and value else None


def _amount(units: Any, currency: Any) -> Decimal | None:
    if not isinstance(units, int) or isinstance(units, bool) or not isinstance(currency, str):
        return None
    return from_minor_units(units, currency)
