"""Checkout attempts, the gateway event inbox and the outbox, in SQL (stock has its own
repository: ``stock_repository``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from kasse.adapters.db.tables import (
    checkout_attempts,
    outbox_events,
    payment_events,
)
from kasse.domain.checkout import AttemptStatus, CheckoutAttempt, Mode

# The statements of the hot paths are built once (see order_repository).
_INSERT_ATTEMPT = insert(checkout_attempts)
_ATTEMPT_BY_ID = select(checkout_attempts).where(checkout_attempts.c.id == bindparam("b_id"))
_LATEST_ATTEMPT = (
    select(checkout_attempts)
    .where(checkout_attempts.c.order_id == bindparam("b_order_id"),
           checkout_attempts.c.kind == bindparam("b_kind"))
    .order_by(checkout_attempts.c.created_at.desc()).limit(1))
_SAVE_ATTEMPT = update(checkout_attempts).where(checkout_attempts.c.id == bindparam("b_id"))
_INSERT_NEW = {
    (name, table.name): dialect.insert(table).on_conflict_do_nothing()
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
    for table in (outbox_events, payment_events)}



def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _attempt(row: Any) -> CheckoutAttempt:
    return CheckoutAttempt(
        id=row.id, order_id=row.order_id, store_id=row.store_id, kind=row.kind,
        payment_method_id=row.payment_method_id, amount=row.amount,
        currency_id=row.currency_id, fingerprint=row.fingerprint,
        created_at=_utc(row.created_at), expires_at=_utc(row.expires_at),
        status=AttemptStatus(row.status), token_hash=row.token_hash,
        mode=Mode(row.mode) if row.mode else None, origin=row.origin,
        transaction_id=row.transaction_id)


class SqlCheckoutRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def _insert_new(self, table: Table, values: dict[str, Any]) -> bool:
        """INSERT … ON CONFLICT DO NOTHING; True when the row is new."""
        dialect = "postgresql" if self.conn.dialect.name == "postgresql" else "sqlite"
        result = await self.conn.execute(_INSERT_NEW[dialect, table.name], values)
        return result.rowcount == 1

    async def add_attempt(self, attempt: CheckoutAttempt) -> None:
        await self.conn.execute(_INSERT_ATTEMPT, dict(
            id=attempt.id, order_id=attempt.order_id, store_id=attempt.store_id,
            token_hash=attempt.token_hash, kind=attempt.kind,
            mode=attempt.mode.value if attempt.mode else None, origin=attempt.origin,
            payment_method_id=attempt.payment_method_id, amount=attempt.amount,
            currency_id=attempt.currency_id, fingerprint=attempt.fingerprint,
            status=attempt.status.value, created_at=attempt.created_at,
            expires_at=attempt.expires_at, transaction_id=attempt.transaction_id))

    async def attempt_by_token(self, token_hash: str) -> CheckoutAttempt | None:
        row = (await self.conn.execute(select(checkout_attempts).where(
            checkout_attempts.c.token_hash == token_hash))).first()
        return _attempt(row) if row is not None else None

    async def attempt(self, attempt_id: UUID) -> CheckoutAttempt | None:
        row = (await self.conn.execute(_ATTEMPT_BY_ID, {"b_id": attempt_id})).first()
        return _attempt(row) if row is not None else None

    async def latest_attempt(self, order_id: UUID, kind: str) -> CheckoutAttempt | None:
        row = (await self.conn.execute(_LATEST_ATTEMPT,
                                       {"b_order_id": order_id, "b_kind": kind})).first()
        return _attempt(row) if row is not None else None

    async def save_attempt(self, attempt: CheckoutAttempt) -> None:
        await self.conn.execute(_SAVE_ATTEMPT, {
            "b_id": attempt.id, "status": attempt.status.value,
            "transaction_id": attempt.transaction_id})

    async def record_event(self, provider_alias: str, event_id: str, *, reference: str | None,
                           status: str | None, outcome: str, payload: dict[str, Any],
                           at: datetime) -> bool:
        """Store a gateway event once; False when it was already recorded (a duplicate)."""
        return await self._insert_new(payment_events, {
            "id": uuid4(), "provider_alias": provider_alias, "event_id": event_id,
            "reference": reference, "status": status, "outcome": outcome,
            "received_at": at, "payload": payload})

    async def set_event_outcome(self, provider_alias: str, event_id: str, outcome: str
                                ) -> None:
        await self.conn.execute(update(payment_events).where(
            payment_events.c.provider_alias == provider_alias,
            payment_events.c.event_id == event_id).values(outcome=outcome))

    async def add_outbox_event(self, *, store_id: UUID, topic: str, aggregate_id: UUID,
                               payload: dict[str, Any], at: datetime,
                               dedupe_key: str | None = None) -> bool:
        return await self._insert_new(outbox_events, {
            "id": uuid4(), "store_id": store_id, "topic": topic, "aggregate_id": aggregate_id,
            "payload": payload, "created_at": at, "dedupe_key": dedupe_key})
