"""Management API tokens: created with a name, a role and stores (shown once, stored as
their digest), listed with their last use, revoked. The first owner of a new shop, with
a token, is made here too.

Every change writes its audit entry in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from kasse.domain.access import Principal, Role, token_digest
from kasse.domain.audit import Actor, AuditEntry
from kasse.domain.errors import Conflict, NotFound
from kasse.domain.staff import ApiToken, StaffMember, check_grant, check_name, id_list, within
from kasse.services.orders import utcnow
from kasse.services.ports import AccessRepository, Storage
from kasse.services.retry import retrying
from kasse.services.staff import StaffAccounts, WithPassword


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just created, with its plaintext: shown once, stored nowhere."""

    token: ApiToken
    plaintext: str


class ApiTokens:
    def __init__(self, storage: Storage, staff: StaffAccounts, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.storage = storage
        self.staff = staff
        self.clock = clock

    async def create(self, actor: Actor, name: str, role: Role,
                     stores: Sequence[str] | None = None, *, expires_days: int | None = None,
                     staff: str | None = None) -> NewToken:
        """A new token acting with ``role`` on ``stores`` (ids or aliases; by default
        those of whoever creates it), for ``expires_days`` days or until revoked.

        It belongs to ``staff`` (id or email) when named, else to the staff member
        creating it, if any: disabling that member stops it. It may give no more than its
        creator, nor than the member it belongs to (``NotAllowed``). The name is unique
        among the tokens that work (``Conflict``)."""
        principal = actor.principal
        owner: StaffMember | None = None
        if staff is not None:
            owner = await self.staff.member(staff, principal)
            if owner.disabled:
                raise Conflict(f"{owner.email} is disabled: enable them first")
        default = principal.store_ids if owner is None else owner.store_ids
        store_ids = await self.staff.store_ids(stores, default=default)
        check_grant(principal, role, store_ids)
        if owner is not None:
            check_grant(owner.principal(), role, store_ids)
        staff_id = owner.id if owner is not None else principal.staff_id
        name = check_name(name, "token name")

        async def work() -> NewToken:
            now = self.clock()
            token, plaintext = ApiToken.issue(name, role, store_ids, now, staff_id=staff_id,
                                              expires_days=expires_days)
            async with self.storage.access(write=True) as access:
                await access.add_token(token, token_digest(plaintext))
                await _audit(access, actor, "token.created", token, now,
                             role=token.role.value, storeIds=id_list(token.store_ids),
                             staffId=None if staff_id is None else str(staff_id),
                             expiresAt=None if token.expires_at is None
                             else token.expires_at.isoformat())
            return NewToken(token, plaintext)

        return await retrying(work, f"token {name}")

    async def tokens(self, viewer: Principal | None = None) -> list[ApiToken]:
        """The tokens (never the token itself), working ones first, newest first: all of
        them, or those ``viewer`` may manage (no role beyond theirs, no store they cannot
        act on)."""
        async with self.storage.access(write=False) as access:
            tokens = await access.tokens()
        return [t for t in tokens if viewer is None or within(viewer, t.role, t.store_ids)]

    async def revoke(self, actor: Actor, id_or_name: str) -> ApiToken:
        """Revoke a token by id, or by the name of a token not revoked; it stops working
        at once. Revoking a revoked token changes nothing. ``NotFound`` otherwise, and for
        a token the actor may not manage."""

        async def work() -> ApiToken:
            async with self.storage.access(write=True) as access:
                token = await _find(access, id_or_name)
                if not within(actor.principal, token.role, token.store_ids):
                    raise NotFound(f"no token with id {id_or_name.strip()[:80]!r}, nor a "
                                   "token not revoked with that name")
                if token.revoked_at is not None:
                    return token
                now = self.clock()
                if not await access.revoke_token(token.id, now):
                    found = await access.token(token_id=token.id)
                    return found or token
                await _audit(access, actor, "token.revoked", token, now)
                return replace(token, revoked_at=now)

        return await retrying(work, f"token {id_or_name}")

    async def first_owner(self, actor: Actor, email: str, name: str, token_name: str
                          ) -> tuple[WithPassword, NewToken] | None:
        """The shop's first owner, with a generated password and a management token of
        theirs (both to show once); ``None`` when the shop has staff already, leaving it
        alone."""
        if await self.staff.has_staff():
            return None
        added = await self.staff.add(actor, email, name, Role.OWNER)
        token = await self.create(actor, token_name, Role.OWNER, staff=str(added.member.id))
        return added, token


async def _find(access: AccessRepository, id_or_name: str) -> ApiToken:
    value = id_or_name.strip()
    try:
        token = await access.token(token_id=UUID(value))
    except ValueError:
        token = await access.token(name=value)
    if token is None:
        raise NotFound(f"no token with id {value[:80]!r}, nor a token not revoked with "
                       "that name")
    return token


async def _audit(access: AccessRepository, actor: Actor, action: str, token: ApiToken,
                 at: datetime, **detail: object) -> None:
    await access.audit.add(AuditEntry.of(
        actor, action, None, at,
        detail={"tokenId": str(token.id), "name": token.name, "prefix": token.prefix,
                **detail}))
