"""The adapter to Stripe's API: the only module that calls it, through the official SDK.

Every call gets its own short-lived SDK client (bound to the running event loop, closed
afterwards), an idempotency key, and returns plain dictionaries. Stripe's errors leave
as kasse's two failure kinds for gateway requests: ``PaymentRefused`` (the request as
asked cannot succeed) and ``ProviderError`` (technical: try again later).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import stripe

from kasse.payments.provider import PaymentRefused, ProviderError

log = logging.getLogger("kasse.payments.stripe")

TIMEOUT_SECONDS = 30.0
"""A shopper waits on the pay page while a checkout session is created."""
NETWORK_RETRIES = 2
"""The SDK retries connection errors, 409, 429 and 5xx itself, with the same key."""

Params = dict[str, Any]


def idempotency_key(operation: str, params: Params) -> str:
    """The key of one write to Stripe: the operation (the payment attempt's reference and
    what is done to it) and what was asked.

    Retrying the same request (a reloaded pay page, a repeated command) reuses the key,
    so Stripe answers with what it did the first time; asking for something different
    (the cart's contact e-mail changed) is a new request instead of an error.
    """
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    return f"kasse-{operation}-{digest}"


class StripeApi:
    """The calls kasse makes, each answered with a plain ``dict``."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self._v1 = client.v1

    async def create_checkout_session(self, params: Params, key: str) -> Params:
        return await _call("create a checkout session", lambda: self._v1.checkout.sessions
                           .create_async(params, {"idempotency_key": key}))  # type: ignore[arg-type]

    async def create_payment_intent(self, params: Params, key: str) -> Params:
        return await _call("create a payment intent", lambda: self._v1.payment_intents
                           .create_async(params, {"idempotency_key": key}))  # type: ignore[arg-type]

    async def retrieve_payment_intent(self, intent_id: str, *, expand: list[str] | None = None
                                      ) -> Params:
        params: Params = {"expand": expand} if expand else {}
        return await _call("read a payment intent", lambda: self._v1.payment_intents
                           .retrieve_async(intent_id, params))  # type: ignore[arg-type]

    async def capture_payment_intent(self, intent_id: str, params: Params, key: str
                                     ) -> Params:
        return await _call("capture a payment", lambda: self._v1.payment_intents
                           .capture_async(intent_id, params,  # type: ignore[arg-type]
                                          {"idempotency_key": key}))

    async def cancel_payment_intent(self, intent_id: str, key: str) -> Params:
        return await _call("cancel a payment", lambda: self._v1.payment_intents
                           .cancel_async(intent_id, {}, {"idempotency_key": key}))

    async def create_refund(self, params: Params, key: str) -> Params:
        return await _call("refund a payment", lambda: self._v1.refunds
                           .create_async(params, {"idempotency_key": key}))  # type: ignore[arg-type]


@asynccontextmanager
async def stripe_api(secret_key: str, api_base: str | None = None
                     ) -> AsyncIterator[StripeApi]:
    """A Stripe client for one operation; ``api_base`` points it at another server (a
    Stripe-compatible test server), by default it talks to Stripe."""
    http = stripe.HTTPXClient(timeout=TIMEOUT_SECONDS)
    try:
        client = stripe.StripeClient(
            secret_key, http_client=http, max_network_retries=NETWORK_RETRIES,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None)
        yield StripeApi(client)
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]


async def _call(what: str, request: Callable[[], Awaitable[Any]]) -> Params:
    try:
        answer = await request()
    except stripe.StripeError as exc:
        raise _translated(what, exc) from None
    result: Params = answer.to_dict()
    return result


def _translated(what: str, exc: stripe.StripeError) -> Exception:
    status = exc.http_status
    request_id = exc.request_id or "-"
    if isinstance(exc, (stripe.CardError, stripe.InvalidRequestError, stripe.IdempotencyError)):
        message = exc.user_message or "the request was refused"
        log.info("stripe refused to %s (HTTP %s, %s, request %s): %s", what, status,
                 exc.code, request_id, message)
        return PaymentRefused(f"Stripe refused to {what}: {message}")
    if isinstance(exc, (stripe.AuthenticationError, stripe.PermissionError)):
        # Stripe's own message names (part of) the key; the log says which setting to fix.
        log.error("stripe rejected the secret key while trying to %s (HTTP %s, request %s)",
                  what, status, request_id)
        return ProviderError(f"Stripe rejected the payment method's secret key; could not "
                             f"{what}")
    log.warning("stripe failed to %s (%s, HTTP %s, request %s)", what, type(exc).__name__,
                status, request_id)
    return ProviderError(f"Stripe is not reachable or failed; could not {what}, try again")
