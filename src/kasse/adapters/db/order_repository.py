"""Orders in SQL: load and save the aggregate with optimistic concurrency."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kasse.adapters.db.redemption_repository import SqlRedemptionRepository
from kasse.adapters.db.tables import checkout_attempts, number_sequences, order_lines, orders
from kasse.adapters.db.types import utc
from kasse.domain.errors import ConcurrentUpdate
from kasse.domain.order import FulfilmentStatus, Order, OrderLine
from kasse.domain.payment import PaymentStatus

MAX_CUSTOMER_ORDERS = 200

# The statements of the hot paths are built once: building a statement and its cache key
# on every call cost more than running it.
# An order and its lines in one statement: one round trip, and one consistent snapshot.
_LINE_COLUMNS = [column.label(f"l_{column.name}") for column in order_lines.c]
_ORDER_WITH_LINES = (
    select(orders, *_LINE_COLUMNS)
    .select_from(orders.outerjoin(order_lines, order_lines.c.order_id == orders.c.id))
    .where(orders.c.id == bindparam("b_id"), orders.c.store_id == bindparam("b_store_id"))
    .order_by(order_lines.c.position))
# With a row lock, the lines must be read after the lock is granted: in PostgreSQL's READ
# COMMITTED a joined read would re-check the locked order row but keep stale lines.
_ORDER_FOR_UPDATE = select(orders).where(
    orders.c.id == bindparam("b_id"), orders.c.store_id == bindparam("b_store_id")
).with_for_update()
_LINES = (select(order_lines).where(order_lines.c.order_id == bindparam("b_order_id"))
          .order_by(order_lines.c.position))
STORE_OF = select(orders.c.store_id).where(orders.c.id == bindparam("b_id"))
VERSION = select(orders.c.version).where(orders.c.id == bindparam("b_id"),
                                          orders.c.store_id == bindparam("b_store_id"))
_SAVE = update(orders).where(orders.c.id == bindparam("b_id"),
                             orders.c.version == bindparam("b_version"))
_INSERT_ORDER = insert(orders)
_INSERT_LINES = insert(order_lines)
_DELETE_LINES = delete(order_lines).where(order_lines.c.order_id == bindparam("b_order_id"))
_DELETE_SOME_LINES = delete(order_lines).where(
    order_lines.c.order_id == bindparam("b_order_id"),
    order_lines.c.id.in_(bindparam("b_ids", expanding=True)))
_BUMP = (update(number_sequences)
         .where(number_sequences.c.store_id == bindparam("b_store_id"),
                number_sequences.c.kind == bindparam("b_kind"))
         .values(last_value=number_sequences.c.last_value + 1)
         .returning(number_sequences.c.last_value))



def customer_name(properties: dict[str, str]) -> str | None:
    """Lower-cased "firstName lastName", for the staff's free-text search."""
    name = " ".join(part.strip() for part in (properties.get("firstName") or "",
                                              properties.get("lastName") or "")
                    if part.strip())
    return name.lower()[:300] or None


def _order_values(order: Order) -> dict[str, Any]:
    email = order.properties.get("email")
    return {
        "store_id": order.store_id,
        "cart_number": order.cart_number,
        "order_number": order.order_number,
        "currency_id": order.currency_id,
        "tax_class_id": order.tax_class_id,
        "language": order.language,
        "customer_reference": order.customer_reference,
        "customer_email": email.lower() if email else None,
        "customer_name": customer_name(order.properties),
        "order_status_id": order.order_status_id,
        "billing_country_id": order.billing_country_id,
        "billing_region_id": order.billing_region_id,
        "shipping_country_id": order.shipping_country_id,
        "shipping_region_id": order.shipping_region_id,
        "shipping_same_as_billing": order.shipping_same_as_billing,
        "shipping_method_id": order.shipping_method_id,
        "shipping_option_id": order.shipping_option_id,
        "payment_method_id": order.payment_method_id,
        "properties": dict(order.properties),
        "server_properties": dict(order.server_properties),
        "tags": list(order.tags),
        "discount_codes": list(order.discount_codes),
        "gift_card_codes": list(order.gift_card_codes),
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "finalized_at": order.finalized_at,
        "payment_status": order.payment_status.value if order.payment_status else None,
        "transaction_id": order.transaction_id,
        "authorized_amount": order.authorized_amount,
        "fee_amount": order.fee_amount,
        "total_price": order.total_price,
        "captured_amount": order.captured_amount,
        "refunded_amount": order.refunded_amount,
        "refund_pending_amount": order.refund_pending_amount,
        "fulfilment_status": (order.fulfilment_status.value
                              if order.fulfilment_status else None),
        "canceled_at": order.canceled_at,
    }


def _line_rows(order: Order) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(line: OrderLine, parent: UUID | None) -> None:
        rows.append({
            "id": line.id, "order_id": order.id, "parent_id": parent, "position": len(rows),
            "product_reference": line.product_reference,
            "variant_reference": line.variant_reference, "sku": line.sku, "name": line.name,
            "quantity": line.quantity, "unit_price": line.unit_price,
            "product_tax_class_id": line.product_tax_class_id,
            "tax_class_id": line.tax_class_id, "properties": dict(line.properties),
            "attributes": [list(a) for a in line.attributes], "bundle_id": line.bundle_id,
            "is_gift_card": line.is_gift_card,
            "fulfilled_quantity": line.fulfilled_quantity,
            "refunded_quantity": line.refunded_quantity,
            "restocked_quantity": line.restocked_quantity,
        })
        for child in line.children:
            add(child, line.id)

    for line in order.lines:
        add(line, None)
    return rows


def _order_from(row: Any, line_rows: Sequence[Any]) -> Order:
    by_id: dict[UUID, OrderLine] = {}
    top: list[OrderLine] = []
    for r in line_rows:
        line = OrderLine(
            id=r.id, product_reference=r.product_reference,
            variant_reference=r.variant_reference, sku=r.sku, name=r.name,
            quantity=r.quantity, unit_price=r.unit_price,
            product_tax_class_id=r.product_tax_class_id, tax_class_id=r.tax_class_id,
            properties=dict(r.properties or {}),
            attributes=tuple(tuple(a) for a in (r.attributes or [])),
            bundle_id=r.bundle_id, is_gift_card=r.is_gift_card,
            fulfilled_quantity=r.fulfilled_quantity, refunded_quantity=r.refunded_quantity,
            restocked_quantity=r.restocked_quantity)
        by_id[line.id] = line
        parent = by_id.get(r.parent_id) if r.parent_id is not None else None
        (parent.children if parent is not None else top).append(line)
    return Order(
        id=row.id, store_id=row.store_id, cart_number=row.cart_number,
        order_number=row.order_number, currency_id=row.currency_id,
        tax_class_id=row.tax_class_id, language=row.language,
        customer_reference=row.customer_reference, order_status_id=row.order_status_id,
        billing_country_id=row.billing_country_id, billing_region_id=row.billing_region_id,
        shipping_country_id=row.shipping_country_id,
        shipping_region_id=row.shipping_region_id,
        shipping_same_as_billing=row.shipping_same_as_billing,
        shipping_method_id=row.shipping_method_id, shipping_option_id=row.shipping_option_id,
        payment_method_id=row.payment_method_id, properties=dict(row.properties or {}),
        server_properties=dict(row.server_properties or {}),
        tags=list(row.tags or []), lines=top,
        discount_codes=list(row.discount_codes or []),
        gift_card_codes=list(row.gift_card_codes or []),
        created_at=utc(row.created_at) or datetime.now(UTC),
        updated_at=utc(row.updated_at) or datetime.now(UTC),
        finalized_at=utc(row.finalized_at),
        payment_status=PaymentStatus(row.payment_status) if row.payment_status else None,
        transaction_id=row.transaction_id, authorized_amount=row.authorized_amount,
        fee_amount=row.fee_amount, total_price=row.total_price,
        captured_amount=row.captured_amount, refunded_amount=row.refunded_amount,
        refund_pending_amount=row.refund_pending_amount,
        fulfilment_status=(FulfilmentStatus(row.fulfilment_status)
                           if row.fulfilment_status else None),
        canceled_at=utc(row.canceled_at), version=row.version)


class SqlOrderRepository:
    """One per unit of work; remembers the lines it loaded to skip rewriting them."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._loaded_lines: dict[UUID, list[dict[str, Any]]] = {}
        self._locks = conn.dialect.name == "postgresql"
        self.touched: dict[UUID, Order] = {}
        """The orders loaded or added in this unit of work (their events are drained)."""

    async def get(self, store_id: UUID, order_id: UUID, *, for_update: bool = False
                  ) -> Order | None:
        params = {"b_id": order_id, "b_store_id": store_id}
        if for_update and self._locks:
            # A row lock is an extra on PostgreSQL: writers of one order queue, not retry.
            row = (await self.conn.execute(_ORDER_FOR_UPDATE, params)).first()
            if row is None:
                return None
            lines: Sequence[Any] = (await self.conn.execute(
                _LINES, {"b_order_id": order_id})).all()
        else:
            rows = (await self.conn.execute(_ORDER_WITH_LINES, params)).all()
            if not rows:
                return None
            row = rows[0]
            lines = [SimpleNamespace(**{name[2:]: value for name, value in r._mapping.items()
                                        if name.startswith("l_")})
                     for r in rows if r.l_id is not None]
        order = _order_from(row, lines)
        self._loaded_lines[order.id] = _line_rows(order)
        self.touched[order.id] = order
        await SqlRedemptionRepository(self.conn).load_into(order)
        return order

    async def store_of(self, order_id: UUID) -> UUID | None:
        """The store an order belongs to (``None``: no such order)."""
        store_id: UUID | None = (await self.conn.execute(
            STORE_OF, {"b_id": order_id})).scalar()
        return store_id

    async def add(self, order: Order) -> None:
        self.touched[order.id] = order
        await self.conn.execute(_INSERT_ORDER, {"id": order.id, "version": order.version,
                                                **_order_values(order)})
        rows = _line_rows(order)
        if rows:
            await self.conn.execute(_INSERT_LINES, rows)
        self._loaded_lines[order.id] = rows

    async def save(self, order: Order) -> None:
        """Write the order if nobody saved it since it was loaded; bumps ``version``."""
        result = await self.conn.execute(_SAVE, {
            "b_id": order.id, "b_version": order.version, "version": order.version + 1,
            **_order_values(order)})
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"order {order.id} was changed by another request")
        order.version += 1
        rows = _line_rows(order)
        loaded = self._loaded_lines.get(order.id)
        if rows == loaded:
            return
        if loaded is None:  # not read in this unit of work: write every line anew
            await self.conn.execute(_DELETE_LINES, {"b_order_id": order.id})
            fresh = rows
        else:
            # Only the lines that changed: adding a product to a long cart writes one row.
            now = {row["id"]: row for row in rows}
            before = {row["id"]: row for row in loaded}
            stale = [line_id for line_id, row in before.items() if now.get(line_id) != row]
            fresh = [row for row in rows if before.get(row["id"]) != row]
            if stale:
                await self.conn.execute(_DELETE_SOME_LINES,
                                        {"b_order_id": order.id, "b_ids": stale})
        if fresh:
            await self.conn.execute(_INSERT_LINES, fresh)
        self._loaded_lines[order.id] = rows

    async def delete(self, order: Order) -> None:
        result = await self.conn.execute(
            delete(orders).where(orders.c.id == order.id, orders.c.version == order.version))
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"order {order.id} was changed by another request")

    async def next_number(self, store_id: UUID, kind: str) -> int:
        """The next value of a store's counter; unique across processes (gaps possible)."""
        keys = {"b_store_id": store_id, "b_kind": kind}
        value = (await self.conn.execute(_BUMP, keys)).scalar()
        if value is not None:
            return int(value)
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(insert(number_sequences).values(
                    store_id=store_id, kind=kind, last_value=1))
            return 1
        except IntegrityError:  # another process created the counter first
            value = (await self.conn.execute(_BUMP, keys)).scalar_one()
            return int(value)

    async def finalized_for_customer(self, store_id: UUID, reference_or_email: str
                                     ) -> list[Order]:
        key = reference_or_email.strip()
        query = (select(orders.c.id)
                 .where(orders.c.store_id == store_id, orders.c.finalized_at.is_not(None),
                        or_(orders.c.customer_reference == key,
                            orders.c.customer_email == key.lower()))
                 .order_by(orders.c.finalized_at.desc()).limit(MAX_CUSTOMER_ORDERS))
        ids = (await self.conn.execute(query)).scalars().all()
        found = [await self.get(store_id, order_id) for order_id in ids]
        return [order for order in found if order is not None]


async def delete_abandoned(conn: AsyncConnection, untouched_since: datetime,
                           checkouts_expired_before: datetime) -> int:
    """Open carts not updated since ``untouched_since`` and without a checkout that
    expired after ``checkouts_expired_before``; their lines go with them (cascade)."""
    live_checkout = select(checkout_attempts.c.id).where(
        checkout_attempts.c.order_id == orders.c.id,
        checkout_attempts.c.expires_at >= checkouts_expired_before)
    result = await conn.execute(delete(orders).where(
        orders.c.finalized_at.is_(None), orders.c.updated_at < untouched_since,
        ~live_checkout.exists()))
    return result.rowcount
