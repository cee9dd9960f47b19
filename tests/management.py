"""Helpers for tests of the management API: tokens issued straight into a real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy import insert, update

from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import api_tokens
from kasse.domain.access import new_token, token_digest

MANAGEMENT = "/kasse/management/v1"


def issue_token(db_url: str, role: str, *, stores: list[UUID] | None = None,
                name: str | None = None, revoked: bool = False,
                expires_at: datetime | None = None) -> str:
    """A management API token with ``role`` (for ``stores``; ``None``: all)."""
    token = new_token()

    async def write() -> None:
        db = Database.from_url(db_url)
        try:
            async with db.transaction() as conn:
                token_id = uuid4()
                await conn.execute(insert(api_tokens).values(
                    id=token_id, name=name or f"{role}-{token_id.hex[:6]}",
                    token_hash=token_digest(token), prefix=token[:10], role=role,
                    store_ids=None if stores is None else [str(s) for s in stores],
                    created_at=datetime.now(UTC), expires_at=expires_at))
                if revoked:
                    await conn.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                                       .values(revoked_at=datetime.now(UTC)))
        finally:
            await db.dispose()

    asyncio.run(write())
    return token


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}
