"""Turn Storefront API documents into the plain values the demo's templates show.

Templates stay free of API shapes: amounts are the API's own formatted texts (kasse
formats them in the currency's culture), so the demo never does arithmetic on money.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Json = Any
INLINE_PROVIDERS = frozenset({"invoicing", "zerovalue"})
"""Providers the demo pays inline (initialize, then confirm); the others are hosted."""


def money(price: Json, key: str = "withTax") -> str:
    """The formatted text of a price (``value`` of an adjusted price when present)."""
    if not isinstance(price, dict):
        return ""
    if "value" in price and isinstance(price["value"], dict):
        price = price["value"]
    formatted = price.get("formatted") or {}
    return str(formatted.get(key) or formatted.get("value") or "")


def before_adjustments(price: Json, key: str = "withTax") -> str:
    """The formatted price before discounts (with ``expand=$prices``), else its value."""
    if isinstance(price, dict) and isinstance(price.get("withoutAdjustments"), dict):
        return money(price["withoutAdjustments"], key)
    return money(price, key)


@dataclass
class Adjustment:
    name: str
    amount: str


def adjustments(price: Json) -> list[Adjustment]:
    """Discounts (price adjustments) or gift cards (amount adjustments) on a total."""
    found = []
    for adjustment in (price or {}).get("adjustments") or []:
        change = adjustment.get("price") or adjustment.get("amount")
        found.append(Adjustment(str(adjustment.get("name") or ""), money(change)))
    return found


def _name(entity: Json, fallback: str = "") -> str:
    if not isinstance(entity, dict):
        return fallback
    return str(entity.get("name") or entity.get("alias") or entity.get("code") or fallback)


def _quantity(value: Json) -> int:
    try:
        return int(Decimal(str(value)))
    except (ArithmeticError, ValueError):
        return 0


def attributes_text(attributes: Json) -> str:
    parts = []
    for attribute in attributes or []:
        name = _name(attribute.get("name"))
        value = _name(attribute.get("value"))
        if name and value:
            parts.append(f"{name}: {value}")
    return ", ".join(parts)


@dataclass
class ProductChoice:
    reference: str
    variant: str | None
    label: str
    price: str
    sold_out: bool


@dataclass
class ProductCard:
    reference: str
    name: str
    price: str
    image: str | None
    description: str
    sold_out: bool
    initial: str
    choices: list[ProductChoice] = field(default_factory=list)


def product_cards(products: list[Json]) -> list[ProductCard]:
    """One card per product; a product's variants become the choices on its card."""
    cards: dict[str, ProductCard] = {}
    for product in products:
        reference = str(product.get("productReference") or "")
        variant = product.get("productVariantReference")
        stock = product.get("stock")
        sold_out = stock is not None and Decimal(str(stock)) <= 0
        price = money(product.get("price"))
        if variant is None:
            name = str(product.get("name") or reference)
            properties = product.get("properties") or {}
            cards[reference] = ProductCard(
                reference=reference, name=name, price=price,
                image=_local_image(product.get("imageUrl")),
                description=str(properties.get("description") or ""), sold_out=sold_out,
                initial=(name[:1] or "?").upper())
            continue
        card = cards.get(reference)
        if card is None:
            continue
        label = attributes_text(product.get("attributes")) or str(product.get("name") or "")
        card.choices.append(ProductChoice(reference, str(variant), label, price, sold_out))
    for card in cards.values():
        if card.choices:
            card.sold_out = all(choice.sold_out for choice in card.choices)
    return list(cards.values())


def _local_image(url: Json) -> str | None:
    # Only the demo's own pictures: the page's CSP allows images from itself alone.
    if isinstance(url, str) and url.startswith("/demo/static/") and ".." not in url:
        return url
    return None


@dataclass
class CartLine:
    id: str
    name: str
    sku: str
    details: str
    quantity: int
    unit_price: str
    total: str


@dataclass
class Address:
    name: str
    lines: list[str]


@dataclass
class CartView:
    id: str
    cart_number: str
    order_number: str | None
    finalized: bool
    currency: str
    lines: list[CartLine]
    item_count: int
    subtotal: str
    shipping: str
    shipping_method: str | None
    payment_fee: str
    payment_method: str | None
    payment_provider: str | None
    tax: str
    total: str
    to_pay: str
    payment_status: str | None
    email: str
    billing: Address | None
    shipping_address: Address | None
    codes: list[str] = field(default_factory=list)
    """Discount codes and gift cards redeemed on the cart."""
    discounts: list[Adjustment] = field(default_factory=list)
    gift_cards: list[Adjustment] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.lines

    @property
    def pays_inline(self) -> bool:
        return (self.payment_provider or "").lower() in INLINE_PROVIDERS


def cart_view(order: Json) -> CartView:
    payment = order.get("paymentInfo") or {}
    shipping = order.get("shippingInfo") or {}
    method = payment.get("paymentMethod")
    transaction = order.get("transactionInfo") or {}
    lines = [CartLine(id=str(line["id"]), name=str(line.get("name") or ""),
                      sku=str(line.get("sku") or ""),
                      details=attributes_text(line.get("attributes")),
                      quantity=_quantity(line.get("quantity")),
                      unit_price=money(line.get("unitPrice")),
                      total=money(line.get("totalPrice")))
             for line in order.get("orderLines") or []]
    properties = order.get("properties") or {}
    return CartView(
        id=str(order["id"]), cart_number=str(order.get("cartNumber") or ""),
        order_number=order.get("orderNumber"), finalized=bool(order.get("isFinalized")),
        currency=str((order.get("currency") or {}).get("code") or ""), lines=lines,
        item_count=sum(line.quantity for line in lines),
        subtotal=before_adjustments(order.get("subtotalPrice")),
        shipping=before_adjustments(shipping.get("totalPrice")),
        shipping_method=_method_name(shipping.get("shippingMethod"),
                                     shipping.get("shippingOption")),
        payment_fee=money(payment.get("totalPrice")),
        payment_method=_name(method) if method else None,
        payment_provider=(method or {}).get("paymentProviderAlias"),
        tax=money(order.get("totalPrice"), "tax"), total=money(order.get("totalPrice")),
        to_pay=money(order.get("transactionAmount"), "value"),
        payment_status=transaction.get("paymentStatus") or properties.get("paymentStatus"),
        email=str(properties.get("email") or ""),
        billing=_address(properties, "billing", payment.get("country")),
        shipping_address=_address(properties, "shipping", shipping.get("country")),
        codes=[str(entry.get("code")) for entry in [*(order.get("discountCodes") or []),
                                                   *(order.get("giftCards") or [])]
               if entry.get("code")],
        discounts=[*adjustments(order.get("subtotalPrice")),
                   *adjustments(shipping.get("totalPrice")),
                   *adjustments(order.get("totalPrice"))],
        gift_cards=adjustments(order.get("transactionAmount")))


def _method_name(method: Json, option: Json) -> str | None:
    if not method:
        return None
    name = _name(method)
    option_name = _name(option) if option else ""
    return f"{name} ({option_name})" if option_name else name


def _address(properties: dict[str, Any], prefix: str, country: Json) -> Address | None:
    def get(name: str) -> str:
        return str(properties.get(f"{prefix}{name}") or "")

    first = get("FirstName") or (str(properties.get("firstName") or "")
                                 if prefix == "billing" else "")
    last = get("LastName") or (str(properties.get("lastName") or "")
                               if prefix == "billing" else "")
    line1 = get("AddressLine1")
    if not line1:
        return None
    place = " ".join(part for part in (get("ZipCode"), get("City")) if part)
    lines = [line1, *([get("AddressLine2")] if get("AddressLine2") else []), place,
             _name(country)]
    return Address(name=f"{first} {last}".strip(), lines=[line for line in lines if line])


@dataclass
class ShippingChoice:
    value: str
    """``method`` or ``method:option``, as the demo's form posts it."""
    label: str
    price: str


def shipping_choices(methods: list[Json]) -> list[ShippingChoice]:
    choices = []
    for method in methods:
        alias = str(method["alias"])
        for rate in method.get("rates") or []:
            option = rate.get("option")
            if option:
                choices.append(ShippingChoice(f"{alias}:{option['id']}",
                                              f"{_name(method)} – {_name(option)}",
                                              money(rate.get("value"))))
            else:
                choices.append(ShippingChoice(alias, _name(method), money(rate.get("value"))))
    return choices


@dataclass
class PaymentChoice:
    value: str
    label: str
    fee: str
    hosted: bool


def payment_choices(methods: list[Json]) -> list[PaymentChoice]:
    return [PaymentChoice(str(m["alias"]), _name(m), money(m.get("fee")),
                          str(m.get("paymentProviderAlias") or "").lower()
                          not in INLINE_PROVIDERS)
            for m in methods]


def current_shipping_choice(order: Json) -> str | None:
    shipping = order.get("shippingInfo") or {}
    method = shipping.get("shippingMethod")
    if not method:
        return None
    option = shipping.get("shippingOption")
    return f"{method['alias']}:{option['id']}" if option else str(method["alias"])


def current_payment_choice(order: Json) -> str | None:
    method = (order.get("paymentInfo") or {}).get("paymentMethod")
    return str(method["alias"]) if method else None
