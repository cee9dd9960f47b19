"""``kasse staff …`` and ``kasse token …`` as an operator uses them, on a real database:
passwords kept only as Argon2 hashes, tokens only as digests, both printed once; what
stops a token (revoke, expiry, its staff member disabled); the audit log of each change."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import api_tokens, audit_entries, staff
from kasse.api.app import create_app
from kasse.bootstrap import bootstrap
from kasse.config import Settings
from kasse.domain.access import Principal, token_digest
from tests.api.conftest import make_settings
from tests.integration.test_webhook_cli import Kasse, kasse  # noqa: F401 (a fixture)
from tests.management import MANAGEMENT, bearer


def rows(db_url: str, table: Any) -> list[Any]:
    async def read() -> list[Any]:
        db = Database.from_url(db_url)
        try:
            async with db.read() as conn:
                return list((await conn.execute(select(table))).all())
        finally:
            await db.dispose()

    return asyncio.run(read())


def change(db_url: str, statement: Any) -> None:
    async def write() -> None:
        db = Database.from_url(db_url)
        try:
            async with db.transaction() as conn:
                await conn.execute(statement)
        finally:
            await db.dispose()

    asyncio.run(write())


def sign_in(db_url: str, email: str, password: str) -> Principal | None:
    async def run() -> Principal | None:
        async with bootstrap(Settings(database_url=db_url), migrate=False) as container:
            return await container.staff.authenticate(email, password)

    return asyncio.run(run())


def shown(out: str, label: str) -> str:
    """The secret printed after ``label`` (the rest of its line)."""
    return out.split(label, 1)[1].splitlines()[0].strip()


@pytest.fixture
def api(demo_db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    with TestClient(create_app(make_settings(demo_db_url, tmp_path)),
                    raise_server_exceptions=False) as client:
        yield client


def test_the_first_owner_is_made_once(kasse: Kasse, demo_db_url: str,  # noqa: F811
                                      api: TestClient) -> None:
    status, out, _ = kasse("staff", "init", "Owner@Demo.Example", "--token-name", "demo")
    assert status == 0, out
    password = shown(out, "password (shown once; change it after signing in):")
    token = shown(out, "(shown once, not stored: copy it now):")
    assert len(password) == 24 and token.startswith("kmt_")

    status, again, _ = kasse("staff", "init", "someone@demo.example")
    assert status == 0 and "nothing was changed" in again
    assert password not in again and token not in again
    assert [row.email for row in rows(demo_db_url, staff)] == ["owner@demo.example"]

    me = api.get(f"{MANAGEMENT}/me", headers=bearer(token)).json()
    assert (me["name"], me["role"], me["stores"]) == ("demo", "owner", None)
    owner = sign_in(demo_db_url, "owner@demo.example", password)
    assert owner is not None and owner.role.value == "owner"


def test_passwords_are_argon2_hashes_and_sign_in_works(
        kasse: Kasse, demo_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    status, out, _ = kasse("staff", "add", "Pat@Shop.Example", "--name", "Pat Lee",
                           "--role", "fulfilment", "--store", "demo")
    assert status == 0, out
    generated = shown(out, "password (shown once; hand it over safely):")
    chosen = "correct horse battery staple"
    monkeypatch.setattr("sys.stdin", io.StringIO(chosen + "\n"))
    status, out, _ = kasse("staff", "add", "sam@shop.example", "--role", "support",
                           "--password-stdin")
    assert status == 0 and "password (shown once" not in out and chosen not in out

    stored = {row.email: row for row in rows(demo_db_url, staff)}
    for email, password in (("pat@shop.example", generated), ("sam@shop.example", chosen)):
        assert stored[email].password_hash.startswith("$argon2id$")
        assert password not in stored[email].password_hash
    assert stored["sam@shop.example"].name == "sam"  # the email's name part by default

    pat = sign_in(demo_db_url, "PAT@shop.example ", generated)
    assert pat is not None and (pat.kind, pat.role.value) == ("staff", "fulfilment")
    assert len(pat.store_ids or ()) == 1
    assert sign_in(demo_db_url, "pat@shop.example", chosen) is None  # someone else's
    assert sign_in(demo_db_url, "nobody@shop.example", generated) is None
    assert sign_in(demo_db_url, "not an email", generated) is None
    signed_in = {row.email: row.last_sign_in_at for row in rows(demo_db_url, staff)}
    assert signed_in["pat@shop.example"] is not None
    assert signed_in["sam@shop.example"] is None

    status, out, _ = kasse("staff", "list")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "EMAIL", "ROLE", "STORES", "STATUS", "LAST-SIGN-IN",
                                "NAME"]
    pat_row = next(line.split() for line in lines if "pat@shop.example" in line)
    assert pat_row[2:5] == ["fulfilment", "demo", "enabled"] and pat_row[-2:] == ["Pat", "Lee"]
    assert generated not in out and chosen not in out

    status, out, _ = kasse("staff", "reset-password", "pat@shop.example")
    assert status == 0
    new = shown(out, "password (shown once; hand it over safely):")
    assert sign_in(demo_db_url, "pat@shop.example", generated) is None
    assert sign_in(demo_db_url, "pat@shop.example", new) is not None


@pytest.mark.parametrize(("args", "stdin", "words"), [
    (("staff", "add", "pat", "--role", "support"), None, "is not an email address"),
    (("staff", "add", "pat@shop.example", "--role", "support", "--password-stdin"),
     "too short\n", "at least 12 characters"),
    (("staff", "add", "pat@shop.example", "--role", "support", "--password-stdin"),
     "PAT@shop.example\n", "may not be the email"),
    (("staff", "add", "pat@shop.example", "--role", "support", "--store", "nowhere"),
     None, "no store with id or alias 'nowhere'"),
    (("staff", "add", "pat@shop.example", "--role", "support", "--name", " "), None,
     "name must be 1 to 200"),
    (("staff", "disable", "nobody@shop.example"), None, "no staff member"),
    (("staff", "reset-password", "nobody@shop.example"), None, "no staff member"),
    (("token", "create", "erp", "--role", "manager", "--expires-days", "0"), None,
     "1 to 3650 days"),
    (("token", "create", "erp", "--role", "manager", "--store", "nowhere"), None,
     "no store with id or alias"),
    (("token", "create", "erp", "--role", "manager", "--staff", "nobody@x.example"), None,
     "no staff member"),
    (("token", "revoke", "nothing-by-that-name"), None, "no token"),
])
def test_bad_input_is_refused_with_a_reason_and_changes_nothing(
        kasse: Kasse, demo_db_url: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        args: tuple[str, ...], stdin: str | None, words: str) -> None:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status, out, err = kasse(*args)
    assert status == 2, out
    assert words in err and err.startswith("error: ")
    assert rows(demo_db_url, staff) == [] and rows(demo_db_url, api_tokens) == []
    assert rows(demo_db_url, audit_entries) == []


def test_an_unknown_role_is_a_usage_error(kasse: Kasse,  # noqa: F811
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        kasse("staff", "add", "pat@shop.example", "--role", "boss")
    assert exited.value.code == 2
    assert "invalid choice: 'boss'" in capsys.readouterr().err


def test_an_email_and_a_working_token_name_are_taken_once(kasse: Kasse) -> None:  # noqa: F811
    assert kasse("staff", "add", "pat@shop.example", "--role", "support")[0] == 0
    status, _, err = kasse("staff", "add", "PAT@shop.example", "--role", "manager")
    assert status == 2 and "there is a staff member with the email pat@shop.example" in err
    assert kasse("token", "create", "erp", "--role", "support")[0] == 0
    status, _, err = kasse("token", "create", "erp", "--role", "manager")
    assert status == 2 and "a token named 'erp' exists" in err
    assert kasse("token", "revoke", "erp")[0] == 0
    assert kasse("token", "create", "erp", "--role", "manager")[0] == 0  # free again


def test_tokens_are_stored_as_digests_and_stop_when_they_should(
        kasse: Kasse, demo_db_url: str, api: TestClient) -> None:  # noqa: F811
    assert kasse("staff", "add", "pat@shop.example", "--role", "manager")[0] == 0
    made = {}
    for name, extra in (("erp", ()), ("short-lived", ("--expires-days", "1")),
                        ("pats", ("--staff", "pat@shop.example"))):
        status, out, err = kasse("token", "create", name, "--role", "support", *extra)
        assert status == 0, err
        assert "cannot show it again" in err
        made[name] = shown(out, "(shown once, not stored: copy it now):")

    stored = {row.name: row for row in rows(demo_db_url, api_tokens)}
    for name, token in made.items():
        row = stored[name]
        assert row.token_hash == token_digest(token)
        assert token not in " ".join(str(value) for value in row)
        assert row.prefix == token[:12] and row.last_used_at is None
        assert api.get(f"{MANAGEMENT}/me", headers=bearer(token)).status_code == 200
    assert stored["pats"].staff_id is not None and stored["erp"].staff_id is None
    used = {row.name: row.last_used_at for row in rows(demo_db_url, api_tokens)}
    assert all(used[name] is not None for name in made)  # last used: just now

    status, out, _ = kasse("token", "list")
    assert all(token not in out for token in made.values())
    header, *lines = out.splitlines()
    assert header.split() == ["ID", "PREFIX", "ROLE", "STORES", "STATE", "EXPIRES",
                              "LAST-USED", "STAFF", "NAME"]
    assert {line.split()[-1]: line.split()[4] for line in lines} == {
        "erp": "active", "short-lived": "active", "pats": "active"}

    assert kasse("token", "revoke", "erp")[0] == 0
    change(demo_db_url, update(api_tokens).where(api_tokens.c.name == "short-lived")
           .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert kasse("staff", "disable", "pat@shop.example")[0] == 0
    for token in made.values():
        answer = api.get(f"{MANAGEMENT}/me", headers=bearer(token))
        assert answer.status_code == 401, answer.text

    status, out, _ = kasse("token", "list")
    states = {line.split()[-1]: line.split()[4] for line in out.splitlines()[1:]}
    assert states == {"erp": "revoked", "short-lived": "expired", "pats": "active"}

    assert kasse("staff", "enable", "pat@shop.example")[0] == 0  # their token works again
    assert api.get(f"{MANAGEMENT}/me", headers=bearer(made["pats"])).status_code == 200


def test_a_token_gives_no_more_than_its_staff_member_has(kasse: Kasse) -> None:  # noqa: F811
    assert kasse("staff", "add", "sam@shop.example", "--role", "support",
                 "--store", "demo")[0] == 0
    status, _, err = kasse("token", "create", "sams", "--role", "manager", "--staff",
                           "sam@shop.example")
    assert status == 2 and "may not give the manager role" in err
    status, out, _ = kasse("token", "create", "sams", "--role", "support", "--staff",
                           "sam@shop.example")  # their stores by default
    assert status == 0 and "stores demo" in out


def test_the_last_enabled_owner_stays(kasse: Kasse) -> None:  # noqa: F811
    assert kasse("staff", "add", "olga@shop.example", "--role", "owner")[0] == 0
    status, _, err = kasse("staff", "disable", "olga@shop.example")
    assert status == 2 and "olga@shop.example is the last enabled owner" in err
    assert kasse("staff", "add", "oscar@shop.example", "--role", "owner")[0] == 0
    assert kasse("staff", "disable", "olga@shop.example")[0] == 0
    status, out, _ = kasse("staff", "disable", "olga@shop.example")
    assert status == 0 and "disabled already" in out
    status, _, err = kasse("staff", "disable", "oscar@shop.example")
    assert status == 2 and "last enabled owner" in err


def test_every_change_is_in_the_audit_log(kasse: Kasse, demo_db_url: str) -> None:  # noqa: F811
    kasse("staff", "add", "pat@shop.example", "--role", "manager", "--store", "demo")
    kasse("staff", "reset-password", "pat@shop.example")
    kasse("staff", "disable", "pat@shop.example")
    kasse("staff", "enable", "pat@shop.example")
    kasse("token", "create", "erp", "--role", "support")
    kasse("token", "revoke", "erp")
    entries = sorted(rows(demo_db_url, audit_entries), key=lambda row: row.created_at)
    assert [entry.action for entry in entries] == [
        "staff.added", "staff.password_reset", "staff.disabled", "staff.enabled",
        "token.created", "token.revoked"]
    for entry in entries:
        assert entry.store_id is None and entry.actor_kind == "cli"
        assert entry.actor_name.startswith("command line (")
    assert entries[0].detail["email"] == "pat@shop.example"
    assert entries[0].detail["role"] == "manager" and len(entries[0].detail["storeIds"]) == 1
    assert entries[1].detail["generated"] is True
    assert entries[4].detail["name"] == "erp" and entries[4].detail["prefix"].startswith("kmt_")
    assert "password" not in str([e.detail for e in entries]).replace("password_", "")
