"""Merchant webhooks in SQL: endpoints, the relay of outbox events into deliveries, and
the leases that keep two workers from sending one delivery at the same time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import and_, delete, event, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Insert

from kasse.adapters.db import store_repository
from kasse.adapters.db.audit_repository import SqlAuditLog
from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import (
    outbox_events,
    stores,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)
from kasse.domain.webhooks import (
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryRecord,
    DeliveryStatus,
    OutboxEvent,
    WebhookEndpoint,
    WebhookFormat,
    WebhookMessage,
)

_PENDING = DeliveryStatus.PENDING.value
_OUTBOX_WRITTEN = "kasse_outbox_written"


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _endpoint(row: Any) -> WebhookEndpoint:
    return WebhookEndpoint(id=row.id, url=row.url, events=tuple(row.events),
                           store_id=row.store_id, active=row.active,
                           created_at=_utc(row.created_at), format=WebhookFormat(row.format))


def _event(row: Any) -> OutboxEvent:
    return OutboxEvent(id=row.id, store_id=row.store_id, topic=row.topic,
                       aggregate_id=row.aggregate_id, payload=row.payload,
                       created_at=_utc(row.created_at))


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id, event_id=row.event_id, endpoint_id=row.endpoint_id,
        created_at=_utc(row.created_at), next_attempt_at=_utc(row.next_attempt_at),
        status=DeliveryStatus(row.status), attempts=row.attempts,
        first_attempt_at=_utc_or_none(row.first_attempt_at),
        last_attempt_at=_utc_or_none(row.last_attempt_at),
        last_status_code=row.last_status_code, last_error=row.last_error,
        lease_owner=row.lease_owner, lease_until=_utc_or_none(row.lease_until),
        completed_at=_utc_or_none(row.completed_at))


def _not_in_flight(now: datetime) -> Any:
    """The SQL form of ``not Delivery.in_flight``."""
    d = webhook_deliveries.c
    return or_(d.lease_until.is_(None), d.lease_until < now)


_FAILING = or_(webhook_deliveries.c.status == DeliveryStatus.FAILED.value,
               and_(webhook_deliveries.c.status == _PENDING,
                    webhook_deliveries.c.attempts > 0))
"""The SQL form of ``Delivery.failing``."""


def _free(now: datetime) -> Any:
    """The SQL form of ``Delivery.claimable``."""
    d = webhook_deliveries.c
    return (d.status == _PENDING, d.next_attempt_at <= now,
            or_(d.lease_until.is_(None), d.lease_until < now))


class SqlWebhookRepository:
    def __init__(self, conn: AsyncConnection, *, write: bool = True) -> None:
        self.conn = conn
        self._postgres = conn.dialect.name == "postgresql"
        # Row locks are an extra on PostgreSQL, and only where something will be written.
        self._locks = self._postgres and write
        self.audit = SqlAuditLog(conn)

    # --- endpoints -------------------------------------------------------------------------

    async def find_store(self, id_or_alias: str) -> UUID | None:
        found = await store_repository.find_store_row(self.conn, id_or_alias)
        return found[0] if found else None

    async def store_aliases(self) -> dict[UUID, str]:
        rows = await self.conn.execute(select(stores.c.id, stores.c.alias))
        return {row.id: row.alias for row in rows}

    async def add_endpoint(self, endpoint: WebhookEndpoint, secret: str) -> None:
        await self.conn.execute(insert(webhook_endpoints).values(
            id=endpoint.id, url=endpoint.url, secret=secret, events=list(endpoint.events),
            store_id=endpoint.store_id, active=endpoint.active,
            created_at=endpoint.created_at, format=endpoint.format.value))

    async def endpoints(self, *, active_only: bool = False) -> list[WebhookEndpoint]:
        e = webhook_endpoints.c
        # Never the secret: it is read only to sign a claimed delivery.
        statement = select(e.id, e.url, e.events, e.store_id, e.active, e.created_at,
                           e.format)
        if active_only:
            statement = statement.where(e.active.is_(True))
        rows = await self.conn.execute(statement.order_by(e.created_at, e.id))
        return [_endpoint(row) for row in rows]

    async def set_endpoint_active(self, endpoint_id: UUID, active: bool) -> bool:
        result = await self.conn.execute(update(webhook_endpoints).where(
            webhook_endpoints.c.id == endpoint_id).values(active=active))
        return result.rowcount == 1

    async def remove_endpoint(self, endpoint_id: UUID) -> bool:
        result = await self.conn.execute(delete(webhook_endpoints).where(
            webhook_endpoints.c.id == endpoint_id))
        return result.rowcount == 1

    # --- the relay: outbox events become deliveries ---------------------------------------

    async def has_pending_events(self) -> bool:
        found = await self.conn.execute(select(
            exists().where(outbox_events.c.delivered_at.is_(None))))
        return bool(found.scalar())

    async def pending_events(self, limit: int) -> list[OutboxEvent]:
        o = outbox_events.c
        statement = (select(o.id, o.store_id, o.topic, o.aggregate_id, o.payload,
                            o.created_at)
                     .where(o.delivered_at.is_(None)).order_by(o.created_at).limit(limit))
        if self._locks:
            # Two relays take different events instead of waiting for each other (SQLite
            # has one writer at a time anyway).
            statement = statement.with_for_update(skip_locked=True)
        return [_event(row) for row in await self.conn.execute(statement)]

    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        dialect = postgresql if self._postgres else sqlite
        await self.conn.execute(dialect.insert(webhook_deliveries).on_conflict_do_nothing(), [
            {"id": d.id, "event_id": d.event_id, "endpoint_id": d.endpoint_id,
             "status": d.status.value, "attempts": d.attempts,
             "next_attempt_at": d.next_attempt_at, "created_at": d.created_at}
            for d in deliveries])

    async def mark_relayed(self, event_ids: Sequence[UUID], at: datetime) -> None:
        if event_ids:
            await self.conn.execute(update(outbox_events)
                                    .where(outbox_events.c.id.in_(list(event_ids)))
                                    .values(delivered_at=at))

    # --- claiming -----------------------------------------------------------------------

    async def due_deliveries(self, now: datetime, limit: int) -> list[UUID]:
        d, e = webhook_deliveries.c, webhook_endpoints.c
        statement = (select(d.id)
                     .select_from(webhook_deliveries.join(
                         webhook_endpoints, e.id == d.endpoint_id))
                     .where(*_free(now), e.active.is_(True))
                     .order_by(d.next_attempt_at).limit(limit))
        if self._locks:  # claimers take different deliveries instead of queueing
            statement = statement.with_for_update(of=webhook_deliveries, skip_locked=True)
        return [row.id for row in await self.conn.execute(statement)]

    async def claim(self, delivery_id: UUID, lease: str, now: datetime, until: datetime
                    ) -> bool:
        # The condition is checked again by the UPDATE itself: of two workers that both
        # saw the delivery free, only the first to write gets a row back.
        result = await self.conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id, *_free(now))
            .values(lease_owner=lease, lease_until=until))
        return result.rowcount == 1

    async def messages(self, delivery_ids: Sequence[UUID]) -> list[WebhookMessage]:
        if not delivery_ids:
            return []
        d, e, o = webhook_deliveries.c, webhook_endpoints.c, outbox_events.c
        rows = await self.conn.execute(
            select(d.id.label("delivery_id"), d.lease_owner, d.attempts, e.url, e.secret,
                   e.format, o.id, o.store_id, o.topic, o.aggregate_id, o.payload, o.created_at)
            .select_from(webhook_deliveries
                         .join(webhook_endpoints, e.id == d.endpoint_id)
                         .join(outbox_events, o.id == d.event_id))
            .where(d.id.in_(list(delivery_ids))))
        return [WebhookMessage(delivery_id=row.delivery_id, lease=row.lease_owner,
                               url=row.url, event=_event(row), attempt=row.attempts + 1,
                               secret=row.secret, format=WebhookFormat(row.format))
                for row in rows]

    # --- results ------------------------------------------------------------------------

    async def delivery(self, delivery_id: UUID) -> Delivery | None:
        statement = select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
        if self._locks:
            statement = statement.with_for_update()
        row = (await self.conn.execute(statement)).first()
        return _delivery(row) if row is not None else None

    async def save_delivery(self, delivery: Delivery) -> None:
        await self.conn.execute(
            update(webhook_deliveries).where(webhook_deliveries.c.id == delivery.id).values(
                status=delivery.status.value, attempts=delivery.attempts,
                next_attempt_at=delivery.next_attempt_at, lease_owner=delivery.lease_owner,
                lease_until=delivery.lease_until, first_attempt_at=delivery.first_attempt_at,
                last_attempt_at=delivery.last_attempt_at,
                last_status_code=delivery.last_status_code,
                last_error=delivery.last_error, completed_at=delivery.completed_at))

    async def add_attempt(self, attempt: DeliveryAttempt) -> None:
        outcome = attempt.outcome
        await self.conn.execute(insert(webhook_attempts).values(
            id=uuid4(), delivery_id=attempt.delivery_id, number=attempt.number,
            attempted_at=attempt.attempted_at, duration_ms=outcome.duration_ms,
            status_code=outcome.status_code, error=outcome.error,
            response_body=outcome.body, worker=attempt.worker))

    # --- what operators look at ---------------------------------------------------------

    async def deliveries(self, *, endpoint_id: UUID | None, failed_only: bool, limit: int
                         ) -> list[tuple[Delivery, str]]:
        d, o = webhook_deliveries.c, outbox_events.c
        statement = (select(webhook_deliveries, o.topic)
                     .select_from(webhook_deliveries.join(outbox_events, o.id == d.event_id)))
        if endpoint_id is not None:
            statement = statement.where(d.endpoint_id == endpoint_id)
        if failed_only:
            statement = statement.where(d.status == DeliveryStatus.FAILED.value)
        rows = await self.conn.execute(
            statement.order_by(d.created_at.desc(), d.id).limit(limit))
        return [(_delivery(row), row.topic) for row in rows]

    async def attempts(self, delivery_ids: Sequence[UUID]) -> list[DeliveryAttempt]:
        if not delivery_ids:
            return []
        a = webhook_attempts.c
        rows = await self.conn.execute(select(webhook_attempts)
                                       .where(a.delivery_id.in_(list(delivery_ids)))
                                       .order_by(a.delivery_id, a.number, a.attempted_at))
        return [DeliveryAttempt(
            delivery_id=row.delivery_id, number=row.number,
            attempted_at=_utc(row.attempted_at), worker=row.worker,
            outcome=AttemptOutcome(status_code=row.status_code, error=row.error,
                                   body=row.response_body or "",
                                   duration_ms=row.duration_ms))
            for row in rows]


    # --- the management API's view ---------------------------------------------------------

    def _records(self, *, with_payload: bool) -> Any:
        d, e, o = webhook_deliveries.c, webhook_endpoints.c, outbox_events.c
        columns: list[Any] = [webhook_deliveries, o.store_id, o.topic, o.aggregate_id,
                              o.created_at.label("event_created_at"),
                              e.url.label("endpoint_url"), e.active.label("endpoint_active")]
        if with_payload:
            columns.append(o.payload)
        return (select(*columns)
                .select_from(webhook_deliveries
                             .join(outbox_events, o.id == d.event_id)
                             .join(webhook_endpoints, e.id == d.endpoint_id)))

    @staticmethod
    def _record(row: Any, *, with_payload: bool) -> DeliveryRecord:
        event = OutboxEvent(id=row.event_id, store_id=row.store_id, topic=row.topic,
                            aggregate_id=row.aggregate_id,
                            payload=row.payload if with_payload else {},
                            created_at=_utc(row.event_created_at))
        return DeliveryRecord(_delivery(row), event, row.endpoint_url, row.endpoint_active)

    async def records(self, *, store_ids: Sequence[UUID] | None, topic: str | None = None,
                      endpoint_id: UUID | None = None, status: DeliveryStatus | None = None,
                      aggregate_id: UUID | None = None,
                      before: tuple[datetime, UUID] | None = None, limit: int = 50
                      ) -> list[DeliveryRecord]:
        """Deliveries newest first (without their events' payloads), of events of
        ``store_ids`` (``None``: every store), filtered; older than the ``before``
        (created, id) key when given."""
        d, o = webhook_deliveries.c, outbox_events.c
        statement = self._records(with_payload=False)
        if store_ids is not None:
            statement = statement.where(o.store_id.in_(list(store_ids)))
        if topic is not None:
            statement = statement.where(o.topic == topic)
        if endpoint_id is not None:
            statement = statement.where(d.endpoint_id == endpoint_id)
        if status is not None:
            statement = statement.where(d.status == status.value)
        if aggregate_id is not None:
            statement = statement.where(o.aggregate_id == aggregate_id)
        if before is not None:
            at, delivery_id = before
            statement = statement.where(or_(d.created_at < at,
                                            and_(d.created_at == at, d.id < delivery_id)))
        rows = await self.conn.execute(
            statement.order_by(d.created_at.desc(), d.id.desc()).limit(limit))
        return [self._record(row, with_payload=False) for row in rows]

    async def record(self, delivery_id: UUID) -> DeliveryRecord | None:
        """One delivery with its event's payload (row-locked where the database can)."""
        statement = self._records(with_payload=True).where(
            webhook_deliveries.c.id == delivery_id)
        if self._locks:
            statement = statement.with_for_update(of=webhook_deliveries)
        row = (await self.conn.execute(statement)).first()
        return self._record(row, with_payload=True) if row is not None else None

    async def redeliver_failing(self, *, store_ids: Sequence[UUID] | None,
                                endpoint_id: UUID | None, now: datetime
                                ) -> tuple[dict[UUID, list[UUID]], int]:
        """Make every failing delivery (``Delivery.failing``) of an active endpoint due
        now, as ``Delivery.redeliver`` does one: returns the ids made due by store, and
        how many failing deliveries wait for a paused endpoint (left as they are)."""
        d, e, o = webhook_deliveries.c, webhook_endpoints.c, outbox_events.c
        scope = [_FAILING]
        if store_ids is not None:
            scope.append(o.store_id.in_(list(store_ids)))
        if endpoint_id is not None:
            scope.append(d.endpoint_id == endpoint_id)
        joined = (webhook_deliveries.join(outbox_events, o.id == d.event_id)
                  .join(webhook_endpoints, e.id == d.endpoint_id))
        paused = await self.conn.scalar(select(func.count()).select_from(joined)
                                        .where(*scope, e.active.is_(False)))
        candidates = {row.id: row.store_id for row in await self.conn.execute(
            select(d.id, o.store_id).select_from(joined)
            .where(*scope, e.active.is_(True), _not_in_flight(now)))}
        done: dict[UUID, list[UUID]] = {}
        ids = list(candidates)
        for start in range(0, len(ids), 500):
            # The conditions again: a worker may have claimed one since it was read.
            changed = await self.conn.execute(
                update(webhook_deliveries)
                .where(d.id.in_(ids[start:start + 500]), _FAILING, _not_in_flight(now))
                .values(status=_PENDING, next_attempt_at=now, first_attempt_at=None,
                        completed_at=None, lease_owner=None, lease_until=None)
                .returning(d.id))
            for (delivery_id,) in changed:
                done.setdefault(candidates[delivery_id], []).append(delivery_id)
        return done, int(paused or 0)


class SqlWebhookStorage:
    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def webhooks(self, *, write: bool) -> AsyncIterator[SqlWebhookRepository]:
        scope = self.db.transaction() if write else self.db.read()
        async with scope as conn:
            yield SqlWebhookRepository(conn, write=write)


def on_outbox_commit(engine: AsyncEngine, callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` after each commit of this process that wrote an outbox event, so
    that the webhook worker wakes at once instead of at its next poll. Returns a function
    that stops it."""
    sync_engine = engine.sync_engine
    # A mark of its own: the webhook and the email workers both listen, and each must see
    # the commit.
    written = f"{_OUTBOX_WRITTEN}:{uuid4().hex}"

    def executed(conn: Any, clause: Any, *_: Any) -> None:
        if isinstance(clause, Insert) and clause.table is outbox_events:
            conn.info[written] = True

    # A connection lost in the middle of a transaction is rolled back invalidated: its
    # ``info`` went with it, and asking for it would raise over the error that lost it.
    def committed(conn: Any) -> None:
        if not conn.invalidated and conn.info.pop(written, False):
            callback()

    def rolled_back(conn: Any) -> None:
        if not conn.invalidated:
            conn.info.pop(written, None)

    listeners = (("after_execute", executed), ("commit", committed),
                 ("rollback", rolled_back))
    for name, listener in listeners:
        event.listen(sync_engine, name, listener)

    def remove() -> None:
        for name, listener in listeners:
            event.remove(sync_engine, name, listener)

    return remove
