"""Inline checkout's ``GET {urls.callback}?create=KIND``: the provider creates the payment
the storefront completes in the browser (a Stripe PaymentIntent, answered with its
client secret) for the order's initialized inline attempt.

Prepare, call the gateway, record: no transaction is open while the gateway works. The
gateway payment is kept on the attempt, so asking again returns the same payment.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from kasse.domain.checkout import (
    AttemptStatus,
    CartChanged,
    CheckoutAttempt,
    CheckoutInvalid,
    fingerprint,
)
from kasse.domain.errors import InvalidInput, NotFound
from kasse.domain.order_calculation import calculate
from kasse.payments.provider import (
    ClientPayment,
    ClientPayments,
    PaymentRefused,
    PaymentRequest,
    PaymentUrls,
    ProviderError,
)
from kasse.services.checkout import (
    INLINE,
    Checkout,
    GatewayUnavailable,
    callback_url,
    method_settings,
)
from kasse.services.retry import retrying


async def create_client_payment(checkout: Checkout, provider_alias: str, method_id: UUID,
                                order_id: UUID, kind: str, base_url: str
                                ) -> Mapping[str, str]:
    """What the storefront needs to take the payment in the browser (e.g.
    ``{"clientSecret": …}``), for the order's current inline checkout; the same answer
    when asked again."""
    found = await checkout.stores.payment_method(method_id)
    if found is None or found[1].provider_alias.lower() != provider_alias.lower():
        raise NotFound(f"no {provider_alias} payment method {method_id}")
    config, method = found
    provider = checkout.provider_for(method)
    if not isinstance(provider, ClientPayments) or kind not in provider.client_payment_kinds:
        raise InvalidInput(f"payment method {method.alias!r} cannot create {kind[:40]!r}")

    async with checkout.storage.ordering(write=False) as unit:
        order = await unit.orders.get(config.store.id, order_id)
        attempt = await unit.checkout.latest_attempt(order_id, INLINE) if order else None
    if order is None:
        raise NotFound(f"no order with id {order_id}")
    if order.is_finalized:
        raise CheckoutInvalid("the order is already finalized")
    if attempt is None or attempt.payment_method_id != method.id:
        raise CheckoutInvalid(f"initialize the checkout with payment method {method.alias!r} "
                              "first")
    if attempt.status is not AttemptStatus.OPEN or attempt.expired(checkout.clock()):
        raise CheckoutInvalid("the checkout initialization is no longer open; initialize "
                              "again")
    if fingerprint(order, calculate(order, config)) != attempt.fingerprint:
        raise CartChanged("the order changed after it was initialized; initialize again")
    currency = config.currency_by_id(order.currency_id)
    assert currency is not None  # noqa: S101 (an order's currency is the store's)
    request = PaymentRequest(
        reference=attempt.reference, order_number=order.order_number or "",
        amount=attempt.amount, currency_code=currency.code,
        decimal_places=currency.decimal_places,
        description=f"{config.store.name} order {order.order_number}",
        settings=method_settings(method),
        urls=PaymentUrls(continue_url="", cancel_url="", error_url="",
                         callback_url=f"{callback_url(base_url, provider, method)}/{order_id}"),
        customer_email=order.properties.get("email"))

    payment = await _ask(provider, request, kind, attempt.transaction_id)
    kept = await _keep(checkout, attempt, payment.payment_id)
    if kept != payment.payment_id:  # another request for this attempt was first
        payment = await _ask(provider, request, kind, kept)
    return payment.response


async def _ask(provider: ClientPayments, request: PaymentRequest, kind: str,
               existing: str | None) -> ClientPayment:
    try:
        return await provider.create_client_payment(request, kind, existing)
    except ProviderError as exc:
        raise GatewayUnavailable(f"the payment gateway is not available: {exc}") from None
    except PaymentRefused as exc:
        raise CheckoutInvalid(f"the payment gateway refused this payment: {exc}") from None


async def _keep(checkout: Checkout, attempt: CheckoutAttempt, payment_id: str) -> str:
    """Record the gateway payment on the attempt unless one is there already; returns the
    one that is kept. The order row is locked meanwhile, as finalization locks it."""
    async def work() -> str:
        async with checkout.storage.ordering(write=True) as unit:
            await unit.orders.get(attempt.store_id, attempt.order_id, for_update=True)
            current = await unit.checkout.attempt(attempt.id)
            if current is None:
                raise NotFound("the checkout attempt no longer exists; initialize again")
            if current.transaction_id:
                return current.transaction_id
            current.transaction_id = payment_id
            await unit.checkout.save_attempt(current)
            return payment_id

    return await retrying(work, f"order {attempt.order_id}")
