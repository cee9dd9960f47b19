"""Staff and tokens through the management API, as an owner uses it: a password or a
token is in the answer that made it and nowhere else (not in the database, not in the
answer kept for a retry); what an owner of some stores may give and see; bad input."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import api_tokens, idempotency_records, staff
from kasse.api.app import create_app
from kasse.bootstrap import bootstrap
from kasse.config import Settings
from kasse.domain.access import Principal, token_digest
from kasse.domain.audit import COMMAND_LINE
from tests.api.conftest import BASE, make_settings
from tests.api.test_auth_sweep import import_other_store
from tests.conftest import API_KEY
from tests.management import MANAGEMENT, bearer, issue_token


def rows(db_url: str, table: Any) -> list[Any]:
    async def read() -> list[Any]:
        db = Database.from_url(db_url)
        try:
            async with db.read() as conn:
                return list((await conn.execute(select(table))).all())
        finally:
            await db.dispose()

    return asyncio.run(read())


def sign_in(db_url: str, email: str, password: str) -> Principal | None:
    async def run() -> Principal | None:
        async with bootstrap(Settings(database_url=db_url), migrate=False) as container:
            return await container.staff.authenticate(email, password)

    return asyncio.run(run())


class Owner:
    """Requests with an owner's token; each change with a fresh Idempotency-Key unless
    one is given."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    def get(self, path: str) -> Any:
        return self.client.get(f"{MANAGEMENT}{path}", headers=bearer(self.token))

    def change(self, method: str, path: str, body: Any = None, key: str | None = None
               ) -> Any:
        headers = bearer(self.token, **{"Idempotency-Key": key or str(uuid.uuid4())})
        return self.client.request(method, f"{MANAGEMENT}{path}", headers=headers,
                                   json=body)


@pytest.fixture
def client(demo_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(demo_db_url, tmp_path)),
                    raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def owner(client: TestClient, demo_db_url: str) -> Owner:
    return Owner(client, issue_token(demo_db_url, "owner", name="owner-of-all"))


def test_a_new_member_gets_a_password_shown_once(owner: Owner, demo_db_url: str) -> None:
    body = {"email": " Pat@Shop.Example", "name": "Pat Lee", "role": "fulfilment",
            "stores": ["demo"]}
    answer = owner.change("POST", "/staff", body, key="add-pat")
    assert answer.status_code == 201, answer.text
    added = answer.json()
    password = added["password"]
    assert len(password) == 24
    assert (added["email"], added["name"], added["role"], added["disabled"]) == (
        "pat@shop.example", "Pat Lee", "fulfilment", False)
    assert len(added["storeIds"]) == 1 and added["lastSignInAt"] is None

    again = owner.change("POST", "/staff", body, key="add-pat")  # a retry
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == {**added, "password": None}
    kept = " ".join(row.response_body or "" for row in rows(demo_db_url, idempotency_records))
    assert "pat@shop.example" in kept and password not in kept
    (member,) = rows(demo_db_url, staff)
    assert member.password_hash.startswith("$argon2id$") and password not in member.password_hash

    assert sign_in(demo_db_url, "pat@shop.example", password) is not None
    listed = owner.get("/staff").json()["items"]
    assert [m["email"] for m in listed] == ["pat@shop.example"]
    assert listed[0]["lastSignInAt"] is not None and "password" not in listed[0]

    reset = owner.change("POST", f"/staff/{added['id']}/reset-password")
    assert reset.status_code == 200, reset.text
    assert sign_in(demo_db_url, "pat@shop.example", password) is None
    assert sign_in(demo_db_url, "pat@shop.example", reset.json()["password"]) is not None


def test_a_token_is_shown_once_and_works_until_revoked(owner: Owner, demo_db_url: str,
                                                       client: TestClient) -> None:
    body = {"name": "erp sync", "role": "manager", "stores": ["demo"], "expiresInDays": 90}
    answer = owner.change("POST", "/tokens", body, key="erp")
    assert answer.status_code == 201, answer.text
    made = answer.json()
    token = made["token"]
    assert token.startswith("kmt_") and made["prefix"] == token[:12]
    assert (made["name"], made["role"], made["state"]) == ("erp sync", "manager", "active")
    assert made["expiresAt"] is not None and made["lastUsedAt"] is None

    replay = owner.change("POST", "/tokens", body, key="erp")
    assert replay.status_code == 201 and replay.json()["token"] is None
    stored = next(row for row in rows(demo_db_url, api_tokens) if row.name == "erp sync")
    assert stored.token_hash == token_digest(token)
    kept = " ".join(row.response_body or "" for row in rows(demo_db_url, idempotency_records))
    everything = kept + " ".join(str(value) for value in stored)
    assert token not in everything and "erp sync" in kept

    me = client.get(f"{MANAGEMENT}/me", headers=bearer(token)).json()
    assert (me["name"], me["role"]) == ("erp sync", "manager")
    listed = {t["name"]: t for t in owner.get("/tokens").json()["items"]}
    assert listed["erp sync"]["lastUsedAt"] is not None and "token" not in listed["erp sync"]
    assert token not in owner.get("/tokens").text

    revoked = owner.change("DELETE", f"/tokens/{made['id']}")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert client.get(f"{MANAGEMENT}/me", headers=bearer(token)).status_code == 401
    again = owner.change("DELETE", f"/tokens/{made['id']}")  # a new key: nothing to do
    assert again.status_code == 200 and again.json()["revokedAt"] == revoked.json()["revokedAt"]


def member_token(db_url: str, email: str, name: str) -> str:
    """A token of the staff member ``email`` (as ``kasse token create --staff``)."""
    async def run() -> str:
        async with bootstrap(Settings(database_url=db_url), migrate=False) as container:
            member = await container.staff.member(email)
            made = await container.api_tokens.create(COMMAND_LINE, name, member.role,
                                                     staff=email)
            return made.plaintext

    return asyncio.run(run())


def test_the_tokens_a_member_makes_stop_with_them(owner: Owner, client: TestClient,
                                                 demo_db_url: str) -> None:
    olga = owner.change("POST", "/staff", {"email": "olga@shop.example", "role": "owner"})
    pat = owner.change("POST", "/staff", {"email": "pat@shop.example", "role": "owner"})
    assert olga.status_code == pat.status_code == 201
    pats = Owner(client, member_token(demo_db_url, "pat@shop.example", "pats-laptop"))
    made = pats.change("POST", "/tokens", {"name": "pats-script", "role": "support"})
    assert made.status_code == 201 and made.json()["staffId"] == pat.json()["id"]
    script = made.json()["token"]

    disabled = owner.change("POST", f"/staff/{pat.json()['id']}/disable")
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    for token in (pats.token, script):
        assert client.get(f"{MANAGEMENT}/me", headers=bearer(token)).status_code == 401
    last = owner.change("POST", f"/staff/{olga.json()['id']}/disable")
    assert last.status_code == 409, last.text
    assert "olga@shop.example is the last enabled owner" in last.json()["detail"]
    enabled = owner.change("POST", f"/staff/{pat.json()['id']}/enable")
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False
    assert client.get(f"{MANAGEMENT}/me", headers=bearer(script)).status_code == 200


def test_an_owner_of_some_stores_gives_and_sees_only_those(
        client: TestClient, demo_db_url: str, owner: Owner) -> None:
    import_other_store(demo_db_url)
    everywhere = owner.change("POST", "/staff", {"email": "all@shop.example", "role": "owner"})
    assert everywhere.status_code == 201
    other_id = client.get(f"{BASE}/v1/store/other", headers={"Api-Key": API_KEY}).json()["id"]
    limited = Owner(client, issue_token(demo_db_url, "owner", stores=[uuid.UUID(other_id)],
                                        name="other-owner"))

    token = limited.change("POST", "/tokens", {"name": "other-erp", "role": "manager"})
    assert token.status_code == 201 and token.json()["storeIds"] == [other_id]  # its stores
    wider = limited.change("POST", "/tokens", {"name": "all-erp", "role": "manager",
                                               "stores": ["demo", "other"]})
    assert wider.status_code == 403, wider.text
    member = limited.change("POST", "/staff", {"email": "o@shop.example", "role": "support"})
    assert member.status_code == 201 and member.json()["storeIds"] == [other_id]

    assert [m["email"] for m in limited.get("/staff").json()["items"]] == ["o@shop.example"]
    # itself and what it made; not the owner-of-all token nor anything of every store
    assert [t["name"] for t in limited.get("/tokens").json()["items"]] == [
        "other-erp", "other-owner"]
    reset = limited.change("POST", f"/staff/{everywhere.json()['id']}/reset-password")
    assert reset.status_code == 404, reset.text


@pytest.mark.parametrize(("method", "path", "body", "status", "words"), [
    ("POST", "/staff", {"email": "nobody", "role": "support"}, 400,
     "is not an email address"),
    ("POST", "/staff", {"email": "pat@shop.example", "role": "boss"}, 400, "role"),
    ("POST", "/staff", {"email": "pat@shop.example", "role": "support", "stores": []}, 400,
     "at least one store"),
    ("POST", "/staff", {"email": "pat@shop.example", "role": "support",
                        "stores": ["nowhere"]}, 400, "no store with id or alias 'nowhere'"),
    ("POST", "/staff", "not an object", 400, ""),
    ("POST", "/tokens", {"name": " ", "role": "support"}, 400, "token name must be 1 to 200"),
    ("POST", "/tokens", {"name": "erp", "role": "support", "expiresInDays": 0}, 400,
     "expiresInDays"),
    ("POST", f"/staff/{uuid.uuid4()}/disable", None, 404, "no staff member"),
    ("POST", "/staff/not-an-id/enable", None, 404, "no staff member"),
    ("DELETE", f"/tokens/{uuid.uuid4()}", None, 404, "no token"),
])
def test_bad_requests_are_problems_that_change_nothing(
        owner: Owner, demo_db_url: str, method: str, path: str, body: Any, status: int,
        words: str) -> None:
    tokens = len(rows(demo_db_url, api_tokens))
    answer = owner.change(method, path, body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert words in answer.json()["detail"]
    assert rows(demo_db_url, staff) == [] and len(rows(demo_db_url, api_tokens)) == tokens


def test_a_change_without_an_idempotency_key_is_refused(owner: Owner) -> None:
    answer = owner.client.post(f"{MANAGEMENT}/tokens", headers=bearer(owner.token),
                               json={"name": "erp", "role": "support"})
    assert answer.status_code == 400 and "Idempotency-Key" in answer.json()["detail"]


def test_names_and_emails_are_taken_once(owner: Owner) -> None:
    assert owner.change("POST", "/tokens", {"name": "erp", "role": "support"}).status_code == 201
    taken = owner.change("POST", "/tokens", {"name": "erp", "role": "manager"})
    assert taken.status_code == 409 and "a token named 'erp' exists" in taken.json()["detail"]
    body = {"email": "pat@shop.example", "role": "support"}
    assert owner.change("POST", "/staff", body).status_code == 201
    again = owner.change("POST", "/staff", {**body, "email": "PAT@shop.example"})
    assert again.status_code == 409, again.text
