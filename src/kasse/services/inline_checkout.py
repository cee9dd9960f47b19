"""Inline checkout: the storefront takes the payment itself, then confirms it here; and the
payment and shipping methods an order can use. Confirmation goes through the same
finalization as the hosted flow."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from kasse.domain.checkout import (
    ZERO_VALUE_PROVIDER,
    CartChanged,
    CheckoutInvalid,
    RedemptionUnavailable,
    TransactionConflict,
)
from kasse.domain.errors import InvalidInput, NotFound
from kasse.domain.money import decimal_places_of
from kasse.domain.order import Order
from kasse.domain.order_calculation import calculate
from kasse.domain.order_properties import clean_properties
from kasse.domain.payment import PaymentStatus
from kasse.domain.pricing import Price, PricingPolicy
from kasse.domain.settlement import PaymentNews, Settlement, settle
from kasse.domain.store import PaymentMethod, ShippingMethod, ShippingOption, StoreConfig
from kasse.domain.text import has_control_characters
from kasse.payments.provider import (
    FETCH_STATUS,
    FetchesPayments,
    PaymentResult,
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
from kasse.services.finalization import finalize
from kasse.services.retry import retrying


class PaymentNotAccepted(InvalidInput):
    code = "payment_not_accepted"


class PaymentUnverified(InvalidInput):
    """The payment's gateway does not confirm what the storefront says about it."""

    code = "payment_unverified"


@dataclass(frozen=True, slots=True)
class Confirmation:
    amount: Decimal
    transaction_id: str
    payment_status: str
    fee: Decimal | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MethodChoice:
    method: PaymentMethod
    fee: Price | None


@dataclass(frozen=True, slots=True)
class ShippingRate:
    option: ShippingOption | None
    price: Price


@dataclass(frozen=True, slots=True)
class ShippingChoice:
    method: ShippingMethod
    rates: list[ShippingRate]


@dataclass(frozen=True, slots=True)
class Initialized:
    order_number: str
    settings: dict[str, str]
    """Public settings only: secret ones never leave the server."""
    metadata_definitions: dict[str, str]
    urls: PaymentUrls


def _absolute(base_url: str, value: str) -> str:
    return base_url.rstrip("/") + value if value.startswith("/") else value


async def initialize(checkout: Checkout, config: StoreConfig, order_id: UUID, base_url: str
                     ) -> Initialized:
    """Prepare the order exactly as a hosted token does, for a storefront that pays inline."""
    prepared = await checkout.prepare(config, order_id, INLINE)
    method = config.payment_method_by_id(prepared.attempt.payment_method_id)
    assert method is not None  # noqa: S101 (prepare validated it)
    provider = checkout.provider_for(method)
    # A setting the provider calls secret stays secret even if the store file forgot to
    # mark it so.
    secret = {definition.key for definition in provider.settings if definition.secret}
    settings = {k: v for k, v in method.public_settings().items() if k not in secret}
    urls = PaymentUrls(
        continue_url=_absolute(base_url, settings.get("ContinueUrl", "")),
        cancel_url=_absolute(base_url, settings.get("CancelUrl", "")),
        error_url=_absolute(base_url, settings.get("ErrorUrl", "")),
        callback_url=f"{callback_url(base_url, provider, method)}/{order_id}")
    return Initialized(prepared.order.order_number or "", settings,
                       {m.alias: m.name for m in provider.metadata}, urls)


def _status(value: str) -> PaymentStatus:
    for status in PaymentStatus:
        if status.value.lower() == value.strip().lower():
            return status
    raise InvalidInput(f"paymentStatus {value.strip()[:40]!r} is not a payment status")


async def confirm(checkout: Checkout, config: StoreConfig, order_id: UUID,
                  confirmation: Confirmation) -> tuple[Order, bool]:
    """Finalize after an inline payment; returns the order and whether this call did it.

    The same ``transactionId`` again answers like the first time; another one for a
    finalized order is a conflict. Nothing about a refused confirmation changes the order.
    """
    status = _status(confirmation.payment_status)
    if (not confirmation.transaction_id.strip() or len(confirmation.transaction_id) > 200
            or has_control_characters(confirmation.transaction_id)):
        raise InvalidInput("transactionId must be 1 to 200 printable characters")
    metadata = clean_properties(confirmation.metadata, "metaData")
    if not status.finalizes and not status.fails:
        raise InvalidInput(f"paymentStatus {status.value} cannot confirm an order; use "
                           "Authorized, Captured or PendingExternalSystem")
    for name, value in (("amount", confirmation.amount), ("fee", confirmation.fee)):
        if value is not None and (not value.is_finite() or value < 0
                                  or decimal_places_of(value) > 6):
            raise InvalidInput(f"{name} must be a non-negative number with at most 6 decimals")

    transaction_id = confirmation.transaction_id.strip()
    if status.finalizes:
        await _verify_with_gateway(checkout, config, order_id, transaction_id, status,
                                   confirmation.amount)

    async def work() -> tuple[Order, bool]:
        async with checkout.storage.ordering(write=True) as unit:
            order = await unit.orders.get(config.store.id, order_id, for_update=True)
            if order is None:
                raise NotFound(f"no order with id {order_id}")
            news = PaymentNews(transaction_id, status, confirmation.amount, claimed=True)
            decision = settle(order, news)
            if decision is Settlement.REPEAT:
                return order, False
            if decision is Settlement.CONFLICT:
                if order.transaction_id != transaction_id:
                    raise TransactionConflict(
                        f"order {order.order_number} is already finalized with another "
                        "transaction")
                raise TransactionConflict(
                    f"order {order.order_number} was confirmed for transaction "
                    f"{transaction_id} with {order.authorized_amount} "
                    f"({order.payment_status}); this confirmation differs")
            if decision is not Settlement.FINALIZE:
                raise PaymentNotAccepted(f"the payment is {status.value}; the order stays "
                                         "open and can be paid again")
            attempt = await unit.checkout.latest_attempt(order.id, INLINE)
            if attempt is None:
                raise CheckoutInvalid("initialize the checkout before confirming it")
            if attempt.expired(checkout.clock()):
                raise CheckoutInvalid("the checkout initialization has expired; initialize "
                                      "again")
            try:
                result = await finalize(unit, config, order, attempt, PaymentResult(
                    reference=attempt.reference, status=status,
                    transaction_id=transaction_id, amount=confirmation.amount,
                    fee=confirmation.fee, metadata=metadata), checkout.clock())
            except RedemptionUnavailable:
                raise
            except CartChanged:
                raise CartChanged("the order changed after it was initialized; initialize "
                                  "again") from None
        return result.order, result.newly

    return await retrying(work, f"order {order_id}")


async def _verify_with_gateway(checkout: Checkout, config: StoreConfig, order_id: UUID,
                               transaction_id: str, status: PaymentStatus, amount: Decimal
                               ) -> None:
    """Where the order's payment method can ask its gateway (Stripe, the test gateway), the
    confirmed transaction must be a payment the gateway holds for this checkout, in this
    status, amount and currency. Asked with no transaction open; invoicing stays trusted."""
    async with checkout.storage.ordering(write=False) as unit:
        order = await unit.orders.get(config.store.id, order_id)
        attempt = await unit.checkout.latest_attempt(order_id, INLINE) if order else None
    if order is None or attempt is None or order.is_finalized:
        return  # the unit of work below answers these (404, 400, a repeat, 409)
    method = config.payment_method_by_id(attempt.payment_method_id)
    if method is None:
        return
    provider = checkout.provider_for(method)
    if FETCH_STATUS not in provider.capabilities or not isinstance(provider, FetchesPayments):
        return
    try:
        known = await provider.fetch_payment(method_settings(method), transaction_id)
    except ProviderError as exc:
        raise GatewayUnavailable(f"the payment gateway could not confirm transaction "
                                 f"{transaction_id[:80]!r}: {exc}") from None
    if known is None:
        raise PaymentUnverified(f"the payment gateway knows no transaction "
                                f"{transaction_id[:80]!r}")
    if known.reference != attempt.reference:
        raise PaymentUnverified(f"transaction {transaction_id[:80]!r} does not belong to "
                                "this order's checkout")
    currency = config.currency_by_id(order.currency_id)
    code = currency.code if currency else "?"
    if known.currency_code is not None and known.currency_code.upper() != code.upper():
        raise PaymentUnverified(f"transaction {transaction_id[:80]!r} is in "
                                f"{known.currency_code[:10]}, the order in {code}")
    if known.amount is None or known.amount != amount:
        raise PaymentUnverified(
            f"amount {amount:f} {code} does not match transaction {transaction_id[:80]!r} "
            f"at the gateway ({'no amount' if known.amount is None else f'{known.amount:f}'}"
            f" {code})")
    if known.status is not status:
        raise PaymentUnverified(f"paymentStatus {status.value} does not match transaction "
                                f"{transaction_id[:80]!r} at the gateway, which is "
                                f"{known.status.value}")


async def payment_methods(checkout: Checkout, config: StoreConfig, order_id: UUID
                          ) -> list[MethodChoice]:
    """Methods allowed in the billing country; ``zeroValue`` only, when nothing is due."""
    order = await _order(checkout, config, order_id)
    calculation = calculate(order, config)
    nothing_due = calculation.transaction_amount == 0
    country = config.country_by_id(order.billing_country_id)
    pricing = PricingPolicy.for_order(order, config)
    choices = []
    for method in config.payment_methods:
        if country is not None and not method.allowed_in(country.id, order.billing_region_id):
            continue
        if (method.provider_alias.lower() == ZERO_VALUE_PROVIDER) != nothing_due:
            continue
        fee = pricing.price(method.fee_in(order.currency_id), method.tax_class_id)
        choices.append(MethodChoice(method, fee))
    return choices


async def shipping_methods(checkout: Checkout, config: StoreConfig, order_id: UUID
                           ) -> list[ShippingChoice]:
    """Methods that ship to the order's destination, with a rate per option."""
    order = await _order(checkout, config, order_id)
    country_id = order.effective_shipping_country_id or config.store.default_country_id
    pricing = PricingPolicy.for_order(order, config)
    choices = []
    for method in config.shipping_methods:
        if country_id is not None and not method.allowed_in(
                country_id, order.effective_shipping_region_id):
            continue
        rates = []
        base = pricing.price(method.price_in(order.currency_id), method.tax_class_id)
        if base is not None:
            rates.append(ShippingRate(None, base))
        for option in method.options:
            rate = pricing.price(option.prices.get(order.currency_id), method.tax_class_id)
            if rate is not None:
                rates.append(ShippingRate(option, rate))
        if rates:
            choices.append(ShippingChoice(method, rates))
    return choices


async def _order(checkout: Checkout, config: StoreConfig, order_id: UUID) -> Order:
    async with checkout.storage.ordering(write=False) as unit:
        order = await unit.orders.get(config.store.id, order_id)
    if order is None:
        raise NotFound(f"no order with id {order_id}")
    return order
