"""Single-value reads by the shortest path SQLite offers.

Some reads are asked on nearly every request and answer one small value, such as an
order's current version (see ``api.rendered_orders``). Through the engine such a read
checks out a pooled connection, opens and resets a transaction and builds a result: ten
times the cost of the query itself. On SQLite a probe keeps one plain connection of its
own and runs the statement, compiled once, directly; in WAL mode it sees every committed
write of every process. On PostgreSQL a probe keeps a small asyncpg pool of its own and
runs the statement, prepared once per connection, in one round trip: the engine's path
adds a pre-ping, a transaction and its reset, four round trips in all.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL, Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import Select


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]


log = logging.getLogger("kasse.db")


def _compile(statement: Select[Any], dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    names = tuple(compiled.positiontup or ())
    processors = tuple(compiled.binds[name].type.bind_processor(dialect) for name in names)
    return _Compiled(compiled.string, names, processors)


def _values(compiled: _Compiled, params: Mapping[str, Any]) -> list[Any]:
    return [process(params[name]) if process else params[name]
            for name, process in zip(compiled.names, compiled.processors, strict=True)]


class SqliteProbe:
    """Runs compiled single-value selects on one connection held for the purpose."""

    def __init__(self, path: str, dialect: Dialect, busy_ms: int) -> None:
        self.path = path
        self.dialect = dialect
        self.busy_ms = busy_ms
        self._connection: sqlite3.Connection | None = None
        self._compiled: dict[Select[Any], _Compiled] = {}

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self.path, isolation_level=None,
                                         check_same_thread=False)
            connection.execute(f"PRAGMA busy_timeout={self.busy_ms}")
            self._connection = connection
        return self._connection

    def _compile(self, statement: Select[Any]) -> _Compiled:
        found = self._compiled[statement] = _compile(statement, self.dialect)
        return found

    def scalar(self, statement: Select[Any], params: Mapping[str, Any]) -> Any:
        """The first column of the first row (``None`` without rows), unconverted: meant
        for integer and text columns."""
        compiled = self._compiled.get(statement) or self._compile(statement)
        values = _values(compiled, params)
        try:
            row = self._connect().execute(compiled.sql, values).fetchone()
        except sqlite3.Error as exc:
            raise OperationalError(compiled.sql, values, exc) from None
        return None if row is None else row[0]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


PROBE_APPLICATION_NAME = "kasse version probe"
"""How the probe's connections show in ``pg_stat_activity``."""


class ProbeUnavailable(Exception):
    """The probe's own connections failed; the engine's path may still work."""


async def _keep_as_is(_connection: Any) -> None:
    """Probe connections only ever run single selects outside a transaction: there is
    nothing to reset when one goes back to the pool (asyncpg's reset is a round trip)."""


class PostgresProbe:
    """Runs compiled single-value selects on a small asyncpg pool of its own.

    When the pool cannot answer (the server restarted, say), ``scalar`` raises and the
    caller takes the engine's path; the pool is opened again on the next call.
    """

    def __init__(self, url: URL, dialect: Dialect, size: int = 4) -> None:
        self.dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.dialect = dialect
        self.size = size
        self._pool: Any = None
        self._opening = asyncio.Lock()
        self._compiled: dict[Select[Any], _Compiled] = {}

    async def _connected(self) -> Any:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    import asyncpg

                    self._pool = await asyncpg.create_pool(
                        self.dsn, min_size=1, max_size=self.size, reset=_keep_as_is,
                        server_settings={"application_name": PROBE_APPLICATION_NAME})
        return self._pool

    async def scalar(self, statement: Select[Any], params: Mapping[str, Any]) -> Any:
        """As ``SqliteProbe.scalar``; raises ``ProbeUnavailable`` when the server cannot
        be reached this way (the caller takes the engine's path then)."""
        compiled = self._compiled.get(statement)
        if compiled is None:
            compiled = self._compiled[statement] = _compile(statement, self.dialect)
        pool = None
        try:
            pool = await self._connected()
            return await pool.fetchval(compiled.sql, *_values(compiled, params))
        except Exception as exc:
            # Whatever went wrong (a connection cut by a restart or an administrator, a
            # protocol state left behind by one), the pool is opened anew next time and
            # this read takes the engine's path, which raises if the fault is real.
            log.warning("version probe: %r; reconnecting on the next call", exc)
            self._pool = None
            if pool is not None:
                pool.terminate()  # at once: waiting on a broken pool would hold this read
            raise ProbeUnavailable(str(exc)) from exc

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await _close_quietly(pool)


async def _close_quietly(pool: Any) -> None:
    try:
        await asyncio.wait_for(pool.close(), 5)
    except Exception:  # the connections are gone already
        pool.terminate()
