"""Database engines from plain URLs: kasse picks the async driver itself."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from kasse.adapters.db import sqlite_inline


class DatabaseUrlError(ValueError):
    pass


def async_url(url: str) -> URL:
    """``sqlite:///file`` and ``postgresql://…`` become their async-driver forms."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise DatabaseUrlError(f"KASSE_DATABASE_URL is not a database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        sqlite_inline.register()
        return parsed.set(drivername=f"sqlite+{sqlite_inline.DRIVER}")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise DatabaseUrlError(
        f"unsupported database {backend!r} in KASSE_DATABASE_URL; use sqlite:/// or postgresql://"
    )


WRITE_OPTION = "kasse_writes"

SQLITE_BUSY_MS = 20
"""How long one SQLite call may wait for a lock in place. Statements run on the event
loop's thread (see sqlite_inline), so longer waits for the write lock happen
asynchronously, between attempts (``Database.transaction``)."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # kasse issues BEGIN itself (see _sqlite_begin), so the driver must not.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    """Writing transactions take SQLite's write lock at BEGIN (``BEGIN IMMEDIATE``).

    A deferred transaction that reads and then writes fails with "database is locked"
    when another writer committed in between; taking the lock first makes concurrent
    writers queue instead (``Database.transaction`` retries), and they never see stale
    reads. BEGIN goes straight to the driver: as a statement through the engine it cost
    more than the query it opens.
    """
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"
    try:
        conn.connection.dbapi_connection.execute(statement)
    except sqlite3.Error as exc:
        raise OperationalError(statement, None, exc) from None


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    """An async engine; for SQLite the file's folder is created and WAL is switched on."""
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        database = target.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(target, echo=echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(target, echo=echo, pool_size=pool_size, max_overflow=pool_size,
                               pool_pre_ping=True)
