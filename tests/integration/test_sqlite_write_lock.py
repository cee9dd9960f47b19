"""SQLite statements run on the event loop's thread; waiting for another process's write
lock must neither stall the loop nor fail a writer that would get the lock in time."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from kasse.adapters.db.database import Database

# Another process takes the write lock, says so, holds it, then commits.
HOLDER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("INSERT INTO marks (who) VALUES ('holder')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


def _prepare(path: Path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE marks (n INTEGER PRIMARY KEY, who TEXT NOT NULL)")
    db.close()


def _hold_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


async def _write_while_ticking(db: Database) -> tuple[float, int, float]:
    """Write once while a ticker counts; the longest gap between ticks shows a stall."""
    ticks = 0
    longest_gap = 0.0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks, longest_gap
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.monotonic()
            longest_gap = max(longest_gap, now - last)
            last = now
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    try:
        async with db.transaction() as conn:
            await conn.execute(text("INSERT INTO marks (who) VALUES ('kasse')"))
    finally:
        waited = time.monotonic() - started
        stop.set()
        await task
    return waited, ticks, longest_gap


def test_a_writer_waits_for_another_process_without_stalling_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    _prepare(path)
    holder = _hold_lock(path, 0.6)

    async def scenario() -> tuple[float, int, float, list[str]]:
        db = Database.from_url(f"sqlite:///{path}")
        try:
            waited, ticks, gap = await _write_while_ticking(db)
            async with db.read() as conn:
                order = [r.who for r in await conn.execute(
                    text("SELECT who FROM marks ORDER BY n"))]
        finally:
            await db.dispose()
        return waited, ticks, gap, order

    waited, ticks, gap, order = asyncio.run(scenario())
    assert holder.wait(timeout=10) == 0
    assert order == ["holder", "kasse"]  # it waited for the other writer, then wrote
    assert waited >= 0.4
    assert ticks >= 20 and gap < 0.2  # the loop kept running while it waited


def test_a_writer_gives_up_with_a_database_error_after_the_lock_wait(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    _prepare(path)
    holder = _hold_lock(path, 2.0)

    async def scenario() -> None:
        db = Database(Database.from_url(f"sqlite:///{path}").engine, lock_wait=0.3)
        try:
            with pytest.raises(OperationalError, match="locked"):
                async with db.transaction() as conn:
                    await conn.execute(text("INSERT INTO marks (who) VALUES ('kasse')"))
            # Nothing was written, and the connection is fine for the next request.
            assert holder.wait(timeout=10) == 0
            async with db.transaction() as conn:
                await conn.execute(text("INSERT INTO marks (who) VALUES ('later')"))
            async with db.read() as conn:
                rows = [r.who for r in await conn.execute(
                    text("SELECT who FROM marks ORDER BY n"))]
            assert rows == ["holder", "later"]
        finally:
            await db.dispose()

    asyncio.run(scenario())
