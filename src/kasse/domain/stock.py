"""Stock rules: what an order needs held while it is paid, when a change to the cart lets
go of what it holds, and what staff may do to stock on hand (adjust with a reason, never
below zero; a count sets it exactly)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from kasse.domain.errors import Conflict, InvalidInput
from kasse.domain.money import decimal_places_of
from kasse.domain.order import Order
from kasse.domain.store import Product
from kasse.domain.text import has_control_characters

Needs = dict[UUID, tuple[bool, Decimal]]
"""Item id (a product, or a variant where stock is kept per variant) -> (is a variant,
units)."""


def needs_of(order: Order, products: Mapping[str, Product]) -> Needs:
    """The tracked stock the order's lines need (bundles count their items times the
    bundle's quantity; untracked items need nothing held)."""
    needs: Needs = {}
    for line, units in order.all_lines():
        product = products.get(line.product_reference)
        if product is None:
            continue
        variant = product.variant(line.variant_reference) if line.variant_reference else None
        stock = variant.stock if variant is not None else product.stock
        if stock is None:
            continue
        item = variant.id if variant is not None else product.id
        held = needs.get(item, (variant is not None, Decimal(0)))
        needs[item] = (held[0], held[1] + units)
    return needs


def shape_of(order: Order) -> list[tuple[str, str, Decimal]]:
    """What the cart holds, item by item: a change to it lets go of the stock held."""
    return sorted((line.product_reference, line.variant_reference or "", units)
                  for line, units in order.all_lines())


def name_of(item: UUID, products: Mapping[str, Product]) -> str:
    for product in products.values():
        if product.id == item:
            return product.name
        for variant in product.variants:
            if variant.id == item:
                return variant.name
    return str(item)


@dataclass(frozen=True, slots=True)
class Shortage:
    item_id: UUID
    available: Decimal


@dataclass(frozen=True, slots=True)
class StockLevel:
    store_id: UUID
    item_id: UUID
    product_reference: str
    variant_reference: str | None
    sku: str
    name: str
    on_hand: Decimal
    reserved: Decimal
    ledger: Decimal
    """The sum of the item's ledger: always equal to ``on_hand``."""

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved

    @property
    def is_variant(self) -> bool:
        return self.variant_reference is not None

    @property
    def reference(self) -> str:
        """How staff name the item: ``product`` or ``product:variant``."""
        return item_reference(self.product_reference, self.variant_reference)


def item_reference(product_reference: str, variant_reference: str | None) -> str:
    return product_reference + (f":{variant_reference}" if variant_reference else "")


class AdjustmentReason(StrEnum):
    """Why staff changed stock on hand (the ledger's ``cause`` of the entry)."""

    RECEIVED = "received"
    """A delivery came in."""
    COUNTED = "counted"
    """A count: on hand is set to what was counted; the entry records the difference."""
    DAMAGED = "damaged"
    RETURNED = "returned"
    OTHER = "other"


MAX_NOTE = 300
MAX_UNITS = Decimal(1_000_000_000)
UNIT_DECIMALS = 6


class StockBelowZero(Conflict):
    """An adjustment would leave less than nothing on hand."""

    code = "stock_below_zero"


def parse_reason(value: str) -> AdjustmentReason:
    try:
        return AdjustmentReason(value.strip().lower())
    except ValueError:
        raise InvalidInput(f"reason must be one of {', '.join(r.value for r in AdjustmentReason)}"
                           f", not {value.strip()[:40]!r}") from None


def check_note(note: str | None) -> str | None:
    """A note as kept in the ledger: trimmed, printable, at most ``MAX_NOTE`` characters;
    ``None`` when empty."""
    if note is None or not note.strip():
        return None
    text = note.strip()
    if len(text) > MAX_NOTE or has_control_characters(text):
        raise InvalidInput(f"note: at most {MAX_NOTE} printable characters")
    return text


def _units(value: Decimal, what: str) -> Decimal:
    if not value.is_finite() or decimal_places_of(value) > UNIT_DECIMALS \
            or abs(value) > MAX_UNITS:
        raise InvalidInput(f"{what} must be a number with at most {UNIT_DECIMALS} decimals "
                           f"and at most {MAX_UNITS:,} units")
    return value


def check_adjustment(change: Decimal | None, set_to: Decimal | None) -> None:
    """Refuse a request that is not exactly one of a change other than 0 or a count of at
    least 0, before anything is locked."""
    if (change is None) == (set_to is None):
        raise InvalidInput("give either change (units to add or take away) or setTo "
                           "(the units counted), not both")
    if change is not None and _units(change, "change") == 0:
        raise InvalidInput("the change must be a number other than 0")
    if set_to is not None and _units(set_to, "setTo") < 0:
        raise InvalidInput("setTo is what was counted: 0 or more")


def adjustment(name: str, on_hand: Decimal, *, change: Decimal | None = None,
               set_to: Decimal | None = None) -> Decimal:
    """The change to make to ``on_hand`` (read under the item's lock): ``change`` itself,
    or for a count the difference to ``set_to`` (0 when it matched). Stock on hand never
    goes below zero: ``StockBelowZero`` with what is there."""
    check_adjustment(change, set_to)
    delta = set_to - on_hand if set_to is not None else change or Decimal(0)
    if on_hand + delta < 0:
        raise StockBelowZero(f"{name} has {on_hand.normalize():f} on hand: it cannot go below "
                             f"0 (change {delta.normalize():f})")
    return delta


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One change to an item's stock on hand; on hand = the sum of its entries."""

    id: UUID
    item_id: UUID
    change: Decimal
    cause: str
    """sale, import, opening, received, counted, damaged, returned, other (and restock or
    adjustment from before reasons had names)."""
    note: str | None
    actor: str | None
    at: datetime
    order_id: UUID | None = None
    order_number: str | None = None
