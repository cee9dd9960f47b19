"""The database handle every service receives: an engine and transaction scopes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction
from sqlalchemy.sql import Select

from kasse.adapters.db.engine import SQLITE_BUSY_MS, WRITE_OPTION, create_engine
from kasse.adapters.db.probe import PostgresProbe, ProbeUnavailable, SqliteProbe

LOCK_WAIT_SECONDS = 10.0
"""How long a writer waits for SQLite's write lock held by another process."""


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
        async with self._writers or nullcontext(), self.engine.connect() as conn:
            await conn.execution_options(**{WRITE_OPTION: True})
            transaction = await self._begin(conn)
            try:
                yield conn
            except BaseException:
                await transaction.rollback()
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
        async with self.engine.connect() as conn:
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
