"""The order as a merchant's system reads it in a webhook: number, statuses, currency,
totals, lines, customer and addresses, so that a mailer or an ERP never has to call back.

One shape for every order event (``order.finalized``, ``order.payment_status_changed`` …),
built from the Order aggregate and the store's configuration when the unit of work writes
the event to the outbox: it shows the order as it was committed with the event.
Amounts are decimal strings with the currency's decimals, gross (tax included) unless the
name says otherwise; quantities are plain decimal strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kasse.domain.events import units
from kasse.domain.money import round_to
from kasse.domain.order import Order, OrderLine
from kasse.domain.order_calculation import OrderCalculation, calculate
from kasse.domain.order_properties import (
    BILLING_PROPERTIES,
    CONTACT_PROPERTIES,
    CUSTOMER_PROPERTIES,
    SHIPPING_PROPERTIES,
    customer_info,
)
from kasse.domain.store import StoreConfig
from kasse.domain.webhooks import timestamp

ORDER_KEY = "order"
"""Where an order event's payload carries the snapshot."""

_CONTACT = ("firstName", "lastName", "company", "email", "telephone", "mobile")


class _Amounts:
    def __init__(self, places: int) -> None:
        self.places = places

    def __call__(self, value: Decimal) -> str:
        return f"{round_to(value, self.places):f}"


def _text(properties: Mapping[str, str], name: str) -> str | None:
    value = properties.get(name, "")
    return value or None


def _billing(order: Order, config: StoreConfig) -> dict[str, Any]:
    props = order.properties
    country = config.country_by_id(order.billing_country_id)
    region = config.region_by_id(order.billing_region_id)
    address: dict[str, Any] = {key: _text(props, CUSTOMER_PROPERTIES[key])
                               for key in _CONTACT}
    address.update({key: _text(props, name) for key, name in BILLING_PROPERTIES.items()})
    address.update({"taxCode": _text(props, CUSTOMER_PROPERTIES["taxCode"]),
                    "country": country.code if country else None,
                    "region": region.code if region else None})
    return address


def _shipping(order: Order, config: StoreConfig) -> dict[str, Any]:
    # With "same as billing" the storefront copied billing's fields into these already.
    props = order.properties
    country = config.country_by_id(order.effective_shipping_country_id)
    region = config.region_by_id(order.effective_shipping_region_id)
    address: dict[str, Any] = {key: _text(props, CONTACT_PROPERTIES[key]) for key in _CONTACT}
    address.update({key: _text(props, name) for key, name in SHIPPING_PROPERTIES.items()})
    address.update({"country": country.code if country else None,
                    "region": region.code if region else None,
                    "sameAsBilling": order.shipping_same_as_billing})
    return address


def _line(line: OrderLine, calc: OrderCalculation, amount: _Amounts) -> dict[str, Any]:
    priced = calc.lines.get(line.id)
    body: dict[str, Any] = {
        "id": str(line.id), "productReference": line.product_reference,
        "variantReference": line.variant_reference, "sku": line.sku, "name": line.name,
        "quantity": units(line.quantity)}
    if priced is not None:
        total = priced.total_price.value
        body.update({"unitPrice": amount(priced.unit_price.value.with_tax),
                     "totalPrice": amount(total.with_tax),
                     "totalTax": amount(total.tax),
                     "taxRate": units(priced.tax_rate)})
    if line.children:
        body["bundleItems"] = [
            {"productReference": child.product_reference,
             "variantReference": child.variant_reference, "sku": child.sku,
             "name": child.name, "quantity": units(child.quantity)}
            for child in line.children]
    return body


def _totals(calc: OrderCalculation, amount: _Amounts) -> dict[str, Any]:
    total = calc.total.value
    return {
        "subtotal": amount(calc.subtotal.value.with_tax),
        "shipping": amount(calc.shipping.price.value.with_tax),
        "paymentFee": amount(calc.payment.price.value.with_tax),
        "discount": amount(-calc.total.total_adjustment.with_tax),
        "totalPrice": amount(total.with_tax),
        "totalWithoutTax": amount(total.without_tax),
        "totalTax": amount(total.tax),
        "giftCards": amount(sum((g.amount for g in calc.gift_cards), Decimal(0))),
        "transactionAmount": amount(calc.transaction_amount),
    }


def order_snapshot(order: Order, config: StoreConfig) -> dict[str, Any]:
    """The order as every order event's webhook payload carries it (under ``order``)."""
    calc = calculate(order, config)
    currency = config.currency_by_id(order.currency_id)
    amount = _Amounts(currency.decimal_places if currency else 2)
    status = config.order_status_by_id(order.order_status_id)
    info = customer_info(order.properties, order.customer_reference)
    shipping_method = config.shipping_method_by_id(order.shipping_method_id)
    payment_method = config.payment_method_by_id(order.payment_method_id)
    return {
        "id": str(order.id),
        "orderNumber": order.order_number,
        "cartNumber": order.cart_number,
        "placedAt": timestamp(order.finalized_at) if order.finalized_at else None,
        "orderStatus": ({"id": str(status.id), "alias": status.alias, "name": status.name}
                        if status is not None else None),
        "paymentStatus": order.payment_status.value if order.payment_status else None,
        "transactionId": order.transaction_id,
        "currency": currency.code if currency else None,
        "language": order.language,
        "customer": {"email": info.email, "firstName": info.first_name,
                     "lastName": info.last_name, "reference": info.customer_reference},
        "billingAddress": _billing(order, config),
        "shippingAddress": _shipping(order, config),
        "shippingMethod": ({"alias": shipping_method.alias, "name": shipping_method.name}
                           if shipping_method is not None else None),
        "paymentMethod": ({"alias": payment_method.alias, "name": payment_method.name}
                          if payment_method is not None else None),
        "lines": [_line(line, calc, amount) for line in order.lines],
        "totals": _totals(calc, amount),
        "tags": list(order.tags),
    }
