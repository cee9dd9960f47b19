"""``PATCH`` of an order: what a storefront can change in one request, applied in an order
that keeps the result consistent (addresses before methods, countries before prices)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Final

from kasse.domain import order_properties as props
from kasse.domain.discounts import normalize_code
from kasse.domain.errors import InvalidInput
from kasse.domain.order import Order, OrderLine
from kasse.domain.session import parse_language
from kasse.domain.store import Country, Currency, Region, StoreConfig
from kasse.domain.text import has_control_characters
from kasse.services.ports import OrderUnit


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""A field the request did not mention (``None`` means it asked to clear it)."""


@dataclass(frozen=True, slots=True)
class AddressChange:
    fields: dict[str, str | None] = field(default_factory=dict)
    country: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class ShippingAddressChange(AddressChange):
    same_as_billing: bool = False
    contact: dict[str, str | None] | None = None


@dataclass(frozen=True, slots=True)
class OrderChange:
    language: str | None | _Unset = UNSET
    currency: str | None | _Unset = UNSET
    tax_class: str | None | _Unset = UNSET
    customer_reference: str | None | _Unset = UNSET
    customer: dict[str, str | None] | None = None
    billing_address: AddressChange | None = None
    shipping_address: ShippingAddressChange | None = None
    shipping_method: str | None | _Unset = UNSET
    shipping_option: str | None | _Unset = UNSET
    payment_method: str | None | _Unset = UNSET
    redeem: list[str] = field(default_factory=list)
    unredeem: list[str] = field(default_factory=list)
    properties: dict[str, str] | None = None
    tags: list[str] | None = None


def customer_reference(value: str | None, what: str = "customerReference") -> str | None:
    """The reference trimmed (``None`` when blank); ``what`` names where it came from."""
    if value is None or not value.strip():
        return None
    if len(value.strip()) > 200 or has_control_characters(value):
        raise InvalidInput(f"{what} must be at most 200 printable characters")
    return value.strip()


def _destination(config: StoreConfig, change: AddressChange, current_country: Country | None,
                 what: str) -> tuple[Country | None, Region | None]:
    country = current_country
    if change.country is not None and change.country.strip():
        country = config.country(change.country)
        if country is None:
            raise InvalidInput(f"{what}.country: the store has no country {change.country!r}")
    region = None
    if change.region is not None and change.region.strip():
        if country is None:
            raise InvalidInput(f"{what}.region needs a country")
        region = country.region(change.region)
        if region is None:
            raise InvalidInput(f"{what}.region: {country.code} has no region {change.region!r}")
    return country, region


async def apply(order: Order, config: StoreConfig, change: OrderChange, unit: OrderUnit,
                at: datetime | None = None) -> None:
    """Apply a ``PATCH``; any invalid part fails the whole request (nothing is saved)."""
    order.ensure_open()
    updates: dict[str, str] = {}
    if change.language is not UNSET:
        order.language = parse_language(change.language, "language")
    if change.customer_reference is not UNSET:
        order.customer_reference = customer_reference(change.customer_reference)
    if change.tax_class is not UNSET:
        order.tax_class_id = None
        if change.tax_class is not None and change.tax_class.strip():
            tax_class = config.tax_class(change.tax_class)
            if tax_class is None:
                raise InvalidInput(f"taxClass: the store has no tax class {change.tax_class!r}")
            order.tax_class_id = tax_class.id
    if change.customer is not None:
        updates.update(props.mirror(change.customer, props.CUSTOMER_PROPERTIES, "customer"))
    countries_changed = False
    if change.billing_address is not None:
        country, region = _destination(config, change.billing_address,
                                       config.country_by_id(order.billing_country_id),
                                       "billingAddress")
        countries_changed = True
        order.billing_country_id = country.id if country else None
        order.billing_region_id = region.id if region else None
        updates.update(props.mirror(change.billing_address.fields, props.BILLING_PROPERTIES,
                                    "billingAddress"))
    if change.shipping_address is not None:
        countries_changed = True
        shipping = change.shipping_address
        order.shipping_same_as_billing = shipping.same_as_billing
        updates[props.SAME_AS_BILLING] = "1" if shipping.same_as_billing else "0"
        if not shipping.same_as_billing:
            country, region = _destination(
                config, shipping, config.country_by_id(order.effective_shipping_country_id),
                "shippingAddress")
            order.shipping_country_id = country.id if country else None
            order.shipping_region_id = region.id if region else None
            updates.update(props.mirror(shipping.fields, props.SHIPPING_PROPERTIES,
                                        "shippingAddress"))
            updates.update(props.mirror(shipping.contact or {}, props.CONTACT_PROPERTIES,
                                        "shippingAddress.contact"))
    order.set_properties(updates)
    if order.shipping_same_as_billing:
        order.shipping_country_id = order.billing_country_id
        order.shipping_region_id = order.billing_region_id
        order.set_properties(props.shipping_follows_billing(order.properties))

    if change.currency is not UNSET and change.currency is not None and change.currency.strip():
        currency = config.currency(change.currency)
        if currency is None:
            raise InvalidInput(f"currency: the store has no currency {change.currency!r}")
        if currency.id != order.currency_id:
            await _reprice(order, config, currency, unit)

    if countries_changed:
        order.drop_unavailable_methods(config)
    if change.shipping_method is not UNSET or change.shipping_option is not UNSET:
        method_key = (change.shipping_method if change.shipping_method is not UNSET
                      else (str(order.shipping_method_id) if order.shipping_method_id else None))
        option_key = change.shipping_option if change.shipping_option is not UNSET else None
        method = None
        if method_key is not None and method_key.strip():
            method = config.shipping_method(method_key)
            if method is None:
                raise InvalidInput(f"shippingMethod: the store has no shipping method "
                                   f"{method_key!r}")
        order.set_shipping_method(config, method, option_key)
    if change.payment_method is not UNSET:
        payment = None
        if change.payment_method is not None and change.payment_method.strip():
            payment = config.payment_method(change.payment_method)
            if payment is None:
                raise InvalidInput(f"paymentMethod: the store has no payment method "
                                   f"{change.payment_method!r}")
        order.set_payment_method(config, payment)
    if change.properties is not None:
        order.set_properties(change.properties)
    if change.tags is not None:
        order.set_tags(change.tags)
    for code in change.unredeem:
        order.unredeem(code)
    for code in change.redeem:
        await _redeem(order, config, code, unit, at or datetime.now(UTC))
    order.notify("order updated")


async def _redeem(order: Order, config: StoreConfig, code: str, unit: OrderUnit,
                  at: datetime) -> None:
    """Redeem a discount code or gift card, knowing its uses and balance right now."""
    normalized = normalize_code(code)
    if config.discount_code(normalized) is not None:
        usage = (await unit.redemptions.usage(order.store_id, [normalized])).get(normalized)
        order.redeem(config, normalized, at, usage=usage)
        return
    card = (await unit.redemptions.gift_cards(order.store_id, [normalized])).get(normalized)
    order.redeem(config, normalized, at, card=card)


async def _reprice(order: Order, config: StoreConfig, currency: Currency, unit: OrderUnit
                   ) -> None:
    """Lines take the catalog's prices in the new currency (frozen again from now on)."""
    references = sorted({line.product_reference for line, _ in order.all_lines()})
    products = {p.reference: p for p in await unit.catalog.products_by_reference(
        config.store, references, order_id=order.id)} if references else {}

    def price_of(line: OrderLine) -> Decimal | None:
        product = products.get(line.product_reference)
        return product.price_in(currency.id, line.variant_reference) if product else None

    order.change_currency(currency, price_of)
    shipping = config.shipping_method_by_id(order.shipping_method_id)
    option = next((o for o in shipping.options if o.id == order.shipping_option_id),
                  None) if shipping else None
    fee = option.prices.get(currency.id) if option else (
        shipping.price_in(currency.id) if shipping else None)
    if shipping is not None and fee is None:
        order.shipping_method_id = order.shipping_option_id = None
        order.notify(f"shipping method {shipping.name} has no {currency.code} price and was "
                     "removed", "Warning")
