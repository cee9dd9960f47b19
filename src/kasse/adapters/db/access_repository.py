"""Staff accounts and management API tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import and_, exists, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kasse.adapters.db.audit_repository import SqlAuditLog
from kasse.adapters.db.tables import api_tokens, staff
from kasse.adapters.db.types import utc
from kasse.domain.access import Principal, Role
from kasse.domain.errors import Conflict
from kasse.domain.staff import ApiToken, StaffMember, id_list

LAST_USED_EVERY = timedelta(minutes=1)
"""A token's last-used time is written at most this often (not on every request)."""


def store_set(value: Any) -> frozenset[UUID] | None:
    return None if value is None else frozenset(UUID(str(item)) for item in value)


class SqlAccessRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.audit = SqlAuditLog(conn)
        """Entries written in the same transaction as the change they record."""

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
                         store_ids=store_set(row.store_ids), staff_id=row.staff_id)

    # Staff accounts

    async def any_staff(self) -> bool:
        return bool((await self.conn.execute(select(exists().select_from(staff)))).scalar())

    async def add_staff(self, member: StaffMember, password_hash: str) -> None:
        """Raises ``Conflict`` when the email is taken."""
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(insert(staff).values(
                    id=member.id, email=member.email, name=member.name,
                    password_hash=password_hash, role=member.role.value,
                    store_ids=id_list(member.store_ids), disabled=member.disabled,
                    created_at=member.created_at,
                    password_changed_at=member.password_changed_at))
        except IntegrityError:
            raise Conflict(f"there is a staff member with the email {member.email}") from None

    async def staff_member(self, *, staff_id: UUID | None = None, email: str | None = None
                           ) -> tuple[StaffMember, str] | None:
        """A member by id or (normalised) email, with their password hash."""
        query = select(staff)
        query = (query.where(staff.c.id == staff_id) if staff_id is not None
                 else query.where(staff.c.email == email))
        row = (await self.conn.execute(query)).first()
        return None if row is None else (_member(row), row.password_hash)

    async def all_staff(self) -> list[StaffMember]:
        rows = (await self.conn.execute(select(staff).order_by(staff.c.email))).all()
        return [_member(row) for row in rows]

    async def active_owners(self) -> list[UUID]:
        """The enabled owners, locked until the transaction ends where the database can
        (so that two requests cannot each disable one of the last two)."""
        rows = (await self.conn.execute(
            select(staff.c.id).where(staff.c.role == Role.OWNER.value,
                                     staff.c.disabled.is_(False))
            .order_by(staff.c.id).with_for_update())).all()
        return [row.id for row in rows]

    async def set_disabled(self, staff_id: UUID, disabled: bool) -> None:
        await self.conn.execute(update(staff).where(staff.c.id == staff_id)
                                .values(disabled=disabled))

    async def set_password(self, staff_id: UUID, password_hash: str, at: datetime) -> None:
        await self.conn.execute(update(staff).where(staff.c.id == staff_id)
                                .values(password_hash=password_hash, password_changed_at=at))

    async def signed_in(self, staff_id: UUID, at: datetime,
                        password_hash: str | None = None) -> None:
        """Record a sign-in (and the password's new hash, when it was rehashed)."""
        values: dict[str, Any] = {"last_sign_in_at": at}
        if password_hash is not None:
            values["password_hash"] = password_hash
        await self.conn.execute(update(staff).where(staff.c.id == staff_id).values(**values))

    # Management API tokens

    async def add_token(self, token: ApiToken, digest: str) -> None:
        """Store a token by its digest. An expired token holding the name is revoked
        (it works no more); raises ``Conflict`` when a working token holds it."""
        await self.conn.execute(update(api_tokens).where(
            api_tokens.c.name == token.name, api_tokens.c.revoked_at.is_(None),
            api_tokens.c.expires_at <= token.created_at).values(revoked_at=token.created_at))
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(insert(api_tokens).values(
                    id=token.id, name=token.name, token_hash=digest, prefix=token.prefix,
                    role=token.role.value, store_ids=id_list(token.store_ids),
                    staff_id=token.staff_id, created_at=token.created_at,
                    expires_at=token.expires_at))
        except IntegrityError:
            raise Conflict(f"a token named {token.name!r} exists: revoke it or choose "
                           "another name") from None

    async def tokens(self) -> list[ApiToken]:
        """Every token, working ones first, newest first."""
        rows = (await self.conn.execute(select(api_tokens).order_by(
            api_tokens.c.revoked_at.is_not(None), api_tokens.c.created_at.desc(),
            api_tokens.c.id))).all()
        return [_token(row) for row in rows]

    async def token(self, *, token_id: UUID | None = None, name: str | None = None
                    ) -> ApiToken | None:
        """A token by id, or the token not revoked that holds ``name``."""
        query = select(api_tokens)
        query = (query.where(api_tokens.c.id == token_id) if token_id is not None
                 else query.where(and_(api_tokens.c.name == name,
                                       api_tokens.c.revoked_at.is_(None))))
        row = (await self.conn.execute(query)).first()
        return None if row is None else _token(row)

    async def revoke_token(self, token_id: UUID, at: datetime) -> bool:
        """False when it was revoked already (by a concurrent request, say)."""
        result = await self.conn.execute(update(api_tokens).where(
            api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at))
        return bool(result.rowcount)


def _member(row: Row[Any]) -> StaffMember:
    return StaffMember(
        id=row.id, email=row.email, name=row.name, role=Role(row.role),
        store_ids=store_set(row.store_ids), disabled=bool(row.disabled),
        created_at=utc(row.created_at) or row.created_at,
        password_changed_at=utc(row.password_changed_at) or row.password_changed_at,
        last_sign_in_at=utc(row.last_sign_in_at))


def _token(row: Row[Any]) -> ApiToken:
    return ApiToken(
        id=row.id, name=row.name, prefix=row.prefix, role=Role(row.role),
        store_ids=store_set(row.store_ids), staff_id=row.staff_id,
        created_at=utc(row.created_at) or row.created_at, expires_at=utc(row.expires_at),
        last_used_at=utc(row.last_used_at), revoked_at=utc(row.revoked_at))
