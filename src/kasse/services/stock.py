"""Stock on hand as the shop keeps it: what there is, and adjustments with a reason (a
delivery received, a count, breakage, a return). Every change is a ledger entry, so on
hand = the ledger's sum; sales are written by the checkout's finalization, imports by the
store import.

The management API (``/stores/{store}/stock``) and the command line (``kasse stock``)
use this one service: an adjustment writes its ledger entry, an audit entry and a
``stock.adjusted`` event in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from kasse.domain.audit import Actor, AuditEntry
from kasse.domain.errors import InvalidInput, NotFound
from kasse.domain.events import StockAdjusted, units
from kasse.domain.stock import (
    LedgerEntry,
    StockLevel,
    adjustment,
    check_adjustment,
    check_note,
    item_reference,
    parse_reason,
)
from kasse.domain.store import StoreConfig
from kasse.services.orders import utcnow
from kasse.services.ports import OrderUnit, Storage
from kasse.services.retry import retrying

MAX_PAGE = 200
AUDIT_ACTION = StockAdjusted.topic


@dataclass(frozen=True, slots=True)
class Adjusted:
    level: StockLevel
    """The item after the adjustment."""
    entry: LedgerEntry

    @property
    def delta(self) -> Decimal:
        return self.entry.change


@dataclass(frozen=True, slots=True)
class LedgerPage:
    level: StockLevel
    entries: list[LedgerEntry]
    more: bool
    """Whether older entries follow the last one."""


def parse_item(item: str) -> tuple[str, str | None]:
    """``product`` or ``product:variant`` (references never hold a ``:``)."""
    product, colon, variant = item.strip().partition(":")
    if not product or (colon and not variant) or ":" in variant:
        raise InvalidInput(f"{item.strip()[:80]!r} is not a product reference or "
                           "product:variant")
    return product, variant or None


class StockBook:
    def __init__(self, storage: Storage, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.storage = storage
        self.clock = clock

    async def levels(self, config: StoreConfig) -> list[StockLevel]:
        """Every tracked product and variant: on hand, held by checkouts (unexpired
        holds), available and the ledger's sum (equal to on hand)."""
        async with self.storage.ordering(write=False) as unit:
            return await unit.stock.levels(config.store.id)

    async def level(self, config: StoreConfig, item: str) -> StockLevel:
        """One tracked item, by ``product`` or ``product:variant``."""
        async with self.storage.ordering(write=False) as unit:
            return await _find(unit, config, item)

    async def ledger(self, config: StoreConfig, item: str, *,
                     before: tuple[datetime, UUID] | None = None, limit: int = 50
                     ) -> LedgerPage:
        """The item's ledger entries, newest first, ``limit`` (1 to 200) at a time from
        the (time, id) key ``before``."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be 1 to {MAX_PAGE}")
        async with self.storage.ordering(write=False) as unit:
            level = await _find(unit, config, item)
            entries = await unit.stock.ledger(config.store.id, level.item_id, before=before,
                                              limit=limit + 1)
        return LedgerPage(level, entries[:limit], more=len(entries) > limit)

    async def adjust(self, config: StoreConfig, item: str, *, reason: str, actor: Actor,
                     change: Decimal | None = None, set_to: Decimal | None = None,
                     note: str | None = None) -> Adjusted:
        """Add or take away ``change`` units of ``item``, or set it to ``set_to`` counted
        units (the entry records the difference, 0 included), for a reason (received,
        counted, damaged, returned, other) with an optional note. Never below zero
        (``StockBelowZero``, nothing written). The ledger entry (with the actor's name), an
        audit entry and a ``stock.adjusted`` event are written in one transaction."""
        why = parse_reason(reason)
        note = check_note(note)
        check_adjustment(change, set_to)
        store_id = config.store.id

        async def work() -> Adjusted:
            async with self.storage.ordering(write=True) as unit:
                found = await _find(unit, config, item)
                on_hand = await unit.stock.on_hand(found.item_id, found.is_variant)
                if on_hand is None:  # the import stopped tracking it meanwhile
                    raise NotFound(f"{found.reference} no longer has tracked stock")
                delta = adjustment(found.reference, on_hand, change=change, set_to=set_to)
                at = self.clock()
                entry = await unit.stock.apply(store_id, found.item_id, found.is_variant,
                                               delta, why.value, at, note=note,
                                               actor=actor.name)
                level = await _find(unit, config, item)
                await unit.audit.add(AuditEntry.of(
                    actor, AUDIT_ACTION, store_id, at, detail={
                        "item": level.reference, "sku": level.sku, "reason": why.value,
                        "note": note, "change": units(delta),
                        **({"setTo": units(set_to)} if set_to is not None else {}),
                        "onHandBefore": units(on_hand), "onHandAfter": units(level.on_hand),
                        "ledgerEntryId": str(entry.id)}))
                unit.record(StockAdjusted(
                    store_id=store_id, item_id=level.item_id,
                    product_reference=level.product_reference,
                    variant_reference=level.variant_reference, sku=level.sku,
                    name=level.name, change=delta, on_hand=level.on_hand,
                    available=level.available, reason=why.value, note=note,
                    ledger_entry_id=entry.id, actor=actor.name, at=at))
            return Adjusted(level, entry)

        return await retrying(work, f"stock of {item}")


async def _find(unit: OrderUnit, config: StoreConfig, item: str) -> StockLevel:
    product, variant = parse_item(item)
    found = await unit.stock.item(config.store.id, product, variant)
    if found is not None:
        return found
    tracked = [level.reference for level in await unit.stock.levels(config.store.id)
               if level.product_reference == product]
    hint = f" (its stock is kept per variant: {', '.join(tracked[:10])})" if tracked else ""
    raise NotFound(f"no product or variant {item_reference(product, variant)!r} with "
                   f"tracked stock in store {config.store.alias}{hint}")
