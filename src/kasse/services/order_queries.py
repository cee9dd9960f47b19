"""The staff's reads of placed orders: lists with filters, sort and cursor pagination,
the export of a list, one order with its whole history as a timeline, and the audit log.

Every read is limited to the stores the principal may see: an order of another store is
"not found", exactly like an order that does not exist. Carts are not orders here.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from kasse.domain.access import Permission, Principal
from kasse.domain.audit import AuditEntry
from kasse.domain.errors import InvalidInput, NotFound
from kasse.domain.store import StoreConfig
from kasse.services import cursors
from kasse.services import order_filters as filters
from kasse.services.catalog import StoreDirectory
from kasse.services.order_filters import DEFAULT_LIMIT
from kasse.services.order_records import (
    PLACED_AT,
    CheckoutPayment,
    OrderCriteria,
    OrderHistory,
    OrderSort,
    OrderSummary,
    SortKey,
    TimelineItem,
    timeline,
)
from kasse.services.orders import Orders, PricedOrder
from kasse.services.ports import OrderSearch

EXPORT_BATCH = 1000
"""Orders read per query while an export streams: memory stays flat however many."""
STORES_RECHECK = 1.0
"""Seconds for which the list of stores is taken as known (as the store directory does)."""


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """A list of placed orders as the caller asks for it (unchecked)."""

    store: str | None = None
    order_status: str | None = None
    payment_status: str | None = None
    fulfilment_status: str | None = None
    placed_from: datetime | None = None
    placed_to: datetime | None = None
    email: str | None = None
    customer_reference: str | None = None
    order_number: str | None = None
    total_min: Decimal | None = None
    total_max: Decimal | None = None
    code: str | None = None
    text: str | None = None
    sort: str = PLACED_AT
    direction: str = "desc"
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT
    count: bool = False


@dataclass(frozen=True, slots=True)
class OrderPage:
    orders: list[OrderSummary]
    stores: dict[UUID, StoreConfig]
    """The configuration of each store of the page's orders (for currencies, statuses)."""
    next_cursor: str | None
    total: int | None
    """How many orders match, when asked for."""


@dataclass(frozen=True, slots=True)
class OrderExport:
    """A checked export: its batches are read one query at a time as they are asked for."""

    search: OrderSearch
    criteria: OrderCriteria
    sort: OrderSort
    stores: dict[UUID, StoreConfig]
    batch: int = EXPORT_BATCH

    async def batches(self) -> AsyncIterator[list[OrderSummary]]:
        after: SortKey | None = None
        while True:
            rows = await self.search.page(self.criteria, self.sort, after, self.batch)
            if rows:
                yield rows
            if len(rows) < self.batch:
                return
            after = filters.sort_key(rows[-1], self.sort)


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One placed order with everything recorded about it."""

    config: StoreConfig
    priced: PricedOrder
    summary: OrderSummary
    checkout: CheckoutPayment | None
    history: OrderHistory
    timeline: list[TimelineItem]


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: str | None


class OrderQueries:
    def __init__(self, search: OrderSearch, stores: StoreDirectory, orders: Orders, *,
                 export_batch: int = EXPORT_BATCH) -> None:
        self.search = search
        self.stores = stores
        self.orders = orders
        self.export_batch = export_batch
        self._aliases: tuple[float, list[str]] | None = None

    # --- lists ---------------------------------------------------------------------------

    async def find(self, principal: Principal, query: OrderQuery) -> OrderPage:
        """A page of the placed orders matching ``query`` that the principal may see."""
        principal.require(Permission.ORDERS_READ)
        limit = filters.checked_limit(query.limit)
        criteria, stores = await self._criteria(principal, query, Permission.ORDERS_READ)
        sort = filters.checked_sort(query.sort, query.direction)
        after = filters.decode_cursor(query.cursor, sort) if query.cursor else None
        if criteria is None:
            return OrderPage([], stores, None, 0 if query.count else None)
        rows = await self.search.page(criteria, sort, after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        total = await self.search.count(criteria) if query.count else None
        return OrderPage(rows, stores, filters.encode_cursor(rows[-1], sort) if more else None,
                         total)

    async def export(self, principal: Principal, query: OrderQuery) -> OrderExport:
        """Every placed order matching ``query`` (its cursor, limit and count aside), to
        be read batch by batch; the query is checked now, before anything is sent."""
        principal.require(Permission.ORDERS_EXPORT)
        criteria, stores = await self._criteria(principal, query, Permission.ORDERS_EXPORT)
        sort = filters.checked_sort(query.sort, query.direction)
        if criteria is None:  # nothing visible: an export with its header only
            criteria = OrderCriteria(store_ids=())
        return OrderExport(self.search, criteria, sort, stores, self.export_batch)

    # --- one order -----------------------------------------------------------------------

    async def order(self, principal: Principal, order_id: UUID) -> OrderRecord:
        """A placed order the principal may see, with its history and timeline."""
        principal.require(Permission.ORDERS_READ)
        summary = await self._visible(principal, order_id, Permission.ORDERS_READ)
        config = await self.stores.get(str(summary.store_id))
        priced = await self.orders.get(config, order_id)
        history = await self.search.history(order_id)
        order = priced.order
        method = config.payment_method_by_id(order.payment_method_id)
        checkout = None
        if order.payment_status is not None:
            checkout = CheckoutPayment(
                transaction_id=order.transaction_id,
                provider_alias=method.provider_alias if method else None,
                payment_method=method.alias if method else None,
                payment_status=order.payment_status.value,
                authorized=order.authorized_amount, fee=order.fee_amount,
                kind=history.checkout_kind, at=summary.placed_at or order.updated_at)
        return OrderRecord(config, priced, summary, checkout, history,
                           timeline(summary, checkout, history, config))

    # --- the audit log -------------------------------------------------------------------

    async def order_audit(self, principal: Principal, order_id: UUID, *,
                          cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> AuditPage:
        """The audit entries of a placed order the principal may see, newest first."""
        principal.require(Permission.AUDIT_READ)
        await self._visible(principal, order_id, Permission.AUDIT_READ)
        return await self._audit(None, order_id, cursor, limit)

    async def store_audit(self, principal: Principal, store: str, *,
                          cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> AuditPage:
        """The audit entries of a store, newest first."""
        principal.require(Permission.AUDIT_READ)
        config = await self._store(principal, store, Permission.AUDIT_READ, None)
        return await self._audit(config.store.id, None, cursor, limit)

    async def _audit(self, store_id: UUID | None, order_id: UUID | None, cursor: str | None,
                     limit: int) -> AuditPage:
        limit = filters.checked_limit(limit)
        before = None
        if cursor:
            at, entry_id = cursors.decode("audit", cursor)
            before = (filters.parse_time(at), filters.parse_id(entry_id))
        entries = await self.search.audit(store_id=store_id, order_id=order_id,
                                          before=before, limit=limit + 1)
        more = len(entries) > limit
        entries = entries[:limit]
        next_cursor = cursors.encode("audit", [entries[-1].at.isoformat(),
                                               str(entries[-1].id)]) if more else None
        return AuditPage(entries, next_cursor)

    # --- checks ----------------------------------------------------------------------------

    async def _every_store(self) -> list[StoreConfig]:
        """Every store's configuration. Which stores there are is asked of the database at
        most once per ``STORES_RECHECK`` seconds (an import is seen within that time)."""
        kept = self._aliases
        if kept is not None and time.monotonic() - kept[0] < STORES_RECHECK:
            try:
                return [await self.stores.get(alias) for alias in kept[1]]
            except NotFound:
                pass  # a store went away: ask again
        configs = await self.stores.warm_up()
        self._aliases = (time.monotonic(), [c.store.alias for c in configs])
        return configs

    async def _visible(self, principal: Principal, order_id: UUID, permission: Permission
                       ) -> OrderSummary:
        summary = await self.search.placed(order_id)
        if summary is None or not principal.may(permission, summary.store_id):
            raise NotFound(f"no order with id {order_id}")
        return summary

    async def _store(self, principal: Principal, store: str, permission: Permission,
                     parameter: str | None) -> StoreConfig:
        """The store named ``store`` if the principal may see it. One it may not see is
        as unknown as one that does not exist: 404 on a path, 400 for a ``parameter``."""
        try:
            config = await self.stores.get(store)
        except NotFound:
            config = None
        if config is None or not principal.may(permission, config.store.id):
            what = f"no store with id or alias {store.strip()[:100]!r}"
            raise InvalidInput(f"{parameter}: {what}") if parameter else NotFound(what)
        return config

    async def _criteria(self, principal: Principal, query: OrderQuery,
                        permission: Permission
                        ) -> tuple[OrderCriteria | None, dict[UUID, StoreConfig]]:
        """The checked filters of ``query``; ``None`` when the principal sees no store."""
        if query.store is not None and query.store.strip():
            scope = [await self._store(principal, query.store, permission, "store")]
        else:
            scope = [c for c in await self._every_store()
                     if principal.may(permission, c.store.id)]
        stores = {config.store.id: config for config in scope}
        placed_from, placed_to = (filters.utc_time(query.placed_from, "placedFrom"),
                                  filters.utc_time(query.placed_to, "placedTo"))
        if placed_from and placed_to and placed_from > placed_to:
            raise InvalidInput("placedFrom: is after placedTo")
        total_min, total_max = (filters.total_amount(query.total_min, "totalMin"),
                                filters.total_amount(query.total_max, "totalMax"))
        if total_min is not None and total_max is not None and total_min > total_max:
            raise InvalidInput("totalMin: is more than totalMax")
        criteria = OrderCriteria(
            store_ids=tuple(stores),
            order_status_ids=filters.order_statuses(scope, query.order_status),
            payment_status=filters.payment_status(query.payment_status),
            fulfilment_status=filters.checked_choice(
                query.fulfilment_status, filters.FULFILMENT_STATUSES, "fulfilmentStatus"),
            placed_from=placed_from, placed_to=placed_to,
            email=filters.checked_text(query.email, "email", 320, lower=True),
            customer_reference=filters.checked_text(query.customer_reference,
                                                    "customerReference", 200),
            order_number=filters.checked_text(query.order_number, "orderNumber", 100),
            total_min=total_min, total_max=total_max, code=filters.used_code(query.code),
            text=filters.checked_text(query.text, "q", filters.MAX_TEXT))
        return (criteria if stores else None), stores
