"""Checkout rules: when an order may be paid, what a payment attempt binds, and whether
a payment's amount is the order's amount."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from kasse.domain.errors import DomainError, InvalidInput
from kasse.domain.money import ZERO, round_to
from kasse.domain.order import Order
from kasse.domain.order_calculation import OrderCalculation
from kasse.domain.store import Product, StoreConfig

ZERO_VALUE_PROVIDER = "zerovalue"


class CheckoutInvalid(InvalidInput):
    """The order cannot be paid as it is (the detail says why)."""

    code = "checkout_invalid"


class TokenInvalid(InvalidInput):
    code = "checkout_token_invalid"


class CartChanged(InvalidInput):
    code = "cart_changed"


class RedemptionUnavailable(CartChanged):
    """A discount code or gift card of the order was used up by other orders meanwhile."""

    code = "redemption_unavailable"


class AmountMismatch(InvalidInput):
    code = "amount_mismatch"


class TransactionConflict(DomainError):
    """A second, different payment for an order already finalized."""

    code = "conflict"


class Mode(StrEnum):
    REDIRECT = "Redirect"
    FRAMED = "Framed"

    @classmethod
    def parse(cls, value: str | None) -> Mode:
        if value is None or not value.strip():
            return cls.REDIRECT
        for mode in cls:
            if mode.value.lower() == value.strip().lower():
                return mode
        raise InvalidInput(f"Mode header must be Redirect or Framed, not {value.strip()[:40]!r}")


class AttemptStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERRORED = "errored"


@dataclass(slots=True)
class CheckoutAttempt:
    """One token (hosted) or initialize (inline): what the shopper was asked to pay."""

    id: UUID
    order_id: UUID
    store_id: UUID
    kind: str
    payment_method_id: UUID
    amount: Decimal
    currency_id: UUID
    fingerprint: str
    created_at: datetime
    expires_at: datetime
    status: AttemptStatus = AttemptStatus.OPEN
    token_hash: str | None = None
    mode: Mode | None = None
    origin: str | None = None
    transaction_id: str | None = None

    @property
    def reference(self) -> str:
        return self.id.hex

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def fingerprint(order: Order, calculation: OrderCalculation) -> str:
    """What the shopper agreed to pay for: a change to any of it needs a new token."""
    parts = [str(order.currency_id), str(order.payment_method_id),
             str(order.shipping_method_id), str(order.shipping_option_id),
             f"{calculation.transaction_amount:f}",
             ",".join(c.code for c in calculation.codes if c.fulfilled),
             ",".join(f"{g.code}={g.amount:f}" for g in calculation.gift_cards)]
    for line, units in order.all_lines():
        parts.append(f"{line.id}|{line.product_reference}|{line.variant_reference}|"
                     f"{units:f}|{line.unit_price:f}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def validate_for_payment(order: Order, calculation: OrderCalculation, config: StoreConfig,
                         products: dict[str, Product]) -> None:
    """Everything that must hold before a shopper is asked to pay."""
    if order.is_finalized:
        raise CheckoutInvalid("the order is already finalized")
    if not order.lines:
        raise CheckoutInvalid("the order has no lines")
    for line, _ in order.all_lines():
        product = products.get(line.product_reference)
        if product is None:
            raise CheckoutInvalid(f"{line.name} is no longer sold")
        variant = product.variant(line.variant_reference) if line.variant_reference else None
        order.check_stock(product, variant)
    method = config.payment_method_by_id(order.payment_method_id)
    if method is None:
        raise CheckoutInvalid("choose a payment method first")
    country = config.country_by_id(order.billing_country_id)
    if country is not None and not method.allowed_in(country.id, order.billing_region_id):
        raise CheckoutInvalid(f"payment method {method.alias!r} is not available in "
                              f"{country.code}")
    zero = calculation.transaction_amount == ZERO
    if method.provider_alias.lower() == ZERO_VALUE_PROVIDER and not zero:
        raise CheckoutInvalid(f"payment method {method.alias!r} is only for orders with "
                              "nothing to pay")
    if zero and method.provider_alias.lower() != ZERO_VALUE_PROVIDER:
        raise CheckoutInvalid("the order has nothing to pay; choose the zero value payment "
                              "method")


def check_amount(paid: Decimal | None, expected: Decimal, decimal_places: int,
                 currency_code: str, *, paid_currency: str | None = None,
                 amount_reported: bool = False) -> None:
    """The amount paid must be the transaction amount to the currency's precision, in the
    order's currency.

    ``paid`` is ``None`` only for a provider that reports no amount (``amount_reported``
    false: invoicing, nothing to pay); from any other provider a payment without an
    amount is refused rather than taken on trust.
    """
    if paid_currency is not None and paid_currency.strip().upper() != currency_code.upper():
        raise AmountMismatch(
            f"the payment is in {paid_currency.strip()[:10]!r}, the order in {currency_code}")
    if paid is None:
        if amount_reported:
            raise AmountMismatch("the payment gateway did not report the amount paid")
        return
    if paid != round_to(expected, decimal_places):
        raise AmountMismatch(
            f"amount {paid:f} {currency_code} does not match the order's transaction amount "
            f"{round_to(expected, decimal_places):f} {currency_code}")
