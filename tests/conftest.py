"""Shared fixtures: a real database per test (SQLite file, or PostgreSQL when asked).

Set ``KASSE_TEST_DATABASE_URL=postgresql://user@host:port/db`` to run everything against
PostgreSQL: a fresh database named ``kasse_test_<random>`` is created on that server for
the session and dropped afterwards. If the server cannot be reached the run fails; it
never falls back to SQLite silently.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from kasse.adapters.config_file import read_config_file
from kasse.adapters.db.database import Database
from kasse.adapters.db.migrate import upgrade
from kasse.adapters.db.storage import SqlStorage
from kasse.adapters.db.tables import metadata
from kasse.demo import DEMO_STORE_FILE
from kasse.services.store_import import import_store

API_KEY = "test-api-key-0123456789"
OLD_API_KEY = "test-api-key-previous"
PG_ENV = "KASSE_TEST_DATABASE_URL"


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _import_demo(url: str) -> None:
    db = Database.from_url(url)
    try:
        await import_store(SqlStorage(db), read_config_file(DEMO_STORE_FILE).data)
    finally:
        await db.dispose()


class PostgresServer:
    """A throwaway database on a real PostgreSQL server."""

    def __init__(self, server_url: str) -> None:
        self.server_url = make_url(server_url)
        self.name = f"kasse_test_{secrets.token_hex(4)}"
        self.url = self.server_url.set(database=self.name).render_as_string(hide_password=False)

    async def _admin(self, statement: str) -> None:
        import asyncpg

        u = self.server_url
        conn = await asyncpg.connect(host=u.host or "127.0.0.1", port=u.port or 5432,
                                     user=u.username or "postgres", password=u.password,
                                     database=u.database or "postgres", timeout=10)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    def create(self) -> None:
        _run(self._admin(f'CREATE DATABASE "{self.name}"'))

    def drop(self) -> None:
        _run(self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def engine_kind() -> str:
    return "postgresql" if os.environ.get(PG_ENV) else "sqlite"


@pytest.fixture(scope="session")
def _database_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Migrated databases made once per session: one empty, one with the demo store."""
    server_url = os.environ.get(PG_ENV)
    if server_url:
        server = PostgresServer(server_url)
        server.create()  # fails loudly when PostgreSQL is unreachable
        _run(upgrade(server.url))
        yield {"kind": "postgresql", "url": server.url}
        server.drop()
        return
    folder = tmp_path_factory.mktemp("templates")
    empty = folder / "empty.db"
    demo = folder / "demo.db"
    _run(upgrade(f"sqlite:///{empty}"))
    shutil.copy(empty, demo)
    _run(_import_demo(f"sqlite:///{demo}"))
    yield {"kind": "sqlite", "empty": str(empty), "demo": str(demo)}


async def _truncate(url: str) -> None:
    db = Database.from_url(url)
    try:
        async with db.transaction() as conn:
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} CASCADE"))
    finally:
        await db.dispose()


def _fresh(templates: dict[str, str], tmp_path: Path, with_demo: bool) -> str:
    if templates["kind"] == "postgresql":
        _run(_truncate(templates["url"]))
        if with_demo:
            _run(_import_demo(templates["url"]))
        return templates["url"]
    target = tmp_path / "kasse.db"
    shutil.copy(templates["demo" if with_demo else "empty"], target)
    return f"sqlite:///{target}"


@pytest.fixture
def empty_db_url(_database_templates: dict[str, str], tmp_path: Path) -> str:
    """A migrated database with no store in it."""
    return _fresh(_database_templates, tmp_path, with_demo=False)


@pytest.fixture
def demo_db_url(_database_templates: dict[str, str], tmp_path: Path) -> str:
    """A migrated database holding the demo store."""
    return _fresh(_database_templates, tmp_path, with_demo=True)
