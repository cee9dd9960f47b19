"""Concurrent changes to one order lose nothing: in one process, across two server
processes, and when a stale copy of the order is saved."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.api.app import create_app
from kasse.domain.errors import ConcurrentUpdate
from kasse.domain.session import SessionHeaders, resolve_session
from kasse.services.catalog import StoreDirectory
from kasse.services.orders import AddProduct, NewOrder, Orders
from tests.api.conftest import make_settings
from tests.conftest import API_KEY

BASE = "/umbraco/commerce/storefront/api"
HEADERS = {"Api-Key": API_KEY, "Store": "demo"}
CONCURRENT = 20


async def _hammer(http: httpx.AsyncClient) -> tuple[dict[str, object], list[int]]:
    """Create a cart, then add one water bottle in 20 concurrent requests."""
    created = await http.post(f"{BASE}/v1/orders", json={})
    assert created.status_code == 200, created.text
    order_id = created.json()["id"]

    async def add() -> int:
        response = await http.post(f"{BASE}/v1/order/{order_id}",
                                   json={"productReference": "water-bottle", "quantity": 1})
        return response.status_code

    statuses = await asyncio.gather(*(add() for _ in range(CONCURRENT)))
    final = await http.get(f"{BASE}/v1/order/{order_id}")
    assert final.status_code == 200
    body: dict[str, object] = final.json()
    return body, list(statuses)


def _assert_all_counted(order: dict[str, object], statuses: list[int]) -> None:
    assert statuses == [200] * CONCURRENT
    lines = order["orderLines"]
    assert isinstance(lines, list) and len(lines) == 1
    assert lines[0]["quantity"] == CONCURRENT
    assert order["totalQuantity"] == CONCURRENT


def test_concurrent_adds_in_one_process_are_all_counted(demo_db_url: str,
                                                         tmp_path: Path) -> None:
    async def scenario() -> tuple[dict[str, object], list[int]]:
        app = create_app(make_settings(demo_db_url, tmp_path))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://kasse",
                                         headers=HEADERS) as http:
                return await _hammer(http)

    _assert_all_counted(*asyncio.run(scenario()))


def test_concurrent_adds_across_two_server_processes_are_all_counted(server: str) -> None:
    async def scenario() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server, headers=HEADERS, timeout=30) as http:
            _assert_all_counted(*await _hammer(http))
            return await asyncio.gather(*(http.post(f"{BASE}/v1/orders", json={})
                                          for _ in range(CONCURRENT)))

    created = asyncio.run(scenario())
    assert all(response.status_code == 200 for response in created)
    numbers = [response.json()["cartNumber"] for response in created]
    assert len(set(numbers)) == CONCURRENT  # unique across both workers


def test_saving_a_stale_copy_is_refused_and_changes_nothing(demo_db_url: str) -> None:
    asyncio.run(_stale_copy(demo_db_url))


async def _stale_copy(demo_db_url: str) -> None:
    db = Database.from_url(demo_db_url)
    storage = SqlStorage(db)
    try:
        config = await StoreDirectory(storage).get("demo")
        orders = Orders(storage)
        created = await orders.create(config, resolve_session(config, SessionHeaders()),
                                      NewOrder())
        order_id: UUID = created.order.id
        async with storage.ordering(write=False) as unit:
            stale = await unit.orders.get(config.store.id, order_id)
        assert stale is not None

        await orders.add_product(config, order_id, AddProduct("water-bottle", Decimal(3)))

        stale.tags = ["overwritten"]
        with pytest.raises(ConcurrentUpdate):
            async with storage.ordering(write=True) as unit:
                await unit.orders.save(stale)

        current = await orders.get(config, order_id)
        assert current.order.tags == []
        assert [line.quantity for line in current.order.lines] == [Decimal(3)]
    finally:
        await db.dispose()


def test_a_second_writer_of_an_order_waits_for_the_first_and_sees_its_change(
        demo_db_url: str) -> None:
    """Writers of one order queue (PostgreSQL: the order's row lock; SQLite: the write
    lock) instead of both working on the same version and one of them retrying."""
    asyncio.run(_queueing_writers(demo_db_url))


async def _queueing_writers(demo_db_url: str) -> None:
    db = Database.from_url(demo_db_url)
    storage = SqlStorage(db)
    try:
        config = await StoreDirectory(storage).get("demo")
        created = await Orders(storage).create(
            config, resolve_session(config, SessionHeaders()), NewOrder())
        order_id = created.order.id
        first_has_it = asyncio.Event()
        release = asyncio.Event()

        async def first() -> None:
            async with storage.ordering(write=True) as unit:
                order = await unit.orders.get(config.store.id, order_id, for_update=True)
                assert order is not None
                first_has_it.set()
                await release.wait()
                order.tags = ["first"]
                await unit.orders.save(order)

        async def second() -> list[str]:
            async with storage.ordering(write=True) as unit:
                order = await unit.orders.get(config.store.id, order_id, for_update=True)
                assert order is not None
                seen = list(order.tags)
                order.tags = [*order.tags, "second"]
                await unit.orders.save(order)  # no conflict: it waited for the first
                return seen

        one = asyncio.create_task(first())
        await first_has_it.wait()
        two = asyncio.create_task(second())
        await asyncio.sleep(0.5)
        assert not two.done(), "the second writer got the order while the first held it"
        release.set()
        await one
        assert await two == ["first"]
        async with storage.ordering(write=False) as unit:
            final = await unit.orders.get(config.store.id, order_id)
        assert final is not None and final.tags == ["first", "second"]
    finally:
        await db.dispose()
