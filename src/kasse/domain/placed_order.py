"""What every action on a placed order shares: it must be placed, some actions refuse a
canceled order, and lines are named by id with a quantity.

Actions after checkout work on the order's top-level lines: a bundle ships, is refunded
and is restocked as one line (its items go with it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from kasse.domain.errors import Conflict, InvalidInput
from kasse.domain.money import decimal_places_of
from kasse.domain.order import Order, OrderLine

ZERO = Decimal(0)


class NotPlaced(Conflict):
    """The action needs a placed (finalized) order; this one is still a cart."""

    code = "order_not_placed"


class AlreadyCanceled(Conflict):
    """The order was canceled: it is not canceled again, shipped, captured or paid."""

    code = "order_canceled"


@dataclass(frozen=True, slots=True)
class LineQuantity:
    """Units of one of the order's top-level lines."""

    line_id: UUID
    quantity: Decimal

    def as_json(self) -> dict[str, str]:
        return {"lineId": str(self.line_id), "quantity": f"{self.quantity:f}"}


def label(order: Order) -> str:
    """How messages name the order."""
    return order.order_number or order.cart_number


def ensure_placed(order: Order) -> None:
    if not order.is_finalized:
        raise NotPlaced(f"order {label(order)} is not placed yet (it is a cart); only a "
                        "placed order can be managed")


def ensure_not_canceled(order: Order, doing: str) -> None:
    if order.canceled_at is not None:
        raise AlreadyCanceled(f"order {label(order)} was canceled at "
                            f"{order.canceled_at.isoformat()}; it cannot be {doing}")


def top_line(order: Order, line_id: UUID) -> OrderLine:
    """One of the order's top-level lines; a bundle's item is named by its bundle's line."""
    for line in order.lines:
        if line.id == line_id:
            return line
    for line, _ in order.all_lines():
        if line.id == line_id:
            raise InvalidInput(f"line {line_id} is an item of a bundle; name the bundle's "
                               "line instead (a bundle ships and is refunded as one)")
    raise InvalidInput(f"the order has no line {line_id}")


def check_units(value: Decimal, line: OrderLine) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise InvalidInput(f"the quantity of {line.name} must be more than 0, got {value}")
    if decimal_places_of(value) > 6:
        raise InvalidInput(f"the quantity {value} has more than 6 decimal places")
    return value


def lines_of(order: Order, given: Iterable[LineQuantity]
             ) -> list[tuple[OrderLine, Decimal]]:
    """The named lines with their quantities (a line named twice: refused)."""
    found: list[tuple[OrderLine, Decimal]] = []
    for item in given:
        line = top_line(order, item.line_id)
        if any(seen is line for seen, _ in found):
            raise InvalidInput(f"line {line.id} is named twice")
        found.append((line, check_units(item.quantity, line)))
    if not found:
        raise InvalidInput("name at least one line")
    return found


def units_with_items(line: OrderLine, units: Decimal
                     ) -> Iterator[tuple[OrderLine, Decimal]]:
    """``units`` of a top-level line and what they hold of its bundle's items."""
    yield line, units
    for child in line.children:
        yield from child.walk(units)
