"""Stock in SQL: on hand (on the product or variant row), its ledger, and reservations.

Available to sell = on hand - the active (unexpired) reservations. Every statement that
decides whether stock is there locks the item's row first on PostgreSQL (``FOR UPDATE``:
SQLite's writers are one at a time already), in the order of the items' ids so that two
orders reserving the same items never wait on each other in a circle.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from kasse.adapters.db.tables import (
    orders,
    product_variants,
    products,
    stock_ledger,
    stock_reservations,
)
from kasse.adapters.db.types import ScaledDecimal, utc
from kasse.domain.errors import ConcurrentUpdate
from kasse.domain.stock import LedgerEntry, Needs, Shortage, StockLevel

SALE, RESTOCK, ADJUSTMENT, IMPORT = "sale", "restock", "adjustment", "import"


def reserved_by_others(item_id: Any) -> Any:
    """Units of ``item_id`` held by the unexpired reservations of other orders than
    ``b_order_id`` (every order's, when that is NULL)."""
    return func.coalesce(
        select(func.sum(stock_reservations.c.quantity))
        .where(stock_reservations.c.item_id == item_id,
               stock_reservations.c.expires_at > bindparam("b_now"),
               (stock_reservations.c.order_id != bindparam("b_order_id"))
               | bindparam("b_order_id").is_(None))
        .scalar_subquery(), 0)


def available(table: Any) -> Any:
    """On hand minus what others hold, as an exact decimal (NULL: stock not tracked)."""
    return type_coerce(table.c.stock - reserved_by_others(table.c.id), ScaledDecimal)


_AVAILABLE_OF: Select[Any] = union_all(
    select(products.c.id, available(products))
    .where(products.c.id.in_(bindparam("b_product_ids", expanding=True))),
    select(product_variants.c.id, available(product_variants))
    .where(product_variants.c.product_id.in_(bindparam("b_variant_owner_ids",
                                                        expanding=True))))  # type: ignore[assignment]
_RESERVED = (select(stock_reservations.c.item_id, func.sum(stock_reservations.c.quantity))
             .where(stock_reservations.c.item_id.in_(bindparam("b_ids", expanding=True)),
                    stock_reservations.c.expires_at > bindparam("b_now"),
                    (stock_reservations.c.order_id != bindparam("b_order_id"))
                    | bindparam("b_order_id").is_(None))
             .group_by(stock_reservations.c.item_id))
_ONE_PRODUCT = (select(products.c.stock, available(products))
                .where(products.c.id == bindparam("b_item")))
_ONE_VARIANT = (select(product_variants.c.stock, available(product_variants))
                .where(product_variants.c.id == bindparam("b_item")))
_LOCK_PRODUCT = (select(products.c.id).where(products.c.id == bindparam("b_item"))
                 .with_for_update())
_LOCK_VARIANT = (select(product_variants.c.id)
                 .where(product_variants.c.id == bindparam("b_item")).with_for_update())
_RESERVE = insert(stock_reservations)
_RELEASE = delete(stock_reservations).where(
    stock_reservations.c.order_id == bindparam("b_order_id"))
_EXPIRE = delete(stock_reservations).where(
    stock_reservations.c.expires_at <= bindparam("b_now"))
_LEDGER = insert(stock_ledger)
_PRODUCT_ID = (select(products.c.id)
               .where(products.c.store_id == bindparam("b_store_id"),
                      products.c.reference == bindparam("b_reference"))
               .scalar_subquery())
# A sale takes stock by reference, never below what other orders still hold.
_TAKE_PRODUCT = (
    update(products)
    .where(products.c.store_id == bindparam("b_store_id"),
           products.c.reference == bindparam("b_reference"),
           products.c.stock.is_not(None),
           available(products) >= bindparam("b_quantity", type_=ScaledDecimal))
    .values(stock=products.c.stock - bindparam("b_quantity", type_=ScaledDecimal))
    .returning(products.c.id))
_TAKE_VARIANT = (
    update(product_variants)
    .where(product_variants.c.product_id == _PRODUCT_ID,
           product_variants.c.reference == bindparam("b_variant"),
           product_variants.c.stock.is_not(None),
           available(product_variants) >= bindparam("b_quantity", type_=ScaledDecimal))
    .values(stock=product_variants.c.stock - bindparam("b_quantity", type_=ScaledDecimal))
    .returning(product_variants.c.id))
_PRODUCT_STOCK = select(products.c.stock).where(
    products.c.store_id == bindparam("b_store_id"),
    products.c.reference == bindparam("b_reference"))
_VARIANT_STOCK = select(product_variants.c.stock).where(
    product_variants.c.product_id == _PRODUCT_ID,
    product_variants.c.reference == bindparam("b_variant"))


def now_utc() -> datetime:
    return datetime.now(UTC)


async def available_of(conn: AsyncConnection, product_ids: Sequence[UUID],
                       order_id: UUID | None = None) -> dict[UUID, Decimal | None]:
    """Available to sell now of these products and their variants, by item id (what
    ``order_id`` holds itself counts as available to it); ``None``: not tracked."""
    ids = list(product_ids)
    rows = await conn.execute(_AVAILABLE_OF, {
        "b_product_ids": ids, "b_variant_owner_ids": ids, "b_now": now_utc(),
        "b_order_id": order_id})
    return {row_id: stock for row_id, stock in rows}


async def reserved_of(conn: AsyncConnection, item_ids: Sequence[UUID],
                      order_id: UUID | None = None) -> dict[UUID, Decimal]:
    """Units held by unexpired reservations (of other orders than ``order_id``), by item;
    items that nobody holds are left out."""
    if not item_ids:
        return {}
    rows = await conn.execute(_RESERVED, {"b_ids": list(item_ids), "b_now": now_utc(),
                                          "b_order_id": order_id})
    return {item: total or Decimal(0) for item, total in rows}


class SqlStockRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._postgres = conn.dialect.name == "postgresql"

    # --- what is available ---------------------------------------------------------

    async def reserved(self, item_ids: Sequence[UUID]) -> dict[UUID, Decimal]:
        """Units held by unexpired reservations, by item (items without any left out)."""
        return await reserved_of(self.conn, item_ids)

    # --- reservations -------------------------------------------------------------------

    async def reserve(self, store_id: UUID, order_id: UUID,
                      needs: Needs, expires_at: datetime
                      ) -> list[Shortage]:
        """Hold ``needs`` (item id -> (is a variant, units)) for the order until
        ``expires_at``, replacing what it held before; all or nothing: the items that
        cannot be held are returned and nothing is held then (the caller rolls back)."""
        await self.release(order_id)
        now = now_utc()
        short: list[Shortage] = []
        rows = []
        for item_id in sorted(needs):
            is_variant, units = needs[item_id]
            if self._postgres:
                await self.conn.execute(_LOCK_VARIANT if is_variant else _LOCK_PRODUCT,
                                        {"b_item": item_id})
            found = (await self.conn.execute(_ONE_VARIANT if is_variant else _ONE_PRODUCT, {
                "b_item": item_id, "b_now": now, "b_order_id": order_id})).first()
            if found is None or found[0] is None:
                continue  # no longer stocked, or not tracked: nothing to hold
            left: Decimal = found[1]
            if left < units:
                short.append(Shortage(item_id, max(left, Decimal(0))))
                continue
            rows.append({"order_id": order_id, "item_id": item_id, "store_id": store_id,
                         "quantity": units, "expires_at": expires_at})
        if not short and rows:
            await self.conn.execute(_RESERVE, rows)
        return short

    async def release(self, order_id: UUID) -> None:
        await self.conn.execute(_RELEASE, {"b_order_id": order_id})

    async def expire(self, now: datetime) -> int:
        """Delete the reservations that ran out (reads ignore them already)."""
        result = await self.conn.execute(_EXPIRE, {"b_now": now})
        return int(result.rowcount or 0)

    # --- changes to stock on hand -------------------------------------------------------

    async def take(self, store_id: UUID, order_id: UUID, product_reference: str,
                   variant_reference: str | None, quantity: Decimal, at: datetime) -> bool:
        """A sale: take ``quantity`` from stock on hand, never below what other orders
        hold, and write it to the ledger; False when not enough is left (nothing changes
        then). Untracked stock (NULL) always succeeds."""
        keys: dict[str, Any] = {"b_store_id": store_id, "b_reference": product_reference,
                                "b_quantity": quantity, "b_now": now_utc(),
                                "b_order_id": order_id}
        if variant_reference is not None:
            keys["b_variant"] = variant_reference
            taking, current = _TAKE_VARIANT, _VARIANT_STOCK
        else:
            taking, current = _TAKE_PRODUCT, _PRODUCT_STOCK
        if self._postgres:
            # Lock the row first: an UPDATE that waited for another sale re-checks its
            # row but not its subquery, which would still count the holds that sale let
            # go of. A statement after the lock sees them gone.
            await self.conn.execute(current.with_for_update(), keys)
        taken = (await self.conn.execute(taking, keys)).first()
        if taken is not None:
            await self._ledger(store_id, taken[0], -quantity, SALE, at, order_id=order_id)
            return True
        untracked = (await self.conn.execute(current, keys)).first()
        return untracked is None or untracked[0] is None

    async def adjust(self, store_id: UUID, item_id: UUID, is_variant: bool, delta: Decimal,
                     cause: str, at: datetime, *, reason: str | None = None,
                     actor: str | None = None, order_id: UUID | None = None
                     ) -> Decimal | None:
        """Change stock on hand by ``delta`` with a ledger entry (about ``order_id``, if
        any); the new figure, or ``None`` when the result would be negative (nothing
        changes then)."""
        table = product_variants if is_variant else products
        result = (await self.conn.execute(
            update(table).where(table.c.id == item_id, table.c.stock.is_not(None),
                                table.c.stock + bindparam("b_delta", type_=ScaledDecimal)
                                >= literal(0))
            .values(stock=table.c.stock + bindparam("b_delta", type_=ScaledDecimal))
            .returning(table.c.stock), {"b_delta": delta})).first()
        if result is None:
            return None
        await self._ledger(store_id, item_id, delta, cause, at, reason=reason, actor=actor,
                           order_id=order_id)
        on_hand: Decimal = result[0]
        return on_hand

    async def record(self, store_id: UUID, item_id: UUID, delta: Decimal, cause: str,
                     at: datetime, *, reason: str | None = None) -> None:
        """A ledger entry for a change already made to stock on hand (an import)."""
        await self._ledger(store_id, item_id, delta, cause, at, reason=reason)

    async def _ledger(self, store_id: UUID, item_id: UUID, delta: Decimal, cause: str,
                      at: datetime, *, order_id: UUID | None = None,
                      reason: str | None = None, actor: str | None = None) -> None:
        await self.conn.execute(_LEDGER, {
            "id": uuid4(), "store_id": store_id, "item_id": item_id, "delta": delta,
            "cause": cause, "reason": reason, "order_id": order_id, "actor": actor,
            "created_at": at})

    async def on_hand(self, item_id: UUID, is_variant: bool) -> Decimal | None:
        """Stock on hand of the item, its row locked until the transaction ends (on
        PostgreSQL; SQLite's writer holds the database): what an adjustment is decided
        on. ``None``: no such item, or its stock is not tracked."""
        table = product_variants if is_variant else products
        statement = select(table.c.stock).where(table.c.id == item_id)
        if self._postgres:
            statement = statement.with_for_update()
        found = (await self.conn.execute(statement)).first()
        return None if found is None else found[0]

    async def apply(self, store_id: UUID, item_id: UUID, is_variant: bool, delta: Decimal,
                    cause: str, at: datetime, *, note: str | None, actor: str | None
                    ) -> LedgerEntry:
        """Change stock on hand by ``delta`` (decided under ``on_hand``'s lock) and write
        the ledger entry; a change of 0 (a count that matched) writes the entry only."""
        if delta:
            table = product_variants if is_variant else products
            changed = await self.conn.execute(
                update(table).where(table.c.id == item_id, table.c.stock.is_not(None),
                                    table.c.stock + bindparam("b_delta", type_=ScaledDecimal)
                                    >= literal(0))
                .values(stock=table.c.stock + bindparam("b_delta", type_=ScaledDecimal)),
                {"b_delta": delta})
            if changed.rowcount != 1:  # only without the lock: let the caller start over
                raise ConcurrentUpdate(f"stock of item {item_id} changed meanwhile")
        entry = LedgerEntry(id=uuid4(), item_id=item_id, change=delta, cause=cause,
                            note=note, actor=actor, at=at)
        await self.conn.execute(_LEDGER, {
            "id": entry.id, "store_id": store_id, "item_id": item_id, "delta": delta,
            "cause": cause, "reason": note, "order_id": None,
            "actor": actor[:200] if actor else None, "created_at": at})
        return entry

    async def ledger(self, store_id: UUID, item_id: UUID, *,
                     before: tuple[datetime, UUID] | None = None, limit: int = 50
                     ) -> list[LedgerEntry]:
        """The item's ledger, newest first; ``before``: only entries older than this
        (time, id) key (the last one of the page before)."""
        led = stock_ledger.c
        statement = (select(stock_ledger, orders.c.order_number)
                     .select_from(stock_ledger.outerjoin(orders, orders.c.id == led.order_id))
                     .where(led.store_id == store_id, led.item_id == item_id))
        if before is not None:
            at, entry_id = before
            statement = statement.where(or_(led.created_at < at,
                                            and_(led.created_at == at, led.id < entry_id)))
        rows = await self.conn.execute(
            statement.order_by(led.created_at.desc(), led.id.desc()).limit(limit))
        return [LedgerEntry(id=row.id, item_id=row.item_id, change=row.delta,
                            cause=row.cause, note=row.reason, actor=row.actor,
                            at=utc(row.created_at) or row.created_at,
                            order_id=row.order_id, order_number=row.order_number)
                for row in rows]

    # --- the shop's view ----------------------------------------------------------------

    async def levels(self, store_id: UUID) -> list[StockLevel]:
        """Every tracked item of the store: on hand, reserved now and its ledger's sum."""
        return await self._levels(store_id)

    async def item(self, store_id: UUID, product_reference: str,
                   variant_reference: str | None) -> StockLevel | None:
        """One tracked item of the store by its references (``None``: no such item, or
        its stock is not tracked)."""
        found = await self._levels(store_id, (product_reference, variant_reference))
        return found[0] if found else None

    async def _levels(self, store_id: UUID, only: tuple[str, str | None] | None = None
                      ) -> list[StockLevel]:
        ledger = (select(stock_ledger.c.item_id, func.sum(stock_ledger.c.delta).label("total"))
                  .where(stock_ledger.c.store_id == store_id)
                  .group_by(stock_ledger.c.item_id))
        product_query = (
            select(products.c.id, products.c.reference, products.c.sku, products.c.name,
                   products.c.stock)
            .where(products.c.store_id == store_id, products.c.stock.is_not(None))
            .order_by(products.c.sort_order, products.c.reference))
        variant_query = (
            select(product_variants.c.id, products.c.reference,
                   product_variants.c.reference.label("variant"), product_variants.c.sku,
                   product_variants.c.name, product_variants.c.stock)
            .join(products, products.c.id == product_variants.c.product_id)
            .where(products.c.store_id == store_id, product_variants.c.stock.is_not(None))
            .order_by(products.c.sort_order, products.c.reference,
                      product_variants.c.sort_order))
        product_rows: Sequence[Any] = []
        variant_rows: Sequence[Any] = []
        if only is None or only[1] is None:
            if only is not None:
                product_query = product_query.where(products.c.reference == only[0])
            product_rows = (await self.conn.execute(product_query)).all()
        if only is None or only[1] is not None:
            if only is not None:
                variant_query = variant_query.where(products.c.reference == only[0],
                                                    product_variants.c.reference == only[1])
            variant_rows = (await self.conn.execute(variant_query)).all()
        ids = [r.id for r in (*product_rows, *variant_rows)]
        if only is not None:
            if not ids:
                return []
            ledger = ledger.where(stock_ledger.c.item_id.in_(ids))
        totals = {item: total for item, total in await self.conn.execute(ledger)}
        reserved = await self.reserved(ids)

        def level(r: Any, variant: str | None) -> StockLevel:
            total = totals.get(r.id)
            return StockLevel(store_id, r.id, r.reference, variant, r.sku, r.name, r.stock,
                              reserved.get(r.id, Decimal(0)),
                              total if total is not None else Decimal(0))

        return ([level(r, None) for r in product_rows]
                + [level(r, r.variant) for r in variant_rows])
