"""Shipping a placed order: shipments of some or all of its lines, and how much of the
order has gone (unfulfilled, partial, fulfilled).

A unit refunded before it was shipped is not shipped any more: what is left to ship of a
line is its quantity less what was shipped and less what was refunded (refunded units
count first against the units not shipped). A canceled order ships nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlsplit
from uuid import UUID

from kasse.domain.errors import Conflict, InvalidInput
from kasse.domain.events import OrderFulfilled
from kasse.domain.order import FulfilmentStatus, Order, OrderLine
from kasse.domain.placed_order import (
    ZERO,
    LineQuantity,
    ensure_not_canceled,
    ensure_placed,
    label,
    lines_of,
)
from kasse.domain.text import has_control_characters

MAX_CARRIER = 100
MAX_TRACKING_NUMBER = 200
MAX_TRACKING_URL = 2000


class NothingToShip(Conflict):
    code = "nothing_to_ship"


@dataclass(frozen=True, slots=True)
class Shipment:
    """One fulfilment: which lines and units went, with whom, and how to track them."""

    id: UUID
    order_id: UUID
    store_id: UUID
    lines: tuple[LineQuantity, ...]
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    actor: str | None
    created_at: datetime


def left_to_ship(line: OrderLine) -> Decimal:
    return max(line.quantity - line.fulfilled_quantity - line.refunded_quantity, ZERO)


def fulfilment_status(order: Order) -> FulfilmentStatus:
    """Nothing shipped: unfulfilled; everything that is to ship shipped: fulfilled;
    else partial."""
    if not any(line.fulfilled_quantity > 0 for line in order.lines):
        return FulfilmentStatus.UNFULFILLED
    if all(left_to_ship(line) == 0 for line in order.lines):
        return FulfilmentStatus.FULFILLED
    return FulfilmentStatus.PARTIAL


def _text(value: str | None, what: str, limit: int) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > limit or has_control_characters(value):
        raise InvalidInput(f"{what} must be at most {limit} printable characters")
    return value.strip()


def tracking_url(value: str | None) -> str | None:
    """An absolute http(s) URL, or ``None``: a shopper's browser opens it."""
    url = _text(value, "trackingUrl", MAX_TRACKING_URL)
    if url is None:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc \
            or any(c.isspace() for c in url):
        raise InvalidInput("trackingUrl must be an absolute http or https URL")
    return url


def fulfil(order: Order, lines: tuple[LineQuantity, ...] | None, at: datetime,
           new_id: Callable[[], UUID], *, carrier: str | None = None,
           tracking_number: str | None = None, tracking_url_value: str | None = None,
           actor: str | None = None) -> Shipment:
    """Ship ``lines`` (``None``: everything left to ship) and record an
    ``order.fulfilled`` event; refuses a canceled order and more than is left."""
    ensure_placed(order)
    ensure_not_canceled(order, "fulfilled")
    carrier = _text(carrier, "carrier", MAX_CARRIER)
    number = _text(tracking_number, "trackingNumber", MAX_TRACKING_NUMBER)
    url = tracking_url(tracking_url_value)
    if lines is None:
        chosen = [(line, left_to_ship(line)) for line in order.lines
                  if left_to_ship(line) > 0]
        if not chosen:
            raise NothingToShip(f"order {label(order)} has nothing left to ship")
    else:
        chosen = lines_of(order, lines)
        for line, units in chosen:
            left = left_to_ship(line)
            if units > left:
                raise InvalidInput(f"cannot ship {units:f} of {line.name}: {left:f} of "
                                   f"{line.quantity:f} are left to ship")
    for line, units in chosen:
        line.fulfilled_quantity += units
    order.fulfilment_status = fulfilment_status(order)
    order.updated_at = at
    shipment = Shipment(new_id(), order.id, order.store_id,
                        tuple(LineQuantity(line.id, units) for line, units in chosen),
                        carrier, number, url, actor, at)
    order.events.append(OrderFulfilled(
        order.store_id, order.id, order.order_number, at, shipment.id,
        tuple((line.id, line.sku, units) for line, units in chosen), carrier, number, url,
        order.fulfilment_status.value))
    return shipment
