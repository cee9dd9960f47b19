"""PostgreSQL's connections cut under load (a restart, a failover, an administrator ending
backends): every request that fails says so with a 503 a client may retry, never a 500,
reads are run again on a fresh connection, and the server serves normally afterwards."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from kasse.adapters.db.database import Database
from kasse.adapters.db.outage import connection_lost, unavailable
from kasse.adapters.db.storage import SqlStorage
from kasse.adapters.db.webhook_repository import on_outbox_commit
from kasse.domain.audit import COMMAND_LINE
from kasse.services.catalog import StoreDirectory
from kasse.services.stock import StockBook
from tests.conftest import API_KEY
from tests.integration.conftest import serving

BASE = "/umbraco/commerce/storefront/api"
HEADERS = {"Api-Key": API_KEY, "Store": "demo"}
SHOPPERS = 8
CUTS = 5
PROBLEM_JSON = "application/problem+json"


class Failure(Exception):
    """What went wrong inside a transaction, as far as the caller knows."""


def test_a_lost_connection_is_the_error_a_transaction_reports(empty_db_url: str,
                                                              engine_kind: str) -> None:
    """Rolling back a transaction whose connection is gone runs the outbox listener on an
    invalidated connection; the error that lost it must still be the one raised."""
    async def go() -> None:
        db = Database.from_url(empty_db_url)
        woken: list[bool] = []
        stop = on_outbox_commit(db.engine, lambda: woken.append(True))
        try:
            with pytest.raises(Failure):
                async with db.transaction() as conn:
                    await conn.execute(text("SELECT 1"))
                    await conn.invalidate()  # as the driver does when it finds it lost
                    raise Failure("the connection was lost")
            if engine_kind == "postgresql":
                with pytest.raises(DBAPIError) as raised:
                    async with db.transaction() as conn:
                        await conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
                assert connection_lost(raised.value) and unavailable(raised.value)
            async with db.transaction() as conn:  # the next transaction is served
                assert (await conn.execute(text("SELECT 2"))).scalar() == 2
            assert woken == []  # nothing was written to the outbox
        finally:
            stop()
            await db.dispose()

    asyncio.run(go())


def test_a_database_that_cannot_be_reached_is_unavailable() -> None:
    """However the driver says that no connection could be opened (here: a refused
    socket), it is the database being unavailable, never an unexpected error."""
    async def go() -> None:
        db = Database.from_url("postgresql://kasse@127.0.0.1:1/kasse")
        try:
            for scope in (db.read(), db.transaction()):
                with pytest.raises(OperationalError) as raised:
                    async with scope:
                        pass
                assert unavailable(raised.value)
        finally:
            await db.dispose()

    asyncio.run(go())


async def _end_connections(db_url: str) -> int:
    """Ends every connection to the test database but this one, as an administrator
    would (``pg_terminate_backend``)."""
    import asyncpg

    u = make_url(db_url)
    conn = await asyncpg.connect(host=u.host, port=u.port, user=u.username,
                                 password=u.password, database=u.database)
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return len(rows)
    finally:
        await conn.close()


@dataclass
class Traffic:
    answers: list[tuple[str, httpx.Response]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    """Requests the server closed the connection on instead of answering."""

    def failed(self) -> list[tuple[str, httpx.Response]]:
        return [(what, r) for what, r in self.answers if r.status_code >= 500]


async def _shop(http: httpx.AsyncClient, until: float, traffic: Traffic) -> None:
    """A storefront's requests until ``until``: create a cart, add to it, read it, choose
    the methods and start a hosted checkout. A step that fails is skipped."""

    async def call(method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        what = f"{method} {url}"
        try:
            response = await http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            traffic.dropped.append(f"{what}: {exc!r}")
            return None
        traffic.answers.append((what, response))
        return response

    def ok(response: httpx.Response | None) -> bool:
        return response is not None and response.status_code == 200

    while time.monotonic() < until:
        created = await call("POST", f"{BASE}/v1/orders", json={})
        if created is None or not ok(created):
            continue
        order_id = created.json()["id"]
        order = f"{BASE}/v1/order/{order_id}"
        added = await call("POST", order, json={"productReference": "trail-map",
                                                "quantity": 1})
        for _ in range(4):
            await call("GET", order)
        if not ok(added):
            continue
        if ok(await call("PATCH", order, json={"paymentMethod": "card",
                                               "shippingMethod": "standard"})):
            await call("GET", f"{BASE}/v1/checkout/{order_id}/token",
                       headers={"Api-Key": ""})
        await call("GET", order)


async def _under_fire(server: str, db_url: str) -> tuple[Traffic, int]:
    """Shoppers at work while every connection to the database is ended, ``CUTS`` times
    0.4 s apart; returns what they saw and how many connections were ended."""
    traffic = Traffic()
    async with httpx.AsyncClient(base_url=server, headers=HEADERS, timeout=30) as http:
        until = time.monotonic() + 0.3 + CUTS * 0.4
        shoppers = [asyncio.create_task(_shop(http, until, traffic))
                    for _ in range(SHOPPERS)]
        ended = 0
        await asyncio.sleep(0.3)
        for _ in range(CUTS):
            ended += await _end_connections(db_url)
            await asyncio.sleep(0.4)
        await asyncio.gather(*shoppers)
    return traffic, ended


def _complaints(log: str) -> list[str]:
    """The server's error and warning lines, each with the last line of its traceback."""
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [f"{line['message']} {line.get('error', '').strip().splitlines()[-1:]}"
            for line in lines if line["level"] in ("error", "warning")]


def _assert_served_normally(server: str) -> None:
    with httpx.Client(base_url=server, headers=HEADERS, timeout=30) as http:
        created = http.post(f"{BASE}/v1/orders", json={})
        assert created.status_code == 200, created.text
        order = f"{BASE}/v1/order/{created.json()['id']}"
        added = http.post(order, json={"productReference": "trail-map", "quantity": 2})
        assert added.status_code == 200, added.text
        read = http.get(order)
        assert read.status_code == 200, read.text
        assert read.json()["totalQuantity"] == 2


async def _deliver(db_url: str, item: str, units: Decimal) -> None:
    db = Database.from_url(db_url)
    try:
        storage = SqlStorage(db)
        config = await StoreDirectory(storage).get("demo")
        await StockBook(storage).adjust(config, item, reason="received", actor=COMMAND_LINE,
                                        change=units, note="delivery for the test")
    finally:
        await db.dispose()


def test_lost_database_connections_are_503s_and_the_server_recovers(
        demo_db_url: str, engine_kind: str, tmp_path: Path) -> None:
    if engine_kind != "postgresql":
        pytest.skip("ending the server's connections is a PostgreSQL scenario")
    # Every shopper's checkout holds a map for its hold time and none pays: a delivery
    # keeps the maps from running out while they shop.
    asyncio.run(_deliver(demo_db_url, "trail-map", Decimal(10_000)))
    with serving(demo_db_url, tmp_path, workers=1) as server:
        traffic, ended = asyncio.run(_under_fire(server, demo_db_url))
        complaints = _complaints((tmp_path / "server.log").read_text())
        assert ended >= CUTS, "no connection was ended"
        assert traffic.dropped == [], complaints
        failed = traffic.failed()
        assert [(what, r.status_code) for what, r in failed if r.status_code != 503] == [], \
            complaints
        for _what, response in failed:
            assert response.headers["content-type"].startswith(PROBLEM_JSON)
            assert response.headers["retry-after"] == "1"
            assert response.json()["type"] == "urn:kasse:problem:database-unavailable"
        # A cart read whose connection is ended under it is read again on a fresh one.
        reads = [r.status_code for what, r in traffic.answers
                 if what.startswith(f"GET {BASE}/v1/order/")]
        assert reads and set(reads) == {200}, complaints
        _assert_served_normally(server)
