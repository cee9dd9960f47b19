"""A gate that makes racing requests really race.

Requests sent "at once" from a test do not reach the database at once: they queue for
connections, pools and locks, and a fast winner may commit before the others start. The
gate holds the lock every contender needs — the order's row lock on PostgreSQL, the
database's write lock on SQLite — while the contenders are sent, so they all pile up
inside the server; then it lets them go at the same moment. What the test asserts
afterwards is what the contenders did while racing for real.

Proof that they overlapped, kept by the gate for the test to assert:
* no contender was answered before the gate opened, and every one had reached a server
  before it opened: its answer came less than its ``Server-Timing`` duration after the
  opening (so all of them were inside the servers at once, waiting for the same lock);
* on PostgreSQL, the number of server transactions that were waiting on a lock when the
  gate opened (they were inside their transactions together).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from sqlalchemy.engine import make_url

T = TypeVar("T")

WAITING = """
    SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()
"""


def server_seconds(response: Any) -> float:
    """How long the server worked on a response, from its ``Server-Timing`` header."""
    found = re.search(r"dur=([0-9.]+)", response.headers.get("server-timing", ""))
    assert found, f"no Server-Timing in the answer to {response.request.url}"
    return float(found.group(1)) / 1000


@dataclass
class Timed:
    sent: float
    answered: float
    result: Any


@dataclass
class Gate:
    """Held while the block runs; ``contend`` sends through it; ``open`` lets go."""

    url: str
    row: tuple[str, str, object] | None
    """(table, column, value) of the row every contender locks, on PostgreSQL."""
    opened_at: float | None = None
    waiting_at_open: int | None = None
    _pg: asyncpg.Connection | None = None
    _sqlite: sqlite3.Connection | None = None
    timed: list[Timed] = field(default_factory=list)

    async def _hold(self) -> None:
        url = make_url(self.url)
        if url.get_backend_name() == "postgresql":
            self._pg = await asyncpg.connect(
                host=url.host or "127.0.0.1", port=url.port or 5432,
                user=url.username or "postgres", password=url.password,
                database=url.database)
            await self._pg.execute("BEGIN")
            assert self.row is not None, "on PostgreSQL the gate locks a row"
            table, column, value = self.row
            locked = await self._pg.fetchval(
                f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {column} = $1 "  # noqa: S608
                "FOR UPDATE) r", value)
            assert locked == 1, f"no {table} row with {column} {value} to hold"
        else:
            # Waits up to 10 s for a writer under way; then holds the write lock.
            self._sqlite = sqlite3.connect(url.database or "", timeout=10,
                                           isolation_level=None)
            self._sqlite.execute("BEGIN IMMEDIATE")

    async def _release(self) -> None:
        if self._pg is not None:
            await self._pg.execute("COMMIT")
            await self._pg.close()
            self._pg = None
        if self._sqlite is not None:
            self._sqlite.execute("ROLLBACK")
            self._sqlite.close()
            self._sqlite = None

    async def _waiting(self) -> int:
        assert self._pg is not None
        # The gate's transaction would otherwise read the statistics snapshot it took the
        # first time (PostgreSQL caches it per transaction) and never see later arrivals.
        await self._pg.execute("SELECT pg_stat_clear_snapshot()")
        return int(await self._pg.fetchval(WAITING))

    async def contend(self, requests: list[Awaitable[T]], *, expected_waiters: int = 2,
                      settle: float = 2.0) -> list[T]:
        """Send every request, wait until they are stuck behind the gate (``settle``
        seconds; on PostgreSQL until ``expected_waiters`` transactions wait on a lock, or
        at most 10 s), open it, and return the answers in order."""
        async def timed(request: Awaitable[T]) -> Timed:
            sent = time.monotonic()
            result = await request
            return Timed(sent, time.monotonic(), result)

        tasks = [asyncio.ensure_future(timed(request)) for request in requests]
        if self._pg is None:
            await asyncio.sleep(settle)
        else:
            deadline = time.monotonic() + 10.0
            seen: list[int] = []
            while time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                seen.append(await self._waiting())
                # Enough of them wait, and no more have arrived for a few polls.
                if seen[-1] >= expected_waiters and len(set(seen[-4:])) == 1 \
                        and len(seen) >= 4:
                    break
        if self._pg is not None:
            self.waiting_at_open = await self._waiting()
        self.opened_at = time.monotonic()
        await self._release()
        self.timed = list(await asyncio.gather(*tasks))
        return [t.result for t in self.timed]

    def assert_overlapped(self, minimum: int = 2) -> None:
        """Every contender was in flight when the gate opened, none was answered
        before; on PostgreSQL at least ``minimum`` transactions were waiting at once."""
        assert self.opened_at is not None, "the gate never opened"
        early = [t for t in self.timed if t.answered < self.opened_at]
        assert not early, f"{len(early)} contender(s) were answered before the gate opened"
        late = [t for t in self.timed if t.sent > self.opened_at]
        assert not late, f"{len(late)} contender(s) were sent after the gate opened"
        outside = [t for t in self.timed
                   if t.answered - server_seconds(t.result) >= self.opened_at]
        assert not outside, (f"{len(outside)} of {len(self.timed)} contender(s) reached a "
                             "server only after the gate opened")
        if self.waiting_at_open is not None:
            assert self.waiting_at_open >= minimum, (
                f"only {self.waiting_at_open} transaction(s) waited at the gate")


@asynccontextmanager
async def gate(url: str, order_id: str | UUID | None = None, *,
               row: tuple[str, str, object] | None = None) -> AsyncIterator[Gate]:
    """Hold the gate for the block: on PostgreSQL the row lock of the order ``order_id``
    (or of another ``row``: table, column, value) that every contender needs; on SQLite
    the write lock."""
    if order_id is not None:
        row = ("orders", "id", UUID(str(order_id)))
    held = Gate(url, row)
    await held._hold()
    try:
        yield held
    finally:
        await held._release()
