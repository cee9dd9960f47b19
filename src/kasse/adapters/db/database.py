"""The database handle every service receives: an engine and transaction scopes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction
from sqlalchemy.sql import Select

from kasse.adapters.db.engine import SQLITE_BUSY_MS, WRITE_OPTION, create_engine
from kasse.adapters.db.outage import connection_lost
from kasse.adapters.db.probe import PostgresProbe, ProbeUnavailable, SqliteProbe
from kasse.domain.errors import ConcurrentUpdate

LOCK_WAIT_SECONDS = 10.0
"""How long a writer waits for SQLite's write lock held by another process."""

log = logging.getLogger("kasse.db")


RACE_STATES = frozenset({"40P01", "40001"})
"""PostgreSQL's deadlock_detected and serialization_failure: the transaction lost a race
and was rolled back; running it again is safe and will usually succeed."""


def _lost_a_race(exc: DBAPIError) -> bool:
    for error in (exc.orig, getattr(exc.orig, "__cause__", None)):
        state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if state in RACE_STATES:
            return True
    return False


class _Connection(AsyncConnection):
    """An engine connection whose failure to open is always an ``OperationalError``.

    The PostgreSQL driver raises what it met while connecting as it is (a refused socket,
    the server starting up or out of connections, a connection ended during its set-up);
    every one of them means that the database cannot be reached now.
    """

    async def start(self, is_ctxmanager: bool = False) -> AsyncConnection:
        try:
            return await super().start(is_ctxmanager)
        except DBAPIError:
            raise
        except Exception as exc:
            raise _unreachable(exc) from exc


class _ReadConnection(_Connection):
    """A connection that only reads: a statement that finds the connection lost (ended by
    the server or an administrator, say) runs once more, on a fresh connection, and losing
    it once the reading is done is no failure of the read.

    Reads never write, and on PostgreSQL (READ COMMITTED) each statement sees what was
    committed when it started: running it again on another connection is no different
    from having run it a moment later on this one.
    """

    async def execute(self, statement: Any, parameters: Any = None, *,
                      execution_options: Any = None) -> Any:
        try:
            return await super().execute(statement, parameters,
                                         execution_options=execution_options)
        except DBAPIError as exc:
            if not connection_lost(exc):
                raise
            log.warning("connection lost during a read (%s); reading again on a fresh "
                        "connection", exc.orig)
        await self.invalidate()  # a driver state that broke may not have closed it
        await self.rollback()  # the lost transaction; the connection may reconnect now
        try:
            await self.get_raw_connection()
        except DBAPIError:
            raise
        except Exception as exc:
            raise _unreachable(exc) from exc
        return await super().execute(statement, parameters,
                                     execution_options=execution_options)

    async def close(self) -> None:
        try:
            await super().close()
        except DBAPIError as exc:
            if not connection_lost(exc):
                raise
            # The read has its answer; the transaction that could not be ended held
            # nothing to lose, and the pool discards the connection it cannot reset.


def _unreachable(exc: Exception) -> OperationalError:
    return OperationalError("connect", None, exc)


class Database:
    """Owns the engine; ``transaction()`` is the unit of work, ``read()`` for queries."""

    def __init__(self, engine: AsyncEngine, *, lock_wait: float = LOCK_WAIT_SECONDS) -> None:
        self.engine = engine
        self.lock_wait = lock_wait
        # SQLite has one writer at a time. Writers of this process queue here, so that
        # only one per process waits on the file lock (where waits are bounded by the
        # busy timeout) instead of every concurrent request.
        self._writers = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        database = engine.url.database
        self._probe = (SqliteProbe(database, engine.dialect, SQLITE_BUSY_MS)
                       if self._writers is not None and database and database != ":memory:"
                       else None)
        self._pg_probe = (PostgresProbe(engine.url, engine.dialect)
                          if engine.dialect.driver == "asyncpg" else None)

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 10) -> Database:
        return cls(create_engine(url, pool_size=pool_size))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """Commit on success, roll back on any exception. On SQLite it holds the write lock."""
        async with self._writers or nullcontext(), _Connection(self.engine) as conn:
            await conn.execution_options(**{WRITE_OPTION: True})
            transaction = await self._begin(conn)
            try:
                yield conn
            except DBAPIError as exc:
                await _roll_back(transaction)
                if _lost_a_race(exc):  # rolled back: the unit of work may run again
                    raise ConcurrentUpdate("the database chose this transaction to give way "
                                           "to a concurrent one") from exc
                raise
            except BaseException:
                await _roll_back(transaction)
                raise
            await transaction.commit()

    async def _begin(self, conn: AsyncConnection) -> AsyncTransaction:
        """BEGIN; while another process holds SQLite's write lock, wait without blocking
        the event loop, up to ``lock_wait`` seconds (then the error stands: a 503)."""
        if self._writers is None:
            return await conn.begin()
        deadline = time.monotonic() + self.lock_wait
        pause = 0.001
        while True:
            try:
                return await conn.begin()
            except OperationalError as exc:
                if "locked" not in str(exc.orig) or time.monotonic() + pause > deadline:
                    raise
            await conn.rollback()  # leaves the connection ready for the next attempt
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only; a statement whose connection is lost under it is
        run once more on a fresh one, so that a reader seldom notices."""
        async with _ReadConnection(self.engine) as conn:
            yield conn

    async def scalar(self, statement: Select[Any], params: Mapping[str, Any]) -> Any:
        """One value of a small, frequent read (see ``probe``): the first column of the
        first row, or ``None``."""
        if self._probe is not None:
            return self._probe.scalar(statement, params)
        if self._pg_probe is not None:
            try:
                return await self._pg_probe.scalar(statement, params)
            except ProbeUnavailable:
                pass  # the engine's pool may have a way through; it raises if not
        async with self.read() as conn:
            return (await conn.execute(statement, params)).scalar()

    async def dispose(self) -> None:
        if self._probe is not None:
            self._probe.close()
        if self._pg_probe is not None:
            await self._pg_probe.close()
        await self.engine.dispose()


async def _roll_back(transaction: AsyncTransaction) -> None:
    """Roll back after a failure, never hiding it: when the rollback fails too (the
    connection being gone, say), the failure that caused it is the one to report; the
    pool discards a connection it cannot reset."""
    try:
        await transaction.rollback()
    except Exception as exc:
        log.warning("rollback after a failure failed as well: %r", exc)
