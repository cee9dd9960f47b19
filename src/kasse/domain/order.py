"""The order aggregate: a cart while open, an order once finalized.

Every change to an order goes through a method here, so the rules (open orders only,
stock, methods allowed for the destination, frozen prices) live in one place. Prices are
*frozen* on a line when it is added: the line keeps the configured price it was sold at,
in the order's currency, and tax is applied when the order is calculated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from kasse.domain import events as domain_events
from kasse.domain.discounts import CodeRejected, CodeUsage, GiftCard, normalize_code
from kasse.domain.errors import InvalidInput, NotFound
from kasse.domain.events import (
    DomainEvent,
    PaymentFailed,
    PaymentNotApplied,
    PaymentStatusChanged,
)
from kasse.domain.money import decimal_places_of
from kasse.domain.order_properties import MAX_PROPERTY_LENGTH, clean_properties
from kasse.domain.payment import PaymentStatus
from kasse.domain.store import (
    Currency,
    PaymentMethod,
    Product,
    ProductVariant,
    ShippingMethod,
    StoreConfig,
    TaxClass,
)
from kasse.domain.text import has_control_characters

MAX_QUANTITY = Decimal(1_000_000)
MAX_LINES = 500
MAX_TAGS = 50
MAX_CODES = 10


class OrderFinalized(InvalidInput):
    code = "order_finalized"


class InsufficientStock(InvalidInput):
    code = "insufficient_stock"


class NotAllowedHere(InvalidInput):
    code = "not_allowed_for_destination"


class FulfilmentStatus(StrEnum):
    """How much of a placed order has been shipped."""

    UNFULFILLED = "unfulfilled"
    PARTIAL = "partial"
    FULFILLED = "fulfilled"


@dataclass(slots=True)
class OrderLine:
    id: UUID
    product_reference: str
    variant_reference: str | None
    sku: str
    name: str
    quantity: Decimal
    unit_price: Decimal
    """The configured price (gross or net as the store sets prices), frozen when added."""
    product_tax_class_id: UUID | None = None
    tax_class_id: UUID | None = None
    """A tax class chosen for this line; wins over the product's own."""
    properties: dict[str, str] = field(default_factory=dict)
    attributes: tuple[tuple[str, str, str, str], ...] = ()
    bundle_id: str | None = None
    is_gift_card: bool = False
    children: list[OrderLine] = field(default_factory=list)
    # After placement (top-level lines only): units shipped, refunded by line, and put
    # back into stock (``domain/fulfilment.py``, ``domain/refunds.py``).
    fulfilled_quantity: Decimal = Decimal(0)
    refunded_quantity: Decimal = Decimal(0)
    restocked_quantity: Decimal = Decimal(0)

    def same_item(self, product_reference: str, variant_reference: str | None,
                  properties: Mapping[str, str], bundle_id: str | None) -> bool:
        return (self.product_reference == product_reference
                and self.variant_reference == variant_reference
                and self.properties == dict(properties)
                and self.bundle_id is None and bundle_id is None)

    def walk(self, multiplier: Decimal = Decimal(1)) -> Iterator[tuple[OrderLine, Decimal]]:
        """This line and its bundle items, each with the units it really takes."""
        units = self.quantity * multiplier
        yield self, units
        for child in self.children:
            yield from child.walk(units)


@dataclass(slots=True)
class Notice:
    """A message for the storefront (sent back in the ``Umb-Notifications`` header)."""

    message: str
    type: str = "Info"
    category: str = "Order"


@dataclass(slots=True)
class Order:
    id: UUID
    store_id: UUID
    cart_number: str
    currency_id: UUID
    created_at: datetime
    updated_at: datetime
    order_number: str | None = None
    tax_class_id: UUID | None = None
    language: str | None = None
    customer_reference: str | None = None
    order_status_id: UUID | None = None
    billing_country_id: UUID | None = None
    billing_region_id: UUID | None = None
    shipping_country_id: UUID | None = None
    shipping_region_id: UUID | None = None
    shipping_same_as_billing: bool = False
    shipping_method_id: UUID | None = None
    shipping_option_id: UUID | None = None
    payment_method_id: UUID | None = None
    properties: dict[str, str] = field(default_factory=dict)
    server_properties: dict[str, str] = field(default_factory=dict)
    """Kept on the order but never shown to a storefront (e.g. payment metadata)."""
    tags: list[str] = field(default_factory=list)
    lines: list[OrderLine] = field(default_factory=list)
    discount_codes: list[str] = field(default_factory=list)
    gift_card_codes: list[str] = field(default_factory=list)
    # What the shop knows about the redeemed codes right now (uses left, balances); shared
    # by every order, so loaded with the order and never saved with it.
    code_usage: dict[str, CodeUsage] = field(default_factory=dict, compare=False)
    gift_cards: dict[str, GiftCard] = field(default_factory=dict, compare=False)
    finalized_at: datetime | None = None
    payment_status: PaymentStatus | None = None
    transaction_id: str | None = None
    authorized_amount: Decimal | None = None
    fee_amount: Decimal | None = None
    # After placement: what the order came to, the money moved since (refunds asked of a
    # gateway and not yet answered count as pending), shipping, and cancellation. The
    # rules that change them live in ``domain/refunds.py``, ``domain/fulfilment.py`` and
    # ``domain/order_management.py``.
    total_price: Decimal | None = None
    captured_amount: Decimal | None = None
    refunded_amount: Decimal | None = None
    refund_pending_amount: Decimal | None = None
    fulfilment_status: FulfilmentStatus | None = None
    canceled_at: datetime | None = None
    version: int = 1
    notices: list[Notice] = field(default_factory=list, compare=False)
    events: list[DomainEvent] = field(default_factory=list, compare=False)
    """What happened to the order in this unit of work, for the outbox."""

    # --- state ---------------------------------------------------------------------

    @property
    def is_finalized(self) -> bool:
        return self.finalized_at is not None

    def ensure_open(self) -> None:
        if self.is_finalized:
            raise OrderFinalized(
                f"order {self.order_number or self.cart_number} is finalized and can no "
                "longer be changed")

    def notify(self, message: str, type_: str = "Success") -> None:
        self.notices.append(Notice(message, type_))

    # --- destination -----------------------------------------------------------------

    @property
    def effective_shipping_country_id(self) -> UUID | None:
        if self.shipping_same_as_billing or self.shipping_country_id is None:
            return self.billing_country_id
        return self.shipping_country_id

    @property
    def effective_shipping_region_id(self) -> UUID | None:
        if self.shipping_same_as_billing or self.shipping_country_id is None:
            return self.billing_region_id
        return self.shipping_region_id

    # --- lines -----------------------------------------------------------------------

    def all_lines(self) -> Iterator[tuple[OrderLine, Decimal]]:
        for line in self.lines:
            yield from line.walk()

    def find_line(self, line_id: UUID) -> OrderLine:
        for line, _ in self.all_lines():
            if line.id == line_id:
                return line
        raise NotFound(f"the order has no line {line_id}")

    def bundle(self, bundle_id: str) -> OrderLine:
        for line in self.lines:
            if line.bundle_id == bundle_id:
                return line
        raise NotFound(f"the order has no bundle {bundle_id!r}")

    def units_of(self, product_reference: str, variant_reference: str | None) -> Decimal:
        return sum((units for line, units in self.all_lines()
                    if line.product_reference == product_reference
                    and line.variant_reference == variant_reference), Decimal(0))

    def add_product(self, product: Product, variant: ProductVariant | None, quantity: Decimal,
                    price: Decimal, properties: Mapping[str, str], new_id: Callable[[], UUID],
                    *, bundle_id: str | None = None, into_bundle: str | None = None
                    ) -> OrderLine:
        """Add units of a product (merged into an equal line), or a bundle, or a bundle item."""
        self.ensure_open()
        check_quantity(quantity)
        props = clean_properties(properties, "properties")
        if bundle_id is not None and (not bundle_id.strip() or len(bundle_id) > 100
                                      or has_control_characters(bundle_id)):
            raise InvalidInput("bundleId must be 1 to 100 printable characters")
        if bundle_id is not None and any(line.bundle_id == bundle_id for line in self.lines):
            raise InvalidInput(f"the order already has a bundle {bundle_id!r}")
        siblings = self.bundle(into_bundle).children if into_bundle is not None else self.lines
        variant_ref = variant.reference if variant else None
        existing = next((line for line in siblings
                         if line.same_item(product.reference, variant_ref, props, bundle_id)),
                        None)
        if existing is None and sum(1 for _ in self.all_lines()) >= MAX_LINES:
            raise InvalidInput(f"an order holds at most {MAX_LINES} lines")
        if existing is not None:
            existing.quantity += quantity
            line = existing
        else:
            line = OrderLine(
                id=new_id(), product_reference=product.reference,
                variant_reference=variant_ref,
                sku=variant.sku if variant else product.sku,
                name=variant.name if variant else product.name,
                quantity=quantity, unit_price=price, product_tax_class_id=product.tax_class_id,
                properties=props, attributes=variant.attributes if variant else (),
                bundle_id=bundle_id, is_gift_card=product.is_gift_card)
            siblings.append(line)
        try:
            check_quantity(line.quantity)
            self.check_stock(product, variant)
        except InvalidInput:
            if existing is not None:
                existing.quantity -= quantity
            else:
                siblings.remove(line)
            raise
        self.notify(f"{quantity.normalize():f} × {line.name} added to the order")
        return line

    def check_stock(self, product: Product, variant: ProductVariant | None) -> None:
        """The units of this item across all lines must not exceed what is in stock."""
        stock = variant.stock if variant is not None else product.stock
        if stock is None:
            return
        wanted = self.units_of(product.reference, variant.reference if variant else None)
        if wanted > stock:
            name = variant.name if variant else product.name
            available = max(stock, Decimal(0)).normalize()
            raise InsufficientStock(
                f"only {available:f} of {name} available; the order would need "
                f"{wanted.normalize():f}")

    def update_line(self, line_id: UUID, *, quantity: Decimal | None = None,
                    increment: Decimal | None = None, decrement: Decimal | None = None,
                    tax_class: TaxClass | None = None,
                    properties: Mapping[str, str] | None = None) -> OrderLine:
        self.ensure_open()
        line = self.find_line(line_id)
        new_quantity = line.quantity
        if quantity is not None:
            new_quantity = quantity
        if increment is not None:
            new_quantity += check_quantity(increment, "quantityIncrement")
        if decrement is not None:
            new_quantity -= check_quantity(decrement, "quantityDecrement")
        if not new_quantity.is_finite():
            raise InvalidInput(f"quantity must be a finite number, got {new_quantity}")
        if new_quantity <= 0:
            raise InvalidInput(
                f"quantity of {line.name} would be {new_quantity.normalize():f}; it must be "
                "more than 0 (delete the line to remove it)")
        line.quantity = check_quantity(new_quantity)
        if tax_class is not None:
            line.tax_class_id = tax_class.id
        if properties is not None:
            merge_properties(line.properties, clean_properties(properties, "properties"))
        self.notify(f"{line.name} updated")
        return line

    def remove_line(self, line_id: UUID) -> None:
        self.ensure_open()
        line = self.find_line(line_id)
        for owner in [self.lines, *(top.children for top, _ in self.all_lines())]:
            if line in owner:
                owner.remove(line)
                self.notify(f"{line.name} removed from the order")
                return

    def clear_lines(self, bundle_id: str | None = None) -> None:
        self.ensure_open()
        if bundle_id is None:
            self.lines.clear()
            self.notify("all lines removed from the order")
        else:
            self.bundle(bundle_id).children.clear()
            self.notify(f"all items removed from bundle {bundle_id}")

    # --- settings ------------------------------------------------------------------

    def change_currency(self, currency: Currency,
                        price_of: Callable[[OrderLine], Decimal | None]) -> None:
        """Switch currency: every line takes the catalog's price in the new currency."""
        self.ensure_open()
        if currency.id == self.currency_id:
            return
        missing = [line.name for line, _ in self.all_lines() if price_of(line) is None]
        if missing:
            raise InvalidInput(f"no {currency.code} price for {', '.join(missing)}")
        for line, _ in self.all_lines():
            price = price_of(line)
            assert price is not None  # noqa: S101 (checked above)
            line.unit_price = price
        self.currency_id = currency.id
        self.notify(f"currency changed to {currency.code}")

    def set_shipping_method(self, config: StoreConfig, method: ShippingMethod | None,
                            option_key: str | None = None) -> None:
        self.ensure_open()
        if method is None:
            if option_key:
                raise InvalidInput("shippingOption needs a shippingMethod")
            self.shipping_method_id = None
            self.shipping_option_id = None
            return
        country = config.country_by_id(self.effective_shipping_country_id)
        if country is not None and not method.allowed_in(country.id,
                                                         self.effective_shipping_region_id):
            raise NotAllowedHere(f"shipping method {method.alias!r} does not ship to "
                                 f"{country.code}")
        option_id = None
        if option_key:
            option = next((o for o in method.options
                           if str(o.id) == option_key.strip()
                           or o.alias.lower() == option_key.strip().lower()), None)
            if option is None:
                raise InvalidInput(f"shipping method {method.alias!r} has no option "
                                   f"{option_key!r}")
            if option.prices.get(self.currency_id) is None:
                raise InvalidInput(f"shipping option {option.alias!r} has no price in the "
                                   "order's currency")
            option_id = option.id
        elif method.price_in(self.currency_id) is None:
            raise InvalidInput(f"shipping method {method.alias!r} has no price in the order's "
                               "currency")
        self.shipping_method_id = method.id
        self.shipping_option_id = option_id

    def set_payment_method(self, config: StoreConfig, method: PaymentMethod | None) -> None:
        self.ensure_open()
        if method is None:
            self.payment_method_id = None
            return
        country = config.country_by_id(self.billing_country_id)
        if country is not None and not method.allowed_in(country.id, self.billing_region_id):
            raise NotAllowedHere(f"payment method {method.alias!r} is not available in "
                                 f"{country.code}")
        self.payment_method_id = method.id

    def drop_unavailable_methods(self, config: StoreConfig) -> None:
        """After a country change, methods that no longer apply are removed (with a notice)."""
        shipping = config.shipping_method_by_id(self.shipping_method_id)
        country_id = self.effective_shipping_country_id
        if shipping is not None and country_id is not None and not shipping.allowed_in(
                country_id, self.effective_shipping_region_id):
            self.shipping_method_id = self.shipping_option_id = None
            self.notify(f"shipping method {shipping.name} does not ship there and was removed",
                        "Warning")
        payment = config.payment_method_by_id(self.payment_method_id)
        if payment is not None and self.billing_country_id is not None and not payment.allowed_in(
                self.billing_country_id, self.billing_region_id):
            self.payment_method_id = None
            self.notify(f"payment method {payment.name} is not available there and was "
                        "removed", "Warning")

    # --- discount codes and gift cards --------------------------------------------------

    def redeem(self, config: StoreConfig, code: str, at: datetime,
               usage: CodeUsage | None = None, card: GiftCard | None = None) -> None:
        """Redeem a discount code (``usage``: its uses so far) or a gift card (``card``).

        Raises ``CodeRejected`` saying why a code cannot be used; redeeming a code twice
        changes nothing.
        """
        self.ensure_open()
        code = normalize_code(code)
        if code in self.discount_codes or code in self.gift_card_codes:
            return
        found = config.discount_code(code)
        if found is not None:
            discount, _ = found
            reason = discount.why_not(at)
            if reason is None and usage is not None and usage.exhausted:
                reason = "has been used up"
            if reason is not None:
                raise CodeRejected(f"discount code {code!r} {reason}")
            if len(self.discount_codes) >= MAX_CODES:
                raise CodeRejected(f"at most {MAX_CODES} discount codes per order")
            self.discount_codes.append(code)
            if usage is not None:
                self.code_usage[code] = usage
            self.notify(f"discount code {code} redeemed")
            return
        if card is not None:
            reason = card.why_not(self.currency_id, at)
            if reason is not None:
                raise CodeRejected(f"gift card {code!r} {reason}")
            if len(self.gift_card_codes) >= MAX_CODES:
                raise CodeRejected(f"at most {MAX_CODES} gift cards per order")
            self.gift_card_codes.append(code)
            self.gift_cards[code] = card
            self.notify(f"gift card {code} redeemed")
            return
        raise CodeRejected(f"no discount or gift card with code {code!r}")

    def unredeem(self, code: str) -> None:
        self.ensure_open()
        code = normalize_code(code)
        if code in self.discount_codes:
            self.discount_codes.remove(code)
            self.code_usage.pop(code, None)
            self.notify(f"discount code {code} removed")
        elif code in self.gift_card_codes:
            self.gift_card_codes.remove(code)
            self.gift_cards.pop(code, None)
            self.notify(f"gift card {code} removed")
        else:
            raise CodeRejected(f"code {code!r} is not redeemed on this order")

    def set_tags(self, tags: list[str]) -> None:
        self.ensure_open()
        self.tags = clean_tags(tags)

    def set_properties(self, values: Mapping[str, str]) -> None:
        """Merge properties; an empty value removes the property."""
        self.ensure_open()
        merge_properties(self.properties, clean_properties(values, "properties"))

    # --- finalization --------------------------------------------------------------

    def initialize_transaction(self, order_number: str) -> None:
        """Prepare for payment: the order gets its number (kept once assigned)."""
        self.ensure_open()
        if self.order_number is None:
            self.order_number = order_number
        self.payment_status = PaymentStatus.INITIALIZED

    def payment_failed(self, status: PaymentStatus, at: datetime, *, reference: str,
                       checkout: str, amount: Decimal) -> bool:
        """A cancelled or failed payment leaves the cart open and payable; reported once
        per status (False: nothing changed)."""
        if self.is_finalized or self.payment_status is status:
            return False
        self.payment_status = status
        self.updated_at = at
        self.events.append(PaymentFailed(self.store_id, self.id, self.order_number, at,
                                         status, reference, checkout, amount))
        return True

    def finalize(self, at: datetime, *, amount: Decimal, transaction_id: str,
                 payment_status: PaymentStatus, currency_code: str,
                 fee: Decimal | None = None, order_status_id: UUID | None = None,
                 metadata: Mapping[str, str] | None = None,
                 total_price: Decimal | None = None) -> domain_events.OrderFinalized:
        """Place the order for a payment (the settlement machine decided it may): nothing
        shipped or refunded yet, and captured only when the payment was captured."""
        self.ensure_open()
        self.finalized_at = at
        self.authorized_amount = amount
        self.total_price = total_price
        self.captured_amount = amount if payment_status is PaymentStatus.CAPTURED else None
        self.refunded_amount = Decimal(0)
        self.refund_pending_amount = Decimal(0)
        self.fulfilment_status = FulfilmentStatus.UNFULFILLED
        self.fee_amount = fee
        self.transaction_id = transaction_id
        self.payment_status = payment_status
        if order_status_id is not None:
            self.order_status_id = order_status_id
        for key, value in (metadata or {}).items():
            if value:
                self.server_properties[key] = value
        self.updated_at = at
        placed = domain_events.OrderFinalized(self.store_id, self.id, self.order_number, at,
                                transaction_id, payment_status, amount, currency_code)
        self.events.append(placed)
        return placed

    def advance_payment(self, status: PaymentStatus, at: datetime, *, cause: str,
                        amount: Decimal | None = None, currency_code: str | None = None
                        ) -> None:
        """The placed order's payment moved on (captured, cancelled, refunded …)."""
        previous = self.payment_status
        self.payment_status = status
        self.updated_at = at
        self.events.append(PaymentStatusChanged(
            self.store_id, self.id, self.order_number, at, self.transaction_id, status,
            previous, amount, currency_code, cause))

    def payment_not_applied(self, at: datetime, *, transaction_id: str, reference: str,
                            status: PaymentStatus, amount: Decimal, currency_code: str | None,
                            reason: str) -> PaymentNotApplied:
        """Money was taken that this order cannot use; the order itself is unchanged."""
        news = PaymentNotApplied(self.store_id, self.id, self.order_number, at,
                                 transaction_id, reference, status, amount, currency_code,
                                 reason)
        self.events.append(news)
        return news


def clean_tags(tags: list[str]) -> list[str]:
    """Tags as kept: trimmed, printable, at most 100 characters each, without repeats or
    empty ones, at most ``MAX_TAGS``."""
    cleaned: list[str] = []
    for given in tags:
        tag = given.strip()
        if len(tag) > 100 or has_control_characters(given):
            raise InvalidInput("tags must be at most 100 printable characters")
        if tag and tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags")
    return cleaned


def merge_properties(target: dict[str, str], values: Mapping[str, str]) -> None:
    for key, value in values.items():
        if value == "":
            target.pop(key, None)
        else:
            target[key] = value


def check_quantity(value: Decimal, what: str = "quantity") -> Decimal:
    if not value.is_finite() or value <= 0:
        raise InvalidInput(f"{what} must be more than 0, got {value}")
    if value > MAX_QUANTITY:
        raise InvalidInput(f"{what} must be at most {MAX_QUANTITY}")
    if decimal_places_of(value) > 6:
        raise InvalidInput(f"{what} {value} has more than 6 decimal places")
    return value


__all__ = ["MAX_PROPERTY_LENGTH", "FulfilmentStatus", "InsufficientStock", "NotAllowedHere",
           "Notice", "Order", "OrderFinalized", "OrderLine", "check_quantity", "clean_tags"]
