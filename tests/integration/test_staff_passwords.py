"""Signing in with a password, on a real database: an unknown email costs a real Argon2
check too (no telling accounts apart by time), an old hash is replaced at the next
sign-in, two owners disabled at once never leave the shop without one, and a member
changes their own password only with the current one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.adapters.db.tables import audit_entries, staff
from kasse.adapters.passwords import Argon2Passwords
from kasse.bootstrap import bootstrap
from kasse.config import Settings
from kasse.domain.access import Role
from kasse.domain.audit import COMMAND_LINE, Actor
from kasse.domain.errors import Conflict, InvalidInput
from kasse.services.catalog import StoreDirectory
from kasse.services.staff import StaffAccounts


class CountingHasher(PasswordHasher):
    """argon2-cffi's hasher (cheap parameters), counting the hashes it checks."""

    def __init__(self, **parameters: Any) -> None:
        super().__init__(**{"time_cost": 1, "memory_cost": 1024, "parallelism": 1,
                            **parameters})
        self.checked: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Any:  # noqa: A002
        self.checked.append(str(hash))
        return super().verify(hash, password)


def accounts(db: Database, hasher: PasswordHasher) -> StaffAccounts:
    storage = SqlStorage(db)
    return StaffAccounts(storage, StoreDirectory(storage), Argon2Passwords(hasher))


def test_every_sign_in_checks_a_password_hash(empty_db_url: str) -> None:
    hasher = CountingHasher()

    async def run() -> None:
        db = Database.from_url(empty_db_url)
        try:
            staff_accounts = accounts(db, hasher)
            added = await staff_accounts.add(COMMAND_LINE, "pat@shop.example", "Pat",
                                             Role.SUPPORT, password="correct horse battery")
            await staff_accounts.add(COMMAND_LINE, "gone@shop.example", "Gone", Role.SUPPORT,
                                     password="correct horse battery")
            await staff_accounts.set_disabled(COMMAND_LINE, "gone@shop.example", True)
            assert added.password is None
            for email, password in (("nobody@shop.example", "correct horse battery"),
                                    ("not an email", "correct horse battery"),
                                    ("gone@shop.example", "correct horse battery"),
                                    ("pat@shop.example", "wrong horse battery"),
                                    ("pat@shop.example", "correct horse battery")):
                before = len(hasher.checked)
                principal = await staff_accounts.authenticate(email, password)
                assert len(hasher.checked) == before + 1, email  # one real check each
                assert (principal is not None) == (password.startswith("correct")
                                                   and email == "pat@shop.example")
        finally:
            await db.dispose()

    asyncio.run(run())
    dummy = hasher.checked[0]  # the unknown email was checked against a real hash
    assert dummy.startswith("$argon2id$") and hasher.checked[1] == dummy


def test_a_hash_of_older_parameters_is_replaced_at_sign_in(empty_db_url: str) -> None:
    old, new = CountingHasher(time_cost=1), CountingHasher(time_cost=2)

    async def run() -> tuple[str, str]:
        db = Database.from_url(empty_db_url)
        try:
            await accounts(db, old).add(COMMAND_LINE, "pat@shop.example", "Pat",
                                        Role.SUPPORT, password="correct horse battery")
            (before,) = await _hashes(db)
            assert await accounts(db, new).authenticate(
                "pat@shop.example", "correct horse battery") is not None
            (after,) = await _hashes(db)
            assert await accounts(db, new).authenticate(
                "pat@shop.example", "correct horse battery") is not None
            return before, after
        finally:
            await db.dispose()

    before, after = asyncio.run(run())
    assert ",t=1," in before and ",t=2," in after


async def _hashes(db: Database) -> list[str]:
    async with db.read() as conn:
        return list((await conn.execute(select(staff.c.password_hash))).scalars())


@pytest.mark.parametrize("attempt", range(3))
def test_two_owners_disabled_at_once_leave_one(empty_db_url: str, attempt: int) -> None:
    async def run() -> list[Any]:
        settings = Settings(database_url=empty_db_url)
        async with bootstrap(settings, migrate=False) as first, \
                bootstrap(settings, migrate=False) as second:
            for email in ("olga@shop.example", "oscar@shop.example"):
                await first.staff.add(COMMAND_LINE, email, "Owner", Role.OWNER)
            assert len(await second.staff.members()) == 2  # both connected: a fair race
            return await asyncio.gather(
                first.staff.set_disabled(COMMAND_LINE, "olga@shop.example", True),
                second.staff.set_disabled(COMMAND_LINE, "oscar@shop.example", True),
                return_exceptions=True)

    results = asyncio.run(run())
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], Conflict), results
    assert "is the last enabled owner" in refused[0].detail

    async def enabled() -> list[str]:
        db = Database.from_url(empty_db_url)
        try:
            async with db.read() as conn:
                return list((await conn.execute(select(staff.c.email).where(
                    staff.c.disabled.is_(False)))).scalars())
        finally:
            await db.dispose()

    assert len(asyncio.run(enabled())) == 1


def test_a_member_changes_their_own_password(empty_db_url: str) -> None:
    async def run() -> None:
        db = Database.from_url(empty_db_url)
        try:
            staff_accounts = accounts(db, CountingHasher())
            added = await staff_accounts.add(COMMAND_LINE, "pat@shop.example", "Pat",
                                             Role.SUPPORT)
            pat = added.member
            assert added.password is not None
            actor = Actor(pat.principal())
            with pytest.raises(InvalidInput, match="current password is not right"):
                await staff_accounts.change_password(actor, pat.id, "not it at all",
                                                     "a brand new password")
            with pytest.raises(InvalidInput, match="at least 12"):
                await staff_accounts.change_password(actor, pat.id, added.password, "short")
            await staff_accounts.change_password(actor, pat.id, added.password,
                                                 "a brand new password")
            assert await staff_accounts.authenticate("pat@shop.example",
                                                     added.password) is None
            assert await staff_accounts.authenticate("pat@shop.example",
                                                     "a brand new password") is not None
            async with db.read() as conn:
                actions = list((await conn.execute(
                    select(audit_entries.c.action, audit_entries.c.actor_name)
                    .order_by(audit_entries.c.created_at))).all())
            assert [tuple(row) for row in actions] == [
                ("staff.added", "command line"),
                ("staff.password_changed", "pat@shop.example")]
        finally:
            await db.dispose()

    asyncio.run(run())
