"""Products as the store file describes them, kept in memory per configuration version.

A product's name, SKU, prices, variants and properties change only with a store import,
which bumps the store's ``config_version``; its stock changes with every order. Adding a
product to a cart or checking out reads the product three times over (product, variants,
prices) without this cache; with it, one small statement reads the current stock of the
products it already knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from uuid import UUID

from kasse.domain.store import Product

PRODUCTS_KEPT = 10_000
"""How many products one process keeps (per store; the least recently loaded go first)."""


class ProductCache:
    def __init__(self, limit: int = PRODUCTS_KEPT) -> None:
        self._limit = limit
        self._stores: dict[UUID, tuple[int, dict[str, Product]]] = {}

    def known(self, store_id: UUID, version: int) -> dict[str, Product] | None:
        """The products kept for this version of the store's configuration (empty when it
        is new); ``None`` for an older version than the one kept, which is not cached."""
        kept = self._stores.get(store_id)
        if kept is None or kept[0] < version:
            kept = (version, {})
            self._stores[store_id] = kept
        elif kept[0] > version:
            return None
        return kept[1]

    def keep(self, store_id: UUID, version: int, products: Iterable[Product]) -> None:
        known = self.known(store_id, version)
        if known is None:
            return
        for product in products:
            if len(known) >= self._limit:
                del known[next(iter(known))]
            known[product.reference] = product


def with_stock(product: Product, stock: Mapping[UUID, Decimal | None]) -> Product | None:
    """The product with the stock read just now (``None`` when it is no longer stored)."""
    if product.id not in stock:
        return None
    variants = tuple(replace(variant, stock=stock[variant.id])
                     for variant in product.variants if variant.id in stock)
    return replace(product, stock=stock[product.id], variants=variants)
