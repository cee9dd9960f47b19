"""What the use cases need from storage, as protocols; ``adapters.db`` implements them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol
from uuid import UUID

from kasse.domain.order import Order
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


class OrderRepository(Protocol):
    async def get(self, store_id: UUID, order_id: UUID, *, for_update: bool = False
                  ) -> Order | None: ...

    async def add(self, order: Order) -> None: ...

    async def save(self, order: Order) -> None:
        """Write a loaded order; raises ``Conflict`` if it was saved by someone else since."""

    async def delete(self, order: Order) -> None: ...

    async def next_number(self, store_id: UUID, kind: str) -> int:
        """The next value of a store's counter, unique across processes."""

    async def finalized_for_customer(self, store_id: UUID, reference_or_email: str
                                     ) -> list[Order]: ...


class OrderUnit(Protocol):
    """What one order use case works with, inside one transaction."""

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def catalog(self) -> CatalogReader: ...


class Storage(Protocol):
    def reading(self) -> AbstractAsyncContextManager[CatalogReader]: ...

    def writing(self) -> AbstractAsyncContextManager[StoreWriter]:
        """One transaction: committed when the block ends, rolled back on error."""

    def ordering(self, *, write: bool) -> AbstractAsyncContextManager[OrderUnit]:
        """Orders and catalog in one transaction (committed at the end when ``write``)."""
