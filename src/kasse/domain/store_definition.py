"""What a store file owns, apart from what the running shop owns.

A store file is the truth for a store's configuration: its settings, currencies,
countries, taxes, methods, catalog (with prices), discounts with their codes, and the gift
cards it issues. The running shop owns its live state: the stock on hand of every
product that exists, how often each code was used, what each gift card paid. An import
makes the configuration match the file and leaves live state alone; the stock a file
gives is the stock a product *starts* with.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from kasse.domain.discounts import GiftCard
from kasse.domain.store import Product, StoreConfig


@dataclass(frozen=True, slots=True)
class StockItem:
    """Something whose stock is counted: a product without variants' own count, or a
    variant."""

    id: UUID
    label: str
    """``reference`` of a product, ``reference [variant reference]`` of a variant."""
    stock: Decimal | None
    """What the file says (``None``: not tracked)."""
    is_variant: bool = False


@dataclass(frozen=True, slots=True)
class StoreDefinition:
    """A whole store as its file defines it, validated: every reference inside it
    resolves (currencies, countries, regions, tax classes, methods, products named by
    rewards), aliases, codes and references are unique where they must be. Only
    ``define_store`` (services) makes one from a file, and it refuses a file that breaks
    any of this, naming where."""

    config: StoreConfig
    products: tuple[Product, ...] = ()
    """In catalog order; ``stock`` is the stock each starts with when it is created."""
    gift_cards: tuple[GiftCard, ...] = ()
    """Cards to issue (or update); ``debited`` is always zero here."""

    @property
    def store_id(self) -> UUID:
        return self.config.store.id

    def stock_items(self) -> Iterator[StockItem]:
        """Every product and variant with the stock the file gives it."""
        for product in self.products:
            yield StockItem(product.id, product.reference, product.stock)
            for variant in product.variants:
                yield StockItem(variant.id, f"{product.reference} [{variant.reference}]",
                                variant.stock, is_variant=True)


@dataclass(frozen=True, slots=True)
class StockChange:
    """Stock on hand of a product or variant, and the file's figure for it."""

    label: str
    on_hand: Decimal | None
    in_file: Decimal | None


@dataclass(frozen=True, slots=True)
class SavedDefinition:
    """What saving a definition did, and which live state it left alone."""

    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """(created, updated, deleted) per kind of entity."""
    stock_kept: tuple[StockChange, ...] = ()
    """Existing products and variants whose stock on hand differs from the file and was
    kept."""
    stock_set: tuple[StockChange, ...] = ()
    """Stock on hand replaced by the file's figure (only when asked to)."""
    codes_used: int = 0
    """Discount codes with uses counted, whose counts were kept."""
    cards_debited: int = 0
    """Gift cards that paid for orders, whose debits were kept."""
