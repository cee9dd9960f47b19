"""What two of kasse's database modules take from SQLAlchemy beyond its public API.

``adapters/db/sqlite_inline.py`` (SQLite called in place by the async engine) and
``adapters/db/probe.py`` (single-value reads beside the engine) lean on names that
SQLAlchemy may change in any release. SQLAlchemy is pinned in pyproject.toml; before the
pin moves, this file must pass on SQLite and on PostgreSQL, and when it fails it names the
piece that changed and the file that relies on it. Each piece is checked for being there
with the expected shape, then each path runs once on a real database.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy.engine import Dialect, make_url

SQLITE_INLINE = "src/kasse/adapters/db/sqlite_inline.py"
PROBE = "src/kasse/adapters/db/probe.py"


def changed(what: str, where: str, use: str) -> str:
    """The failure message: what changed, and who relies on it for what."""
    return (f"SQLAlchemy {sqlalchemy.__version__} changed {what}, which {where} relies on "
            f"({use}); adapt {where} before moving the pinned version")


def _parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


# --- sqlite_inline.py --------------------------------------------------------------------


def test_await_is_where_the_inline_sqlite_dialect_imports_it() -> None:
    use = "its cursor awaits each statement with it, inside the engine's greenlet"
    what = "sqlalchemy.util.concurrency.await_(awaitable)"
    concurrency = importlib.import_module("sqlalchemy.util.concurrency")
    assert callable(getattr(concurrency, "await_", None)), changed(what, SQLITE_INLINE, use)
    assert _parameters(concurrency.await_) == ["awaitable"], changed(what, SQLITE_INLINE, use)


def test_the_pysqlite_dialect_still_has_what_the_inline_dialect_builds_on() -> None:
    pysqlite = importlib.import_module("sqlalchemy.dialects.sqlite.pysqlite")
    base = getattr(pysqlite, "SQLiteDialect_pysqlite", None)
    assert base is not None, changed(
        "sqlalchemy.dialects.sqlite.pysqlite.SQLiteDialect_pysqlite", SQLITE_INLINE,
        "InlineSQLiteDialect subclasses it")

    what = "the private classmethod SQLiteDialect_pysqlite._is_url_file_db(url)"
    use = "get_pool_class picks a queue pool for files with it"
    is_file = getattr(base, "_is_url_file_db", None)
    assert callable(is_file), changed(what, SQLITE_INLINE, use)
    assert isinstance(inspect.getattr_static(base, "_is_url_file_db"), classmethod), \
        changed(what, SQLITE_INLINE, use)
    assert _parameters(is_file) == ["url"], changed(what, SQLITE_INLINE, use)
    assert is_file(make_url("sqlite:///shop.db")) is True, changed(what, SQLITE_INLINE, use)
    for memory in ("sqlite://", "sqlite:///:memory:"):
        assert is_file(make_url(memory)) is False, changed(what, SQLITE_INLINE, use)

    for name, kind, parameters in [
        ("import_dbapi", classmethod, []),
        ("get_pool_class", classmethod, ["url"]),
        ("create_connect_args", None, ["self", "url"]),
        ("connect", None, ["self", "cargs", "cparams"]),
    ]:
        what = f"SQLiteDialect_pysqlite.{name}{tuple(parameters)}"
        use = "InlineSQLiteDialect overrides it"
        found = getattr(base, name, None)
        assert callable(found), changed(what, SQLITE_INLINE, use)
        if kind is not None:
            assert isinstance(inspect.getattr_static(base, name), kind), \
                changed(f"{what} (no longer a classmethod)", SQLITE_INLINE, use)
        assert _parameters(found) == parameters, changed(what, SQLITE_INLINE, use)

    args = base().create_connect_args(make_url("sqlite:///shop.db"))
    assert isinstance(args, tuple) and len(args) == 2 and isinstance(args[1], dict), changed(
        "what SQLiteDialect_pysqlite.create_connect_args returns (args, kwargs)",
        SQLITE_INLINE, "InlineSQLiteDialect adds check_same_thread to the kwargs")

    # A class attribute SQLAlchemy no longer reads would be ignored without a word.
    for attribute in ("driver", "is_async", "supports_statement_cache"):
        assert hasattr(base, attribute), changed(
            f"the dialect attribute {attribute}", SQLITE_INLINE,
            "InlineSQLiteDialect sets it to declare an async driver")


def test_the_async_engine_still_soft_closes_cursors_by_that_name() -> None:
    what = "the cursor method _async_soft_close() that AsyncConnection awaits"
    use = "its _Cursor defines it; a renamed one would reach sqlite3's cursor and fail"
    adapted = importlib.import_module("sqlalchemy.connectors.asyncio")
    method = getattr(getattr(adapted, "AsyncAdapt_dbapi_cursor", None),
                     "_async_soft_close", None)
    assert method is not None and inspect.iscoroutinefunction(method), \
        changed(what, SQLITE_INLINE, use)
    result = importlib.import_module("sqlalchemy.ext.asyncio.result")
    assert "cursor._async_soft_close()" in inspect.getsource(result), \
        changed(what, SQLITE_INLINE, use)


def test_the_inline_dialect_runs_a_transaction_on_the_event_loop_s_thread(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from kasse.adapters.db import sqlite_inline
    from kasse.adapters.db.database import Database

    soft_closed: list[bool] = []
    threads: set[int] = set()
    execute = sqlite_inline._Cursor.execute

    async def soft_close(self: Any) -> None:
        soft_closed.append(True)

    def spying_execute(self: Any, operation: Any, parameters: Any = ()) -> Any:
        threads.add(threading.get_ident())
        return execute(self, operation, parameters)

    monkeypatch.setattr(sqlite_inline._Cursor, "_async_soft_close", soft_close)
    monkeypatch.setattr(sqlite_inline._Cursor, "execute", spying_execute)

    async def go() -> tuple[int, list[tuple[Any, ...]], bool]:
        db = Database.from_url(f"sqlite:///{tmp_path / 'inline.db'}")
        try:
            assert db.engine.dialect.driver == sqlite_inline.DRIVER
            async with db.transaction() as conn:
                await conn.execute(sqlalchemy.text("CREATE TABLE t (id INTEGER, name TEXT)"))
                await conn.execute(sqlalchemy.text("INSERT INTO t VALUES (:i, :n)"),
                                   [{"i": 1, "n": "one"}, {"i": 2, "n": "two"}])
            async with db.read() as conn:
                rows = (await conn.execute(sqlalchemy.text(
                    "SELECT id, name FROM t ORDER BY id"))).all()
            queue_pool = isinstance(db.engine.pool, sqlalchemy.pool.AsyncAdaptedQueuePool)
            return threading.get_ident(), [tuple(r) for r in rows], queue_pool
        finally:
            await db.dispose()

    loop_thread, rows, queue_pool = asyncio.run(go())
    assert rows == [(1, "one"), (2, "two")]
    assert threads == {loop_thread}, changed(
        "how the async engine calls an is_async dialect's cursor", SQLITE_INLINE,
        "statements run in place on the event loop's thread")
    assert soft_closed, changed("when AsyncConnection awaits cursor._async_soft_close()",
                                SQLITE_INLINE, "its _Cursor defines it")
    assert queue_pool, changed("SQLiteDialect_pysqlite._is_url_file_db(url)", SQLITE_INLINE,
                               "a database file gets a queue pool, not one shared connection")


# --- probe.py ----------------------------------------------------------------------------


def _dialect(name: str) -> Dialect:
    """The dialect kasse's engine uses for ``name`` (no server needed to compile)."""
    from kasse.adapters.db.engine import async_url

    url = {"sqlite": "sqlite:///shop.db", "postgresql": "postgresql://kasse@localhost/kasse"}
    dialect: Dialect = async_url(url[name]).get_dialect()()
    return dialect


@pytest.mark.parametrize("name", ["sqlite", "postgresql"])
def test_a_compiled_select_still_lists_its_positional_binds(name: str) -> None:
    from kasse.adapters.db.order_repository import VERSION
    from kasse.adapters.db.probe import _compile

    dialect = _dialect(name)
    compiled = VERSION.compile(dialect=dialect)
    use = "the probe sends the compiled SQL itself, with the values in positiontup's order"
    what = "SQLCompiler.positiontup (the bind names in placeholder order)"
    assert list(getattr(compiled, "positiontup", None) or ()) == ["b_id", "b_store_id"], \
        changed(what, PROBE, use)
    what = "SQLCompiler.binds (bind name -> BindParameter with a .type)"
    binds = getattr(compiled, "binds", None)
    assert isinstance(binds, dict) and {"b_id", "b_store_id"} <= set(binds), \
        changed(what, PROBE, use)
    assert all(callable(getattr(binds[n].type, "bind_processor", None))
               for n in ("b_id", "b_store_id")), changed(what, PROBE, use)
    placeholders = {"sqlite": ("?", "?"), "postgresql": ("$1", "$2")}[name]
    sql = compiled.string
    assert all(p in sql for p in placeholders), changed(
        f"the {dialect.driver} dialect's paramstyle ({dialect.paramstyle})", PROBE,
        "the probe hands the SQL to the driver as compiled")
    probe = _compile(VERSION, dialect)
    assert (probe.sql, probe.names) == (sql, ("b_id", "b_store_id"))


def test_the_probe_reads_what_the_engine_reads(demo_db_url: str, engine_kind: str) -> None:
    """On SQLite always, on PostgreSQL when the tests run there: the probe's own answer,
    not the engine's path that the PostgreSQL probe falls back to when it fails."""
    from uuid import uuid4

    from kasse.adapters.db.database import Database
    from kasse.adapters.db.engine import SQLITE_BUSY_MS
    from kasse.adapters.db.order_repository import VERSION
    from kasse.adapters.db.probe import PostgresProbe, SqliteProbe
    from kasse.adapters.db.storage import SqlStorage
    from kasse.domain.session import SessionHeaders, resolve_session
    from kasse.services.catalog import StoreDirectory
    from kasse.services.orders import AddProduct, NewOrder, Orders

    async def go() -> None:
        db = Database.from_url(demo_db_url)
        engine = db.engine
        probe: Any = (SqliteProbe(str(engine.url.database), engine.dialect, SQLITE_BUSY_MS)
                      if engine_kind == "sqlite" else PostgresProbe(engine.url, engine.dialect))
        try:
            storage = SqlStorage(db)
            config = await StoreDirectory(storage).get("demo")
            orders = Orders(storage)
            session = resolve_session(config, SessionHeaders())
            order = (await orders.create(config, session, NewOrder())).order
            order = (await orders.add_product(config, order.id, AddProduct(
                "trail-map", quantity=Decimal(1)))).order
            for params, expected in [
                ({"b_id": order.id, "b_store_id": config.store.id}, order.version),
                ({"b_id": uuid4(), "b_store_id": config.store.id}, None),
            ]:
                async with db.read() as conn:
                    by_engine = (await conn.execute(VERSION, params)).scalar()
                by_probe = probe.scalar(VERSION, params)
                if inspect.isawaitable(by_probe):
                    by_probe = await by_probe
                assert by_engine == expected
                assert by_probe == expected, changed(
                    f"what a compiled statement's bind processors make of {list(params)} "
                    f"on {engine_kind}", PROBE, "the probe passes their values to the driver")
            # the statement compiled once is the one reused
            assert list(probe._compiled) == [VERSION]
        finally:
            closed = probe.close()
            if inspect.isawaitable(closed):
                await closed
            await db.dispose()

    asyncio.run(go())
