"""SQLite for the async engine without a thread per connection.

The usual async SQLite driver runs every call (cursor, execute, fetch, close, commit) on
a helper thread and wakes the event loop for each: about half a millisecond of CPU per
statement, where SQLite itself needs ten microseconds. kasse's statements are small
primary-key reads and writes, so this dialect calls the standard ``sqlite3`` module
directly on the event loop's thread instead.

What could block the loop is waiting for another process's write lock, so the busy
timeout is kept short and ``Database.transaction`` waits for the write lock
asynchronously (see ``engine.begin_write``).
"""

from __future__ import annotations

import sqlite3
from types import ModuleType
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.util.concurrency import await_

DRIVER = "kasse_inline"


async def _now(fn: Any, *args: Any) -> Any:
    return fn(*args)


class _Cursor:
    """A ``sqlite3`` cursor whose statements count as awaited by the async engine.

    The engine checks that a driver awaited something while executing; awaiting a
    coroutine that runs the statement and never suspends satisfies it and costs two
    greenlet switches.
    """

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def execute(self, operation: Any, parameters: Any = ()) -> Any:
        return await_(_now(self._cursor.execute, operation, parameters))

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await_(_now(self._cursor.executemany, operation, seq_of_parameters))

    async def _async_soft_close(self) -> None:
        """Rows stay with the cursor and are fetched in place; nothing to do."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class _Connection:
    """A ``sqlite3`` connection handing out awaited cursors; everything else passes through."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        object.__setattr__(self, "_connection", connection)

    def cursor(self, *args: Any, **kwargs: Any) -> _Cursor:
        return _Cursor(self._connection.cursor(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._connection, name, value)


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """``sqlite+kasse_inline://``: the standard driver, called in place by the async engine."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> ModuleType:
        return sqlite3

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        return _Connection(sqlite3.connect(*args, **kwargs))

    def create_connect_args(self, url: URL) -> Any:
        args, kwargs = super().create_connect_args(url)
        # Connections are used by one coroutine at a time, all on the loop's thread, but
        # the pool may close them from another thread at shutdown.
        kwargs["check_same_thread"] = False
        return args, kwargs


def register() -> None:
    """Make ``sqlite+kasse_inline`` known to SQLAlchemy (idempotent)."""
    from sqlalchemy.dialects import registry

    registry.register(f"sqlite.{DRIVER}", __name__, "InlineSQLiteDialect")
