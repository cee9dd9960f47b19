"""Settings a store file takes from the environment (``{env: NAME}``) stay there.

The database keeps the variable's name only: every row of every table is read back
directly and the secret is in none of them, on both engines. kasse reads the value from
its own environment when it loads the store, so a card payment through the test gateway
is still signed and verified with it; without the variable the method is "not set up".
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection

from kasse.adapters.config_file import read_config_file
from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.api.app import create_app
from kasse.demo import DEMO_STORE_FILE
from kasse.payments.testgateway.cards import APPROVE
from kasse.payments.testgateway.signing import sign_fields
from kasse.services.store_import import import_store
from tests.api.conftest import BASE, make_settings
from tests.api.test_inline_checkout import checkout_url, get_order, jacket_cart, ok
from tests.conftest import API_KEY
from tests.integration.hosted import forms

SECRET_VAR = "KASSE_TEST_CARD_SIGNING_SECRET"


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    value = f"signing-secret-{secrets.token_hex(16)}"
    monkeypatch.setenv(SECRET_VAR, value)
    return value


def store_file() -> dict[str, Any]:
    """The demo store, its card method's signing secret named by environment variable."""
    data: dict[str, Any] = read_config_file(DEMO_STORE_FILE).data
    [card] = [m for m in data["paymentMethods"] if m["alias"] == "card"]
    card["settings"]["SigningSecret"] = {"env": SECRET_VAR, "secret": True}
    return data


async def _import(url: str) -> None:
    db = Database.from_url(url)
    try:
        await import_store(SqlStorage(db), store_file())
    finally:
        await db.dispose()


@pytest.fixture
def db_url(empty_db_url: str, secret: str) -> str:
    asyncio.run(_import(empty_db_url))
    return empty_db_url


async def _every_row(url: str) -> dict[str, list[str]]:
    """Each table's rows, every value as text, read straight from the database."""
    def names(conn: Any) -> list[str]:
        return list(inspect(conn).get_table_names())

    async def rows(conn: AsyncConnection, table: str) -> list[str]:
        result = await conn.execute(text(f'SELECT * FROM "{table}"'))
        return [repr(tuple(str(value) for value in row)) for row in result]

    db = Database.from_url(url)
    try:
        async with db.engine.connect() as conn:
            return {table: await rows(conn, table) for table in await conn.run_sync(names)}
    finally:
        await db.dispose()


def make_client(db_url: str, tmp_path: Path) -> TestClient:
    app = create_app(make_settings(db_url, tmp_path, test_gateway=True))
    return TestClient(app, headers={"Api-Key": API_KEY, "Store": "demo"},
                      raise_server_exceptions=False)


def pay_by_card(client: TestClient, order_id: str, secret: str) -> None:
    """Token, pay page, the gateway's card page, the signed return: the order is placed."""
    issued = ok(client.get(checkout_url(order_id, "token")))
    pay_page = client.get(issued["payUrl"])
    assert pay_page.status_code == 200, pay_page.text
    [hand_over] = forms(pay_page.text)
    # Signed with the secret from this process's environment...
    assert hand_over.fields["signature"] == sign_fields(secret, hand_over.fields)
    # ...which the gateway served by kasse verifies with the same secret.
    card_page = client.post(hand_over.action, data=hand_over.fields)
    assert card_page.status_code == 200, card_page.text
    [card_form] = [f for f in forms(card_page.text) if "card_number" in f.fields]
    returned = client.post(str(card_page.url.join(card_form.action)), data={
        **card_form.fields, "card_number": APPROVE, "expiry": "12/40", "cvc": "123",
        "webhook": "none", "action": "pay"}, follow_redirects=False)
    assert returned.status_code == 303, returned.text
    # The return is signed by the gateway and checked by kasse with the secret.
    completed = client.get(returned.headers["location"], follow_redirects=False)
    assert completed.status_code in (200, 303), completed.text
    assert "/completed" in returned.headers["location"]


def test_a_secret_from_the_environment_is_used_but_never_stored(
        db_url: str, secret: str, tmp_path: Path) -> None:
    with make_client(db_url, tmp_path) as client:
        bodies: list[str] = []
        client.event_hooks["response"].append(
            lambda response: bodies.append(response.read().decode(errors="replace")))
        order_id = jacket_cart(client, payment="card")
        ready = ok(client.get(checkout_url(order_id, "initialize")))
        assert "SigningSecret" not in ready["paymentMethod"]["settings"]
        pay_by_card(client, order_id, secret)
        assert get_order(client, order_id)["isFinalized"] is True
        ok(client.get(f"{BASE}/v1/paymentmethod/card", params={"expand": "$all"}))
    assert bodies and not [body for body in bodies if secret in body]

    tables = asyncio.run(_every_row(db_url))
    assert {"payment_method_settings", "orders", "checkout_attempts"} <= set(tables)
    leaks = [(table, row) for table, rows in tables.items() for row in rows if secret in row]
    assert leaks == []
    # What is stored instead: the variable's name, so the value is read at run time.
    settings = "\n".join(tables["payment_method_settings"])
    assert SECRET_VAR in settings and "kasse-demo" in settings


def test_without_the_variable_the_method_is_not_set_up(
        db_url: str, secret: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv(SECRET_VAR)
    with caplog.at_level(logging.WARNING), make_client(db_url, tmp_path) as client:
        # Starting warns the operator, naming the variable.
        warned = [r.getMessage() for r in caplog.records if SECRET_VAR in r.getMessage()]
        assert warned and "'card'" in warned[0] and "SigningSecret" in warned[0]
        order_id = jacket_cart(client, payment="card")
        for action in ("token", "initialize"):
            refused = client.get(checkout_url(order_id, action))
            assert refused.status_code == 400, refused.text
            detail = refused.json()["detail"]
            assert "payment method 'card' is not set up" in detail, detail
            assert SECRET_VAR not in detail
        # The shop's other methods still take payments.
        other = jacket_cart(client, payment="invoicing")
        assert ok(client.get(checkout_url(other, "token")))["payUrl"]
