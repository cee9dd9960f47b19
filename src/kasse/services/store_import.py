"""Configuration as code: load or update a whole store from a store file.

The file is the truth for the store's configuration: what it lists is created or
updated, what it no longer lists is removed, so importing the same file twice changes
nothing. The running shop's live state is left alone: stock on hand of products that
exist already (unless asked to take the file's figures), how often codes were used, what
gift cards paid. Everything is validated before the first write; a bad file changes
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from kasse.domain.errors import Conflict
from kasse.domain.store_definition import StockChange
from kasse.services.ports import Storage
from kasse.services.store_checks import (
    Loc,
    StoreFileInvalid,
    dotted_location,
    validate_store_file,
)
from kasse.services.store_definition import define_store, new_store_id

__all__ = ["ImportResult", "Loc", "StoreFileInvalid", "dotted_location", "import_store",
           "validate_store_file"]


@dataclass
class ImportResult:
    store_id: UUID
    store_alias: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    per_table: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    stock_kept: tuple[StockChange, ...] = ()
    """Existing products and variants whose stock on hand differs from the file, kept."""
    stock_set: tuple[StockChange, ...] = ()
    """Stock on hand replaced by the file's figure (``set_stock``)."""
    codes_used: int = 0
    """Discount codes whose counted uses were kept."""
    cards_debited: int = 0
    """Gift cards whose debits were kept."""

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted or self.stock_set)

    def left_alone(self) -> list[str]:
        """What the import kept of the shop's live state, one sentence each."""
        said = []
        if self.stock_kept:
            said.append(f"stock on hand of {_count(len(self.stock_kept), 'existing product')} "
                        "differs from the file and was kept; use --set-stock to take the "
                        "file's figures")
        if self.codes_used:
            said.append(f"uses counted for {_count(self.codes_used, 'discount code')} kept")
        if self.cards_debited:
            said.append(f"what {_count(self.cards_debited, 'gift card')} paid kept")
        return said


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


async def import_store(storage: Storage, data: Any, *, set_stock: bool = False,
                       templates: Mapping[str, str] | None = None) -> ImportResult:
    """Validate ``data`` (a parsed store file) and make the store's configuration match
    it, atomically. Stock on hand is set for products and variants the import creates;
    with ``set_stock``, for every product and variant the file lists. ``templates``: the
    email templates of the folder the file names, by name (checked with the file)."""
    checked = validate_store_file(data, templates=templates)
    alias = checked.store.alias
    try:
        async with storage.writing() as writer:
            store_id = await writer.store_id_for(alias, checked.store.id)
            definition = define_store(checked, store_id or new_store_id(alias), templates)
            saved = await writer.save(definition, set_stock=set_stock)
    except Conflict as exc:
        raise StoreFileInvalid([((), exc.detail)]) from None
    result = ImportResult(
        store_id=definition.store_id, store_alias=definition.config.store.alias,
        per_table=saved.counts, stock_kept=saved.stock_kept, stock_set=saved.stock_set,
        codes_used=saved.codes_used, cards_debited=saved.cards_debited)
    for created, updated, deleted in saved.counts.values():
        result.created += created
        result.updated += updated
        result.deleted += deleted
    return result

