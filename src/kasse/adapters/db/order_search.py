"""The staff's reads of placed orders in SQL (Core, read-only).

Lists walk an index in their sort order and stop after a page (keyset pagination): the
order-list indexes lead with the store, then the filtered column, then ``finalized_at``
and ``id``, so a first page of a store's orders by status, payment status or fulfilment
status reads about as many index entries as it returns, however many orders are stored.
A list over several stores asks each store for its page (each walking its index) and
merges them, rather than sorting every matching order of every store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Select,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import (
    audit_entries,
    checkout_attempts,
    fulfilments,
    order_notes,
    order_payments,
    order_status_changes,
    orders,
    outbox_events,
    redemptions,
    webhook_deliveries,
    webhook_endpoints,
)
from kasse.adapters.db.types import utc
from kasse.domain.audit import AuditEntry
from kasse.domain.order_properties import customer_info
from kasse.services.order_records import (
    TOTAL_PRICE,
    MoneyMovement,
    Note,
    OrderCriteria,
    OrderHistory,
    OrderSort,
    OrderSummary,
    Shipment,
    SortKey,
    StatusChange,
    WebhookDeliveryRecord,
    shown_url,
)

HISTORY_LIMIT = 500
"""At most this many of each kind of record per order (the newest)."""

_o = orders.c
SUMMARY_COLUMNS = (
    _o.id, _o.store_id, _o.order_number, _o.cart_number, _o.finalized_at, _o.currency_id,
    _o.customer_email, _o.properties, _o.customer_reference, _o.total_price,
    _o.order_status_id, _o.payment_status, _o.fulfilment_status, _o.captured_amount,
    _o.refunded_amount, _o.refund_pending_amount, _o.canceled_at, _o.tags, _o.version)


def summary_of(row: Any) -> OrderSummary:
    """An order summary from a row holding ``SUMMARY_COLUMNS``."""
    info = customer_info(row.properties or {}, row.customer_reference)
    return OrderSummary(
        id=row.id, store_id=row.store_id, order_number=row.order_number,
        cart_number=row.cart_number, placed_at=utc(row.finalized_at) or row.finalized_at,
        currency_id=row.currency_id, email=info.email or row.customer_email,
        first_name=info.first_name, last_name=info.last_name,
        customer_reference=row.customer_reference, total_price=row.total_price,
        order_status_id=row.order_status_id, payment_status=row.payment_status,
        fulfilment_status=row.fulfilment_status, captured=row.captured_amount,
        refunded=row.refunded_amount, refund_pending=row.refund_pending_amount,
        canceled_at=utc(row.canceled_at), tags=tuple(row.tags or ()), version=row.version)


def conditions(c: OrderCriteria) -> list[ColumnElement[bool]]:
    """The filters of ``c`` but the store (placed orders only)."""
    found: list[ColumnElement[bool]] = [_o.finalized_at.is_not(None)]
    if c.order_status_ids is not None:
        found.append(_o.order_status_id == c.order_status_ids[0]
                     if len(c.order_status_ids) == 1
                     else _o.order_status_id.in_(c.order_status_ids))
    equal = ((_o.payment_status, c.payment_status),
             (_o.fulfilment_status, c.fulfilment_status), (_o.customer_email, c.email),
             (_o.customer_reference, c.customer_reference),
             (_o.order_number, c.order_number))
    found.extend(column == value for column, value in equal if value is not None)
    if c.placed_from is not None:
        found.append(_o.finalized_at >= c.placed_from)
    if c.placed_to is not None:
        found.append(_o.finalized_at < c.placed_to)
    if c.total_min is not None:
        found.append(_o.total_price >= c.total_min)
    if c.total_max is not None:
        found.append(_o.total_price <= c.total_max)
    if c.code is not None:
        found.append(_o.id.in_(select(redemptions.c.order_id)
                               .where(redemptions.c.code == c.code)))
    if c.text is not None:
        text = c.text.lower()
        # Names and emails are kept in lower case; order numbers as the store wrote them.
        found.append(or_(_o.order_number.icontains(c.text, autoescape=True),
                         _o.customer_name.contains(text, autoescape=True),
                         _o.customer_email.contains(text, autoescape=True)))
    return found


def _ordering(columns: Any, sort: OrderSort, unknown_totals: bool) -> list[Any]:
    key = columns.finalized_at if sort.by != TOTAL_PRICE else columns.total_price
    keys = [columns.id] if unknown_totals else [key, columns.id]
    return [k.desc() if sort.descending else k.asc() for k in keys]


def _after(sort: OrderSort, after: SortKey) -> ColumnElement[bool]:
    """The rows that come after ``after`` in ``sort`` order (in its part of the list)."""
    if after.value is None:  # among the orders whose total is not known, by id
        return _o.id < after.id if sort.descending else _o.id > after.id
    key = _o.total_price if sort.by == TOTAL_PRICE else _o.finalized_at
    # Typed as the columns (a total is stored scaled, a time as the engine keeps times).
    pair = tuple_(key, _o.id)
    at = tuple_(literal(after.value, key.type), literal(after.id, _o.id.type))
    return pair < at if sort.descending else pair > at


def page_query(criteria: OrderCriteria, sort: OrderSort, after: SortKey | None, limit: int,
               *, unknown_totals: bool = False) -> Select[Any]:
    """A page of matching orders in ``sort`` order. Sorted by total, a list has two parts
    that each walk an index in either direction: the orders with a known total, then
    (``unknown_totals``) those without one, by id."""
    where = conditions(criteria)
    if sort.by == TOTAL_PRICE:
        where.append(_o.total_price.is_(None) if unknown_totals
                     else _o.total_price.is_not(None))
    if after is not None:
        where.append(_after(sort, after))

    def one_store(store_id: UUID) -> Select[Any]:
        ordering = _ordering(_o, sort, unknown_totals)
        if criteria.text is None:
            return (select(*SUMMARY_COLUMNS).where(_o.store_id == store_id, *where)
                    .order_by(*ordering).limit(limit))
        # Free text is looked for in the newest-first index alone (an index-only scan),
        # and only the orders found are read.
        found = (select(_o.id).where(_o.store_id == store_id, *where).order_by(*ordering)
                 .limit(limit))
        return (select(*SUMMARY_COLUMNS).where(_o.id.in_(found)).order_by(*ordering)
                .limit(limit))

    if len(criteria.store_ids) == 1:
        return one_store(criteria.store_ids[0])
    merged = union_all(*(select(one_store(s).subquery()) for s in criteria.store_ids)
                       ).subquery()
    return select(merged).order_by(*_ordering(merged.c, sort, unknown_totals)).limit(limit)


class SqlOrderSearch:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(self, criteria: OrderCriteria, sort: OrderSort, after: SortKey | None,
                   limit: int) -> list[OrderSummary]:
        if not criteria.store_ids:
            return []
        in_unknown = sort.by == TOTAL_PRICE and after is not None and after.value is None
        async with self.db.read() as conn:
            rows = [] if in_unknown else (await conn.execute(
                page_query(criteria, sort, after, limit))).all()
            if sort.by == TOTAL_PRICE and len(rows) < limit:  # then the unknown totals
                rows += (await conn.execute(page_query(
                    criteria, sort, after if in_unknown else None, limit - len(rows),
                    unknown_totals=True))).all()
        return [summary_of(row) for row in rows]

    async def count(self, criteria: OrderCriteria) -> int:
        if not criteria.store_ids:
            return 0
        query = select(func.count()).select_from(orders).where(
            _o.store_id.in_(criteria.store_ids), *conditions(criteria))
        async with self.db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def placed(self, order_id: UUID) -> OrderSummary | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(*SUMMARY_COLUMNS).where(
                _o.id == order_id, _o.finalized_at.is_not(None)))).first()
        return summary_of(row) if row is not None else None

    async def history(self, order_id: UUID) -> OrderHistory:
        async with self.db.read() as conn:
            return OrderHistory(
                movements=tuple(_movement(r) for r in await _newest(
                    conn, order_payments, order_id)),
                shipments=tuple(Shipment(
                    id=r.id, lines=tuple(r.lines or ()), carrier=r.carrier,
                    tracking_number=r.tracking_number, tracking_url=r.tracking_url,
                    actor=r.actor, at=_at(r.created_at))
                    for r in await _newest(conn, fulfilments, order_id)),
                notes=tuple(Note(id=r.id, body=r.body, actor=r.actor, at=_at(r.created_at))
                            for r in await _newest(conn, order_notes, order_id)),
                status_changes=tuple(StatusChange(
                    id=r.id, from_status_id=r.from_status_id, to_status_id=r.to_status_id,
                    actor=r.actor, at=_at(r.created_at))
                    for r in await _newest(conn, order_status_changes, order_id)),
                audit=tuple(_audit_entry(r) for r in await _newest(
                    conn, audit_entries, order_id)),
                deliveries=await _deliveries(conn, order_id),
                checkout_kind=(await conn.execute(
                    select(checkout_attempts.c.kind)
                    .where(checkout_attempts.c.order_id == order_id,
                           checkout_attempts.c.status == "completed")
                    .order_by(checkout_attempts.c.created_at.desc()).limit(1))).scalar())

    async def audit(self, *, store_id: UUID | None, order_id: UUID | None,
                    before: tuple[datetime, UUID] | None, limit: int) -> list[AuditEntry]:
        a = audit_entries.c
        where: list[ColumnElement[bool]] = []
        if order_id is not None:
            where.append(a.order_id == order_id)
        if store_id is not None:
            where.append(a.store_id == store_id)
        if not where:
            where.append(false())
        if before is not None:
            where.append(tuple_(a.created_at, a.id) < tuple_(
                literal(before[0], a.created_at.type), literal(before[1], a.id.type)))
        query = (select(audit_entries).where(*where)
                 .order_by(a.created_at.desc(), a.id.desc()).limit(limit))
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_audit_entry(row) for row in rows]


def _at(value: datetime) -> datetime:
    return utc(value) or value


async def _newest(conn: AsyncConnection, table: Any, order_id: UUID) -> list[Any]:
    """The order's newest ``HISTORY_LIMIT`` rows of ``table``, oldest first."""
    rows = (await conn.execute(
        select(table).where(table.c.order_id == order_id)
        .order_by(table.c.created_at.desc(), table.c.id.desc()).limit(HISTORY_LIMIT))).all()
    return list(reversed(rows))


def _movement(r: Any) -> MoneyMovement:
    return MoneyMovement(
        id=r.id, kind=r.kind, status=r.status, amount=r.amount, currency_code=r.currency_code,
        provider_alias=r.provider_alias, transaction_id=r.transaction_id, manual=r.manual,
        reference=r.reference, reason=r.reason, lines=tuple(r.lines or ()), actor=r.actor,
        error=r.error, at=_at(r.created_at), completed_at=utc(r.completed_at))


def _audit_entry(r: Any) -> AuditEntry:
    return AuditEntry(
        id=r.id, store_id=r.store_id, order_id=r.order_id, actor_kind=r.actor_kind,
        actor_id=r.actor_id, actor_name=r.actor_name, action=r.action,
        detail=dict(r.detail or {}), version_before=r.version_before,
        version_after=r.version_after, request_id=r.request_id, at=_at(r.created_at))


async def _deliveries(conn: AsyncConnection, order_id: UUID
                      ) -> tuple[WebhookDeliveryRecord, ...]:
    d, e = webhook_deliveries.c, outbox_events.c
    rows = (await conn.execute(
        select(d.id, e.topic, webhook_endpoints.c.url, d.status, d.attempts,
               d.last_status_code, d.last_error, d.created_at, d.last_attempt_at,
               d.completed_at)
        .select_from(webhook_deliveries.join(outbox_events, e.id == d.event_id)
                     .join(webhook_endpoints, webhook_endpoints.c.id == d.endpoint_id))
        .where(e.aggregate_id == order_id)
        .order_by(d.created_at.desc(), d.id.desc()).limit(HISTORY_LIMIT))).all()
    return tuple(WebhookDeliveryRecord(
        id=r.id, topic=r.topic, endpoint_url=shown_url(r.url), status=r.status, attempts=r.attempts,
        last_status_code=r.last_status_code, last_error=r.last_error, at=_at(r.created_at),
        last_attempt_at=utc(r.last_attempt_at), completed_at=utc(r.completed_at))
        for r in reversed(rows))
