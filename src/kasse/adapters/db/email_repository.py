"""The shopper's emails in SQL: the relay of outbox events into messages, the leases that
keep two workers from sending one message at the same time, and the attempts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import exists, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import email_attempts, email_messages, orders, outbox_events
from kasse.domain.emails import (
    AttemptKind,
    EmailAttempt,
    EmailMessage,
    EmailStatus,
    EmailType,
    Outgoing,
    SendOutcome,
)
from kasse.domain.webhooks import OutboxEvent

_PENDING = EmailStatus.PENDING.value


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _at(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _event(row: Any) -> OutboxEvent:
    return OutboxEvent(id=row.id, store_id=row.store_id, topic=row.topic,
                       aggregate_id=row.aggregate_id, payload=row.payload,
                       created_at=_at(row.created_at))


def _message(row: Any) -> EmailMessage:
    outgoing = None
    if row.mime is not None:
        outgoing = Outgoing(message_id=row.message_id, language=row.language,
                            subject=row.subject, recipient=row.recipient,
                            mail_from=row.mail_from, rcpt_to=tuple(row.rcpt_to or ()),
                            mime=row.mime)
    return EmailMessage(
        id=row.id, store_id=row.store_id, order_id=row.order_id, event_id=row.event_id,
        type=EmailType(row.type), created_at=_at(row.created_at),
        next_attempt_at=_at(row.next_attempt_at), status=EmailStatus(row.status),
        attempts=row.attempts, outgoing=outgoing, lease_owner=row.lease_owner,
        lease_until=_utc(row.lease_until), handing_over_since=_utc(row.handing_over_since),
        first_attempt_at=_utc(row.first_attempt_at),
        last_attempt_at=_utc(row.last_attempt_at), last_error=row.last_error,
        sent_at=_utc(row.sent_at), completed_at=_utc(row.completed_at), resends=row.resends)


def _values(message: EmailMessage) -> dict[str, Any]:
    o = message.outgoing
    return {
        "status": message.status.value, "attempts": message.attempts,
        "resends": message.resends, "next_attempt_at": message.next_attempt_at,
        "lease_owner": message.lease_owner, "lease_until": message.lease_until,
        "handing_over_since": message.handing_over_since,
        "first_attempt_at": message.first_attempt_at,
        "last_attempt_at": message.last_attempt_at, "last_error": message.last_error,
        "sent_at": message.sent_at, "completed_at": message.completed_at,
        "message_id": o.message_id if o else None, "language": o.language if o else None,
        "subject": o.subject[:500] if o else None, "recipient": o.recipient if o else None,
        "mail_from": o.mail_from if o else None,
        "rcpt_to": list(o.rcpt_to) if o else None, "mime": o.mime if o else None}


def _free(now: datetime) -> Any:
    """The SQL form of ``EmailMessage.claimable``."""
    m = email_messages.c
    return (m.status == _PENDING, m.next_attempt_at <= now, m.handing_over_since.is_(None),
            or_(m.lease_until.is_(None), m.lease_until < now))


class SqlEmailRepository:
    def __init__(self, conn: AsyncConnection, *, write: bool = True) -> None:
        self.conn = conn
        self._postgres = conn.dialect.name == "postgresql"
        self._locks = self._postgres and write

    # --- the relay ----------------------------------------------------------------------

    async def has_unemailed_events(self) -> bool:
        found = await self.conn.execute(select(
            exists().where(outbox_events.c.emailed_at.is_(None))))
        return bool(found.scalar())

    async def unemailed_events(self, limit: int) -> list[OutboxEvent]:
        o = outbox_events.c
        statement = (select(o.id, o.store_id, o.topic, o.aggregate_id, o.payload,
                            o.created_at)
                     .where(o.emailed_at.is_(None)).order_by(o.created_at).limit(limit))
        if self._locks:
            statement = statement.with_for_update(skip_locked=True)
        return [_event(row) for row in await self.conn.execute(statement)]

    async def add_messages(self, messages: Sequence[EmailMessage]) -> None:
        if not messages:
            return
        dialect = postgresql if self._postgres else sqlite
        await self.conn.execute(dialect.insert(email_messages).on_conflict_do_nothing(), [
            {"id": m.id, "store_id": m.store_id, "order_id": m.order_id,
             "event_id": m.event_id, "type": m.type.value, "created_at": m.created_at,
             **_values(m)} for m in messages])

    async def mark_emailed(self, event_ids: Sequence[UUID], at: datetime) -> None:
        if event_ids:
            await self.conn.execute(update(outbox_events)
                                    .where(outbox_events.c.id.in_(list(event_ids)))
                                    .values(emailed_at=at))

    # --- claiming -------------------------------------------------------------------------

    async def due(self, now: datetime, limit: int) -> list[UUID]:
        m = email_messages.c
        statement = (select(m.id).where(*_free(now)).order_by(m.next_attempt_at)
                     .limit(limit))
        if self._locks:
            statement = statement.with_for_update(skip_locked=True)
        return [row.id for row in await self.conn.execute(statement)]

    async def cut_off(self, now: datetime, limit: int) -> list[UUID]:
        m = email_messages.c
        statement = (select(m.id).where(m.status == _PENDING,
                                        m.handing_over_since.is_not(None),
                                        m.lease_until < now)
                     .order_by(m.handing_over_since).limit(limit))
        if self._locks:
            statement = statement.with_for_update(skip_locked=True)
        return [row.id for row in await self.conn.execute(statement)]

    async def claim(self, email_id: UUID, lease: str, now: datetime, until: datetime
                    ) -> bool:
        # The UPDATE checks the condition again: of two workers that both saw the message
        # free, only the first to write gets a row back.
        result = await self.conn.execute(
            update(email_messages).where(email_messages.c.id == email_id, *_free(now))
            .values(lease_owner=lease, lease_until=until))
        return result.rowcount == 1

    async def message(self, email_id: UUID) -> EmailMessage | None:
        statement = select(email_messages).where(email_messages.c.id == email_id)
        if self._locks:
            statement = statement.with_for_update()
        row = (await self.conn.execute(statement)).first()
        return _message(row) if row is not None else None

    async def save(self, message: EmailMessage) -> None:
        await self.conn.execute(update(email_messages)
                                .where(email_messages.c.id == message.id)
                                .values(**_values(message)))

    async def add_attempt(self, attempt: EmailAttempt) -> None:
        outcome = attempt.outcome
        await self.conn.execute(insert(email_attempts).values(
            id=uuid4(), email_id=attempt.message_id, number=attempt.number,
            attempted_at=attempt.attempted_at, duration_ms=outcome.duration_ms,
            kind=outcome.kind.value, code=outcome.code, detail=outcome.detail[:500],
            worker=attempt.worker[:100], via=attempt.via[:300]))

    # --- reading --------------------------------------------------------------------------

    async def event(self, event_id: UUID) -> OutboxEvent | None:
        row = (await self.conn.execute(select(outbox_events).where(
            outbox_events.c.id == event_id))).first()
        return _event(row) if row is not None else None

    async def latest_event(self, order_id: UUID, topic: str) -> OutboxEvent | None:
        o = outbox_events.c
        row = (await self.conn.execute(
            select(outbox_events).where(o.aggregate_id == order_id, o.topic == topic)
            .order_by(o.created_at.desc()).limit(1))).first()
        return _event(row) if row is not None else None

    async def order_store(self, order_id: UUID) -> UUID | None:
        found: UUID | None = (await self.conn.execute(
            select(orders.c.store_id).where(orders.c.id == order_id))).scalar()
        return found

    async def order_by_number(self, store_id: UUID, number: str) -> UUID | None:
        found: UUID | None = (await self.conn.execute(
            select(orders.c.id).where(orders.c.store_id == store_id,
                                      orders.c.order_number == number).limit(1))).scalar()
        return found

    async def messages(self, *, order_id: UUID | None = None,
                       store_ids: Sequence[UUID] | None = None,
                       statuses: Sequence[str] | None = None, limit: int = 100
                       ) -> list[EmailMessage]:
        m = email_messages.c
        statement = select(email_messages)
        if order_id is not None:
            statement = statement.where(m.order_id == order_id)
        if store_ids is not None:
            statement = statement.where(m.store_id.in_(list(store_ids)))
        if statuses:
            statement = statement.where(m.status.in_(list(statuses)))
        rows = await self.conn.execute(statement.order_by(m.created_at.desc(), m.id)
                                       .limit(limit))
        return [_message(row) for row in rows]

    async def attempts(self, email_ids: Sequence[UUID]) -> list[EmailAttempt]:
        if not email_ids:
            return []
        a = email_attempts.c
        rows = await self.conn.execute(select(email_attempts)
                                       .where(a.email_id.in_(list(email_ids)))
                                       .order_by(a.email_id, a.number, a.attempted_at))
        return [EmailAttempt(
            message_id=row.email_id, number=row.number, attempted_at=_at(row.attempted_at),
            worker=row.worker, via=row.via,
            outcome=SendOutcome(AttemptKind(row.kind), row.detail or "", row.code,
                                row.duration_ms))
            for row in rows]


class SqlEmailStorage:
    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def emails(self, *, write: bool) -> AsyncIterator[SqlEmailRepository]:
        scope = self.db.transaction() if write else self.db.read()
        async with scope as conn:
            yield SqlEmailRepository(conn, write=write)
