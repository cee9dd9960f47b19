"""Stock rules: what an order needs held while it is paid, and when a change to the cart
lets go of what it holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from kasse.domain.order import Order
from kasse.domain.store import Product

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
