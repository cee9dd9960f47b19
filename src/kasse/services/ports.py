"""What the use cases need from storage, as protocols; ``adapters.db`` implements them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol
from uuid import UUID

from kasse.domain.store import Product, StoreConfig

Plan = dict[str, list[dict[str, Any]]]
TableCounts = dict[str, tuple[int, int, int]]


class CatalogReader(Protocol):
    async def find_store(self, id_or_alias: str) -> tuple[UUID, int] | None:
        """(id, config version) of the store with this id or alias."""

    async def load_store_config(self, store_id: UUID) -> StoreConfig | None: ...

    async def store_aliases(self) -> list[str]: ...

    async def products_by_reference(self, store_id: UUID, references: Sequence[str]
                                    ) -> list[Product]: ...

    async def list_products(self, store_id: UUID, *, skip: int, take: int, text: str | None
                            ) -> tuple[list[Product], int]: ...


class StoreWriter(Protocol):
    async def store_id_for(self, alias: str, given: UUID | None) -> UUID | None: ...

    async def apply_plan(self, store_id: UUID, plan: Plan) -> TableCounts:
        """Make the store's configuration hold exactly ``plan``; raises ``Conflict``."""


class Storage(Protocol):
    def reading(self) -> AbstractAsyncContextManager[CatalogReader]: ...

    def writing(self) -> AbstractAsyncContextManager[StoreWriter]:
        """One transaction: committed when the block ends, rolled back on error."""
