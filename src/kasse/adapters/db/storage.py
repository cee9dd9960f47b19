"""The SQL implementation of the storage ports used by the services."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kasse.adapters.db import order_repository, store_writer
from kasse.adapters.db import store_repository as repo
from kasse.adapters.db.access_repository import SqlAccessRepository
from kasse.adapters.db.audit_repository import SqlAuditLog, SqlIdempotencyStore
from kasse.adapters.db.checkout_repository import SqlCheckoutRepository
from kasse.adapters.db.database import Database
from kasse.adapters.db.order_records import SqlOrderRecords
from kasse.adapters.db.order_repository import SqlOrderRepository
from kasse.adapters.db.product_cache import ProductCache, with_stock
from kasse.adapters.db.redemption_repository import SqlRedemptionRepository
from kasse.adapters.db.stock_repository import SqlStockRepository
from kasse.domain.errors import Conflict
from kasse.domain.events import DomainEvent, Event
from kasse.domain.order_snapshot import ORDER_KEY, order_snapshot
from kasse.domain.store import Product, Store, StoreConfig
from kasse.domain.store_definition import SavedDefinition, StoreDefinition

log = logging.getLogger("kasse.events")


class StoreConfigs:
    """Store configurations kept per ``config_version``, for the order snapshots of
    events (one small query checks the version; an import bumps it)."""

    def __init__(self) -> None:
        self._kept: dict[UUID, StoreConfig] = {}

    async def get(self, conn: AsyncConnection, store_id: UUID) -> StoreConfig | None:
        found = await repo.find_store_row(conn, str(store_id))
        if found is None:
            return None
        kept = self._kept.get(store_id)
        if kept is not None and kept.store.config_version == found[1]:
            return kept
        config = await repo.load_store_config(conn, store_id)
        if config is not None:
            self._kept[store_id] = config
        return config


class SqlCatalogReader:
    def __init__(self, conn: AsyncConnection, products: ProductCache | None = None) -> None:
        self.conn = conn
        self._products = products

    async def find_store(self, id_or_alias: str) -> tuple[UUID, int] | None:
        return await repo.find_store_row(self.conn, id_or_alias)

    async def load_store_config(self, store_id: UUID) -> StoreConfig | None:
        return await repo.load_store_config(self.conn, store_id)

    async def store_aliases(self) -> list[str]:
        return await repo.store_aliases(self.conn)

    async def products_by_reference(self, store: Store, references: Sequence[str], *,
                                    order_id: UUID | None = None) -> list[Product]:
        store_id, version = store.id, store.config_version
        cache = self._products
        if cache is None or (known := cache.known(store_id, version)) is None:
            return await repo.products_by_reference(self.conn, store_id, references,
                                                    order_id)
        wanted = list(dict.fromkeys(references))
        kept = [known[reference] for reference in wanted if reference in known]
        missing = [reference for reference in wanted if reference not in known]
        found = (await repo.products_by_reference(self.conn, store_id, missing, order_id)
                 if missing else [])
        # The cache keeps what the store file says, never a moment's stock (which may
        # already be less what others hold); stock is read anew below each time.
        cache.keep(store_id, version, found)
        if kept:
            stock = await repo.stock_of(self.conn, [product.id for product in kept],
                                        order_id)
            found += [current for product in kept
                      if (current := with_stock(product, stock)) is not None]
        return found

    async def list_products(self, store_id: UUID, *, skip: int, take: int, text: str | None
                            ) -> tuple[list[Product], int]:
        return await repo.list_products(self.conn, store_id, skip=skip, take=take, text=text)

    async def product_by_id(self, product_id: UUID) -> Product | None:
        return await repo.product_by_id(self.conn, product_id)


class SqlStoreWriter:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def store_id_for(self, alias: str, given: UUID | None) -> UUID | None:
        return await store_writer.store_id_for(self.conn, alias, given)

    async def save(self, definition: StoreDefinition, *, set_stock: bool = False
                   ) -> SavedDefinition:
        try:
            return await store_writer.save_definition(self.conn, definition,
                                                      set_stock=set_stock)
        except IntegrityError as exc:
            raise Conflict(f"conflicts with data already stored: {exc.orig}") from None


class SqlStorage:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.products = ProductCache()
        self.configs = StoreConfigs()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[SqlCatalogReader]:
        async with self.db.read() as conn:
            yield SqlCatalogReader(conn, self.products)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[SqlStoreWriter]:
        async with self.db.transaction() as conn:
            yield SqlStoreWriter(conn)

    @asynccontextmanager
    async def ordering(self, *, write: bool) -> AsyncIterator[SqlOrderUnit]:
        scope = self.db.transaction() if write else self.db.read()
        async with scope as conn:
            unit = SqlOrderUnit(conn, self.products, self.configs)
            yield unit
            if write:  # the events of what was done, in the same transaction
                await unit.publish()
        for callback in unit.committed:  # only once the transaction is committed
            callback()

    @asynccontextmanager
    async def access(self, *, write: bool) -> AsyncIterator[SqlAccessRepository]:
        scope = self.db.transaction() if write else self.db.read()
        async with scope as conn:
            yield SqlAccessRepository(conn)

    @asynccontextmanager
    async def idempotency(self) -> AsyncIterator[SqlIdempotencyStore]:
        async with self.db.transaction() as conn:
            yield SqlIdempotencyStore(conn)

    async def delete_abandoned_carts(self, *, untouched_since: datetime,
                                     checkouts_expired_before: datetime) -> int:
        async with self.db.transaction() as conn:
            return await order_repository.delete_abandoned(conn, untouched_since,
                                                           checkouts_expired_before)

    async def order_version(self, store_id: UUID, order_id: UUID) -> int | None:
        version: int | None = await self.db.scalar(
            order_repository.VERSION, {"b_id": order_id, "b_store_id": store_id})
        return version


class SqlOrderUnit:
    def __init__(self, conn: AsyncConnection, products: ProductCache | None = None,
                 configs: StoreConfigs | None = None) -> None:
        self.conn = conn
        self.stock = SqlStockRepository(conn)
        self.committed: list[Callable[[], None]] = []
        self.recorded: list[Event] = []
        self.published: list[tuple[Event, bool]] = []
        """Events written to the outbox, and whether each was new (not a repeat)."""
        self.orders = SqlOrderRepository(conn)
        self.catalog = SqlCatalogReader(conn, products)
        self.checkout = SqlCheckoutRepository(conn)
        self.redemptions = SqlRedemptionRepository(conn)
        self.audit = SqlAuditLog(conn)
        self._configs = configs or StoreConfigs()
        self.records = SqlOrderRecords(conn)

    def on_commit(self, callback: Callable[[], None]) -> None:
        self.committed.append(callback)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        async with self.conn.begin_nested():
            yield

    def record(self, event: Event) -> None:
        self.recorded.append(event)

    async def publish(self) -> None:
        """Drain the events of the orders of this unit (and those recorded on it) into
        the outbox; an event with a dedupe key already there is not written again.

        Every order event's payload carries the order as this unit leaves it
        (``order``: see ``domain/order_snapshot.py``)."""
        events: list[Event] = list(self.recorded)
        self.recorded.clear()
        for order in list(self.orders.touched.values()):
            events.extend(order.events)
            order.events.clear()
        snapshots: dict[UUID, dict[str, Any] | None] = {}
        for event in events:
            payload = event.payload()
            if isinstance(event, DomainEvent):
                if event.order_id not in snapshots:
                    snapshots[event.order_id] = await self._snapshot(event)
                payload[ORDER_KEY] = snapshots[event.order_id]
            fresh = await self.checkout.add_outbox_event(
                store_id=event.store_id, topic=event.topic, aggregate_id=event.aggregate_id,
                payload=payload, at=event.at, dedupe_key=event.dedupe_key)
            self.published.append((event, fresh))

    async def _snapshot(self, event: DomainEvent) -> dict[str, Any] | None:
        order = self.orders.touched.get(event.order_id)
        if order is None:  # recorded on the unit without loading the order
            order = await self.orders.get(event.store_id, event.order_id)
        config = await self._configs.get(self.conn, event.store_id)
        if order is None or config is None:
            return None
        try:
            return order_snapshot(order, config)
        except Exception:
            # The event itself must reach the outbox (an order was placed, money moved):
            # a snapshot that cannot be built is logged and left out, never the event.
            log.exception("order %s: no snapshot for its %s event", event.order_id,
                          event.topic)
            return None
