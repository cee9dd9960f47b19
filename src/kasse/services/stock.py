"""Stock on hand as the shop keeps it: what there is, and adjustments with a reason (a
delivery, a count, breakage). Every change is a ledger entry, so on hand = the ledger's
sum; sales are written by the checkout's finalization, imports by the store import.

The command line (``kasse stock``) and, later, the management API build on this one
service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from kasse.domain.errors import InvalidInput, NotFound
from kasse.domain.money import decimal_places_of
from kasse.domain.stock import StockLevel
from kasse.domain.store import StoreConfig
from kasse.domain.text import has_control_characters
from kasse.services.orders import utcnow
from kasse.services.ports import Storage
from kasse.services.retry import retrying

RESTOCK, ADJUSTMENT = "restock", "adjustment"
MAX_REASON = 300


@dataclass(frozen=True, slots=True)
class Adjusted:
    level: StockLevel
    delta: Decimal


class StockBook:
    def __init__(self, storage: Storage, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.storage = storage
        self.clock = clock

    async def levels(self, config: StoreConfig) -> list[StockLevel]:
        """Every tracked product and variant: on hand, held by checkouts, available and
        the ledger's sum (equal to on hand)."""
        async with self.storage.ordering(write=False) as unit:
            return await unit.stock.levels(config.store.id)

    async def adjust(self, config: StoreConfig, item: str, delta: Decimal, *, reason: str,
                     actor: str | None = None) -> Adjusted:
        """Add (a delivery: ``restock``) or take away (``adjustment``) ``delta`` units of
        ``item`` (a product reference, or ``product:variant``), with the reason."""
        if not delta.is_finite() or delta == 0 or decimal_places_of(delta) > 6:
            raise InvalidInput("the change must be a number other than 0, with at most 6 "
                               "decimals")
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON or has_control_characters(reason):
            raise InvalidInput(f"a reason is required (1 to {MAX_REASON} printable "
                               "characters)")
        product_reference, _, variant_reference = item.partition(":")

        async def work() -> Adjusted:
            async with self.storage.ordering(write=True) as unit:
                levels = await unit.stock.levels(config.store.id)
                found = next((level for level in levels
                              if level.product_reference == product_reference
                              and (level.variant_reference or "") == variant_reference),
                             None)
                if found is None:
                    raise NotFound(f"no product or variant {item!r} with tracked stock in "
                                   f"store {config.store.alias}")
                on_hand = await unit.stock.adjust(
                    config.store.id, found.item_id, found.variant_reference is not None,
                    delta, RESTOCK if delta > 0 else ADJUSTMENT, self.clock(),
                    reason=reason, actor=actor)
                if on_hand is None:
                    raise InvalidInput(f"{item} has {found.on_hand:f} on hand: it cannot "
                                       f"go below 0 (change {delta:f})")
            level = StockLevel(found.store_id, found.item_id, found.product_reference,
                               found.variant_reference, found.sku, found.name, on_hand,
                               found.reserved, found.ledger + delta)
            return Adjusted(level, delta)

        return await retrying(work, f"stock of {item}")
