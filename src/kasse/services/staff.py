"""Staff accounts: add, list, disable and enable, passwords (reset by an owner, changed by
the member), and signing in with email and password.

Every change writes its audit entry in the same transaction. Passwords are hashed by the
``PasswordHasher`` port (slow on purpose), always outside a transaction and in a worker
thread; a generated password is returned once and kept nowhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from kasse.domain.access import Principal, Role
from kasse.domain.audit import Actor, AuditEntry
from kasse.domain.errors import Conflict, InvalidInput, NotFound
from kasse.domain.staff import (
    StaffMember,
    check_grant,
    check_password,
    generate_password,
    id_list,
    normalise_email,
    within,
)
from kasse.services.catalog import StoreDirectory
from kasse.services.orders import utcnow
from kasse.services.ports import AccessRepository, PasswordHasher, Storage
from kasse.services.retry import retrying


@dataclass(frozen=True, slots=True)
class WithPassword:
    """A staff member, and the password generated for them (``None`` when it was given):
    shown once, stored nowhere."""

    member: StaffMember
    password: str | None


class StaffAccounts:
    def __init__(self, storage: Storage, stores: StoreDirectory, passwords: PasswordHasher,
                 *, clock: Callable[[], datetime] = utcnow) -> None:
        self.storage = storage
        self.stores = stores
        self.passwords = passwords
        self.clock = clock

    async def store_ids(self, stores: Sequence[str] | None, *, default: frozenset[UUID] | None
                        ) -> frozenset[UUID] | None:
        """The ids of ``stores`` (each an id or alias); ``default`` when none are named.

        Raises ``InvalidInput`` naming a store that does not exist."""
        if stores is None:
            return default
        found: set[UUID] = set()
        for name in stores:
            try:
                found.add((await self.stores.get(name)).store.id)
            except NotFound:
                raise InvalidInput(f"no store with id or alias {name.strip()[:60]!r}") from None
        if not found:
            raise InvalidInput("name at least one store, or none at all for every store")
        return frozenset(found)

    async def add(self, actor: Actor, email: str, name: str, role: Role,
                  stores: Sequence[str] | None = None, password: str | None = None
                  ) -> WithPassword:
        """A new, enabled staff member. ``stores`` (ids or aliases): the stores they may
        act on; by default those of whoever adds them (every store from the command
        line). Without ``password`` a strong one is generated and returned once.

        Raises ``InvalidInput`` (email, name, password policy, unknown store),
        ``NotAllowed`` (more than the actor may give) or ``Conflict`` (email taken)."""
        store_ids = await self.store_ids(stores, default=actor.principal.store_ids)
        check_grant(actor.principal, role, store_ids)
        member = StaffMember.new(email, name, role, store_ids, self.clock())
        generated = None
        if password is None:
            password = generated = generate_password()
        check_password(password, member.email)
        password_hash = await asyncio.to_thread(self.passwords.hash, password)

        async def work() -> None:
            async with self.storage.access(write=True) as access:
                await access.add_staff(member, password_hash)
                await _audit(access, actor, "staff.added", member, self.clock(),
                             role=member.role.value, storeIds=id_list(member.store_ids))

        await retrying(work, f"staff member {member.email}")
        return WithPassword(member, generated)

    async def members(self, viewer: Principal | None = None) -> list[StaffMember]:
        """The staff members, by email: all of them, or those ``viewer`` may manage (no
        role beyond theirs, no store they cannot act on)."""
        async with self.storage.access(write=False) as access:
            members = await access.all_staff()
        return [m for m in members
                if viewer is None or within(viewer, m.role, m.store_ids)]

    async def member(self, id_or_email: str, viewer: Principal | None = None
                     ) -> StaffMember:
        """A staff member by id or email (that ``viewer`` may manage); ``NotFound``
        otherwise."""
        async with self.storage.access(write=False) as access:
            return (await _find(access, id_or_email, viewer))[0]

    async def set_disabled(self, actor: Actor, id_or_email: str, disabled: bool
                           ) -> StaffMember:
        """Disable a member (they cannot sign in, their tokens stop working) or enable
        them again. The last enabled owner cannot be disabled (``Conflict``); doing what
        is done already changes nothing."""

        async def work() -> StaffMember:
            async with self.storage.access(write=True) as access:
                member, _ = await _find(access, id_or_email, actor.principal)
                if member.disabled == disabled:
                    return member
                if disabled and member.role is Role.OWNER \
                        and await access.active_owners() == [member.id]:
                    raise Conflict(f"{member.email} is the last enabled owner: make "
                                   "another owner before disabling this one")
                await access.set_disabled(member.id, disabled)
                action = "staff.disabled" if disabled else "staff.enabled"
                await _audit(access, actor, action, member, self.clock())
                return replace(member, disabled=disabled)

        return await retrying(work, f"staff member {id_or_email}")

    async def reset_password(self, actor: Actor, id_or_email: str,
                             password: str | None = None) -> WithPassword:
        """Set a member's password (an owner's reset): the one given, or a generated one
        returned once. Only a member the actor may manage."""
        member = await self.member(id_or_email, actor.principal)
        generated = None
        if password is None:
            password = generated = generate_password()
        check_password(password, member.email)
        password_hash = await asyncio.to_thread(self.passwords.hash, password)
        at = self.clock()
        async with self.storage.access(write=True) as access:
            await access.set_password(member.id, password_hash, at)
            await _audit(access, actor, "staff.password_reset", member, at,
                         generated=generated is not None)
        return WithPassword(member, generated)

    async def change_password(self, actor: Actor, staff_id: UUID, current: str, new: str
                              ) -> None:
        """A member changes their own password, giving the current one; a wrong current
        password is ``InvalidInput`` and changes nothing."""
        async with self.storage.access(write=False) as access:
            found = await access.staff_member(staff_id=staff_id)
        if found is None or found[0].disabled:
            raise NotFound("no such staff member")
        member, old_hash = found
        if not await asyncio.to_thread(self.passwords.verify, old_hash, current):
            raise InvalidInput("the current password is not right")
        check_password(new, member.email)
        if new == current:
            raise InvalidInput("the new password is the current one")
        new_hash = await asyncio.to_thread(self.passwords.hash, new)
        at = self.clock()
        async with self.storage.access(write=True) as access:
            await access.set_password(member.id, new_hash, at)
            await _audit(access, actor, "staff.password_changed", member, at)

    async def authenticate(self, email: str, password: str) -> Principal | None:
        """Whom an email and password sign in as; ``None`` for a wrong password, an
        unknown or disabled account, alike and in about the same time (a password is
        always checked, against a dummy hash when there is no account)."""
        try:
            address = normalise_email(email)
        except InvalidInput:
            address = None
        found = None
        if address is not None:
            async with self.storage.access(write=False) as access:
                found = await access.staff_member(email=address)
        if found is not None and found[0].disabled:
            found = None
        password_hash = None if found is None else found[1]
        matches = await asyncio.to_thread(self.passwords.verify, password_hash, password)
        if not matches or found is None or password_hash is None:
            return None
        member = found[0]
        rehashed = None
        if self.passwords.needs_rehash(password_hash):
            rehashed = await asyncio.to_thread(self.passwords.hash, password)
        async with self.storage.access(write=True) as access:
            await access.signed_in(member.id, self.clock(), rehashed)
        return member.principal()

    async def has_staff(self) -> bool:
        async with self.storage.access(write=False) as access:
            return await access.any_staff()


async def _find(access: AccessRepository, id_or_email: str, viewer: Principal | None
                ) -> tuple[StaffMember, str]:
    """A member by id or email; one that ``viewer`` may not manage is not found, as if
    it did not exist (a store's owner learns nothing of other stores' staff)."""
    value = id_or_email.strip()
    try:
        found = await access.staff_member(staff_id=UUID(value))
    except ValueError:
        found = await access.staff_member(email=value.lower())
    if found is not None and viewer is not None \
            and not within(viewer, found[0].role, found[0].store_ids):
        found = None
    if found is None:
        raise NotFound(f"no staff member with id or email {value[:80]!r}")
    return found


async def _audit(access: AccessRepository, actor: Actor, action: str, member: StaffMember,
                 at: datetime, **detail: object) -> None:
    await access.audit.add(AuditEntry.of(
        actor, action, None, at,
        detail={"staffId": str(member.id), "email": member.email, **detail}))
