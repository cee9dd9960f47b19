"""What a shopper's email shows, as plain values for its templates: the order with its
lines, options, discounts, gift cards, fees, tax and totals (each amount written as the
currency's culture writes it), the addresses, and what the event adds (a shipment, a
refund, a cancellation).

The templates see only these values. ``sample`` builds the same shapes from made-up
data, so that a store's templates are rendered once at import and a mistake in them is
found there rather than when a shopper's message is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date

from kasse.domain.emails import EmailType, mask_code
from kasse.domain.order import Order, OrderLine
from kasse.domain.order_calculation import OrderCalculation, PriceAdjustment
from kasse.domain.pricing import Price
from kasse.domain.store import Currency, StoreConfig
from kasse.services.formatting import format_amount

HIDDEN_PROPERTY_PREFIXES = ("_", "kasse")
"""Line properties a storefront keeps for itself, never shown to the shopper."""


@dataclass(frozen=True, slots=True)
class Amount:
    name: str
    amount: str


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    sku: str
    quantity: str
    options: tuple[tuple[str, str], ...]
    """Variant attributes and the line's own properties (engraving, gift note …)."""
    unit_price: str
    total: str
    discounts: tuple[Amount, ...] = ()
    items: tuple[Line, ...] = ()
    """A bundle's items."""


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    company: str
    street: tuple[str, ...]
    zip_code: str
    city: str
    region: str
    country: str


@dataclass(frozen=True, slots=True)
class Customer:
    first_name: str
    last_name: str
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    option: str
    fee: str
    has_fee: bool
    provider: str = ""
    instructions: str | None = None


@dataclass(frozen=True, slots=True)
class OrderView:
    number: str
    placed_on: str
    currency: str
    prices_include_tax: bool
    lines: tuple[Line, ...]
    subtotal: str
    discounts: tuple[Amount, ...]
    shipping: Method | None
    payment: Method | None
    tax: str
    total: str
    gift_cards: tuple[Amount, ...]
    to_pay: str
    billing: Address | None
    shipping_address: Address | None


@dataclass(frozen=True, slots=True)
class Shipment:
    lines: tuple[Line, ...]
    carrier: str
    tracking_number: str
    tracking_url: str
    """Only an http(s) URL, else empty."""


@dataclass(frozen=True, slots=True)
class Refund:
    amount: str
    reason: str
    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class Cancellation:
    reason: str
    refunded: str


@dataclass(frozen=True, slots=True)
class MessageView:
    """Everything a message's templates may show."""

    type: str
    language: str
    store: str
    customer: Customer
    order: OrderView
    shipment: Shipment | None = None
    refund: Refund | None = None
    cancellation: Cancellation | None = None

    def context(self) -> dict[str, Any]:
        return {"type": self.type, "language": self.language, "store": self.store,
                "customer": self.customer, "order": self.order, "shipment": self.shipment,
                "refund": self.refund, "cancellation": self.cancellation}


def build(order: Order, config: StoreConfig, calculation: OrderCalculation,
          email_type: EmailType, language: str, payload: Mapping[str, Any]) -> MessageView:
    """The view of ``order`` for a message of ``email_type`` about the event whose
    webhook ``payload`` is given."""
    currency = config.currency_by_id(order.currency_id)
    if currency is None:
        raise LookupError(f"the order's currency {order.currency_id} is not in the store")
    money = _Money(currency, config.store.prices_include_tax)
    props = order.properties
    customer = Customer(props.get("firstName", ""), props.get("lastName", ""),
                        full_name(props.get("firstName"), props.get("lastName")),
                        props.get("email", ""))
    view = MessageView(type=email_type.value, language=language, store=config.store.name,
                       customer=customer,
                       order=_order(order, config, calculation, money, language))
    lines = _event_lines(order, payload.get("lines"))
    if email_type is EmailType.SHIPPED:
        url = str(payload.get("trackingUrl") or "")
        view = _with(view, shipment=Shipment(
            lines, str(payload.get("carrier") or ""), str(payload.get("trackingNumber") or ""),
            url if url.startswith(("https://", "http://")) else ""))
    elif email_type is EmailType.REFUNDED:
        view = _with(view, refund=Refund(money.text(payload.get("amount")),
                                         str(payload.get("reason") or ""), lines))
    elif email_type is EmailType.CANCELED:
        refunded = payload.get("refunded")
        view = _with(view, cancellation=Cancellation(
            str(payload.get("reason") or ""), money.text(refunded) if refunded else ""))
    return view


def _with(view: MessageView, **changes: Any) -> MessageView:
    values = {name: getattr(view, name) for name in MessageView.__dataclass_fields__}
    return MessageView(**{**values, **changes})


class _Money:
    def __init__(self, currency: Currency, includes_tax: bool) -> None:
        self.currency = currency
        self.includes_tax = includes_tax

    def of(self, price: Price) -> str:
        """A price as the store shows its prices: with tax or without."""
        return self.amount(price.with_tax if self.includes_tax else price.without_tax)

    def amount(self, value: Decimal) -> str:
        return format_amount(value, self.currency)

    def text(self, value: Any) -> str:
        """An amount from an event's payload (a decimal string)."""
        try:
            return self.amount(Decimal(str(value)))
        except (InvalidOperation, ValueError):
            return ""


def full_name(first: str | None, last: str | None) -> str:
    """First and last name as one, either of them may be missing."""
    return " ".join(part for part in (first or "", last or "") if part.strip())


def _order(order: Order, config: StoreConfig, calc: OrderCalculation, money: _Money,
           language: str) -> OrderView:
    discounts = [*calc.subtotal.adjustments, *calc.shipping.price.adjustments,
                 *calc.total.adjustments]
    shipping = config.shipping_method_by_id(order.shipping_method_id)
    option = next((o for o in shipping.options if o.id == order.shipping_option_id), None) \
        if shipping else None
    payment = config.payment_method_by_id(order.payment_method_id)
    shipping_fee = calc.shipping.price.without_adjustments
    payment_fee = calc.payment.price.value
    instructions = None
    if payment is not None:
        text = config.store.emails.instructions(payment.alias, language)
        if text:
            instructions = (text.replace("{orderNumber}", order.order_number or "")
                            .replace("{amount}", money.amount(calc.transaction_amount)))
    placed = order.finalized_at or order.updated_at
    return OrderView(
        number=order.order_number or order.cart_number,
        placed_on=format_date(placed.date(), format="long", locale=language),
        currency=money.currency.code, prices_include_tax=money.includes_tax,
        lines=tuple(_line(line, calc, money) for line in order.lines),
        subtotal=money.of(calc.subtotal.value),
        discounts=tuple(_adjustment(a, money) for a in discounts),
        shipping=None if shipping is None else Method(
            shipping.name, option.name if option else "", money.of(shipping_fee),
            shipping_fee.with_tax != 0),
        payment=None if payment is None else Method(
            payment.name, "", money.of(payment_fee), payment_fee.with_tax != 0,
            payment.provider_alias, instructions),
        tax=money.amount(calc.total.value.tax), total=money.amount(calc.total.value.with_tax),
        gift_cards=tuple(Amount(mask_code(card.code), money.amount(-card.amount))
                         for card in calc.gift_cards),
        to_pay=money.amount(calc.transaction_amount),
        billing=_address(order, config, "billing"),
        shipping_address=_address(order, config, "shipping"))


def _adjustment(adjustment: PriceAdjustment, money: _Money) -> Amount:
    return Amount(adjustment.name, money.of(adjustment.price))


def _options(line: OrderLine) -> tuple[tuple[str, str], ...]:
    attributes = [(name, value) for _alias, name, _value_alias, value in line.attributes]
    shown = [(key, value) for key, value in line.properties.items()
             if not key.startswith(HIDDEN_PROPERTY_PREFIXES)]
    return tuple(attributes + shown)


def _line(line: OrderLine, calc: OrderCalculation, money: _Money) -> Line:
    figures = calc.lines.get(line.id)
    unit = money.of(figures.unit_price.value) if figures else ""
    total = money.of(figures.total_price.value) if figures else ""
    discounts = tuple(_adjustment(a, money) for a in figures.total_price.adjustments) \
        if figures else ()
    return Line(line.name, line.sku, _quantity(line.quantity), _options(line), unit, total,
                discounts, tuple(_line(child, calc, money) for child in line.children))


def _quantity(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _event_lines(order: Order, given: Any) -> tuple[Line, ...]:
    """The lines an event names (``[{lineId, sku, quantity}]``), with the order's names."""
    if not isinstance(given, list):
        return ()
    names = {str(line.id): line for line, _ in order.all_lines()}
    shown = []
    for entry in given:
        if not isinstance(entry, Mapping):
            continue
        line = names.get(str(entry.get("lineId")))
        try:
            quantity = _quantity(Decimal(str(entry.get("quantity"))))
        except (InvalidOperation, ValueError):
            quantity = ""
        shown.append(Line(line.name if line else str(entry.get("sku") or ""),
                          line.sku if line else str(entry.get("sku") or ""), quantity,
                          _options(line) if line else (), "", ""))
    return tuple(shown)


def _address(order: Order, config: StoreConfig, kind: str) -> Address | None:
    p = order.properties
    if kind == "billing" or order.shipping_same_as_billing:
        first, last, company = p.get("firstName"), p.get("lastName"), p.get("billingCompany")
        country_id, region_id = order.billing_country_id, order.billing_region_id
        prefix = "billing"
    else:
        first, last = p.get("shippingFirstName"), p.get("shippingLastName")
        company = p.get("shippingCompany")
        country_id = order.effective_shipping_country_id
        region_id = order.effective_shipping_region_id
        prefix = "shipping"
    street = tuple(value for key in ("AddressLine1", "AddressLine2")
                   if (value := p.get(prefix + key, "").strip()))
    country = config.country_by_id(country_id)
    region = config.region_by_id(region_id)
    if not street and country is None:
        return None
    return Address(full_name(first, last), company or "", street, p.get(prefix + "ZipCode", ""),
                   p.get(prefix + "City", ""), region.name if region else "",
                   country.name if country else "")


def sample(email_type: EmailType, language: str, store: str = "Sample Shop") -> MessageView:
    """A message of every kind of content, made up, to render templates with at import."""
    amount = "12.34"
    line = Line("Sample product", "SKU-1", "2", (("Size", "M"), ("Engraving", "For Ada")),
                amount, amount, (Amount("Sample discount", "-1.00"),),
                (Line("Bundle item", "SKU-2", "1", (), amount, amount),))
    address = Address("Ada Lovelace", "Analytical Ltd", ("1 Sample Street", "Floor 2"),
                      "12345", "Sample City", "Sample Region", "Sample Country")
    method = Method("Sample method", "Sample option", amount, True, "invoicing",
                    "Please pay within 14 days.")
    order = OrderView(
        number="ORDER-00001", placed_on=format_date(date(2026, 1, 2), "long", locale=language),
        currency="EUR", prices_include_tax=True, lines=(line,), subtotal=amount,
        discounts=(Amount("Sample discount", "-1.00"),), shipping=method, payment=method,
        tax=amount, total=amount, gift_cards=(Amount("…1234", "-5.00"),), to_pay=amount,
        billing=address, shipping_address=address)
    return MessageView(
        type=email_type.value, language=language, store=store,
        customer=Customer("Ada", "Lovelace", "Ada Lovelace", "ada@example.com"), order=order,
        shipment=Shipment((line,), "Sample Carrier", "TRACK123",
                          "https://track.example/TRACK123"),
        refund=Refund(amount, "Sample reason", (line,)),
        cancellation=Cancellation("Sample reason", amount))

