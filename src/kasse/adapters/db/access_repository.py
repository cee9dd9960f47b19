"""Staff accounts and management API tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kasse.adapters.db.tables import api_tokens, staff
from kasse.adapters.db.types import utc
from kasse.domain.access import Principal, Role

LAST_USED_EVERY = timedelta(minutes=1)
"""A token's last-used time is written at most this often (not on every request)."""


def store_set(value: Any) -> frozenset[UUID] | None:
    return None if value is None else frozenset(UUID(str(item)) for item in value)


class SqlAccessRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def principal_for_token(self, digest: str, now: datetime) -> Principal | None:
        """Whom a token with this digest acts as: ``None`` when it is unknown, revoked,
        expired, or belongs to a disabled staff member."""
        row = (await self.conn.execute(
            select(api_tokens, staff.c.disabled.label("staff_disabled"))
            .select_from(api_tokens.outerjoin(staff, staff.c.id == api_tokens.c.staff_id))
            .where(api_tokens.c.token_hash == digest))).first()
        if row is None or row.revoked_at is not None or row.staff_disabled:
            return None
        expires = utc(row.expires_at)
        if expires is not None and expires <= now:
            return None
        last_used = utc(row.last_used_at)
        if last_used is None or now - last_used >= LAST_USED_EVERY:
            await self.conn.execute(update(api_tokens).where(api_tokens.c.id == row.id)
                                    .values(last_used_at=now))
        return Principal(kind="token", id=str(row.id), name=row.name, role=Role(row.role),
                         store_ids=store_set(row.store_ids))
