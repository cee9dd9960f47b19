"""The audit log and the answers kept for idempotent management actions."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kasse.adapters.db.tables import audit_entries, idempotency_records
from kasse.adapters.db.types import utc
from kasse.domain.audit import AuditEntry
from kasse.domain.idempotency import KeptAnswer


class SqlAuditLog:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, entry: AuditEntry) -> None:
        await self.conn.execute(insert(audit_entries).values(
            id=entry.id, store_id=entry.store_id, order_id=entry.order_id,
            actor_kind=entry.actor_kind, actor_id=entry.actor_id,
            actor_name=entry.actor_name[:320], action=entry.action, detail=entry.detail,
            version_before=entry.version_before, version_after=entry.version_after,
            request_id=entry.request_id, created_at=entry.at))

    async def entries(self, *, store_ids: list[UUID] | None, order_id: UUID | None = None,
                      before: datetime | None = None, limit: int = 100) -> list[AuditEntry]:
        """Newest first: an order's entries, or those of the stores (``None``: all)."""
        query = select(audit_entries)
        if order_id is not None:
            query = query.where(audit_entries.c.order_id == order_id)
        if store_ids is not None:
            query = query.where(audit_entries.c.store_id.in_(store_ids))
        if before is not None:
            query = query.where(audit_entries.c.created_at < before)
        query = query.order_by(audit_entries.c.created_at.desc(),
                               audit_entries.c.id.desc()).limit(limit)
        rows = (await self.conn.execute(query)).all()
        return [AuditEntry(
            id=row.id, store_id=row.store_id, order_id=row.order_id,
            actor_kind=row.actor_kind, actor_id=row.actor_id, actor_name=row.actor_name,
            action=row.action, detail=dict(row.detail or {}),
            version_before=row.version_before, version_after=row.version_after,
            request_id=row.request_id, at=utc(row.created_at) or row.created_at)
            for row in rows]


class SqlIdempotencyStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def claim(self, principal: str, key: str, request_hash: str, at: datetime
                    ) -> KeptAnswer | None:
        """Start an action under ``key``; ``None`` if it is new, else what is kept."""
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(insert(idempotency_records).values(
                    id=uuid4(), principal=principal, key=key, request_hash=request_hash,
                    created_at=at))
            return None
        except IntegrityError:
            pass
        row = (await self.conn.execute(select(idempotency_records).where(
            idempotency_records.c.principal == principal,
            idempotency_records.c.key == key))).one()
        return KeptAnswer(request_hash=row.request_hash, status_code=row.status_code,
                          body=row.response_body, headers=dict(row.response_headers or {}),
                          started_at=utc(row.created_at) or row.created_at)

    async def complete(self, principal: str, key: str, status_code: int, body: str,
                       headers: dict[str, str], at: datetime) -> None:
        await self.conn.execute(update(idempotency_records).where(
            idempotency_records.c.principal == principal,
            idempotency_records.c.key == key).values(
            status_code=status_code, response_body=body, response_headers=headers,
            completed_at=at))

    async def release(self, principal: str, key: str) -> None:
        """Forget an action that ended without an answer to keep (e.g. a 5xx)."""
        await self.conn.execute(delete(idempotency_records).where(
            idempotency_records.c.principal == principal,
            idempotency_records.c.key == key, idempotency_records.c.status_code.is_(None)))

    async def take_over(self, principal: str, key: str, started_before: datetime,
                        at: datetime) -> bool:
        """Restart an action whose first attempt died (unanswered since before
        ``started_before``); False if another request holds it."""
        result = await self.conn.execute(update(idempotency_records).where(
            idempotency_records.c.principal == principal,
            idempotency_records.c.key == key, idempotency_records.c.status_code.is_(None),
            idempotency_records.c.created_at < started_before).values(created_at=at))
        return bool(result.rowcount)

    async def forget_older_than(self, before: datetime) -> int:
        result = await self.conn.execute(delete(idempotency_records).where(
            idempotency_records.c.created_at < before))
        return int(result.rowcount or 0)


