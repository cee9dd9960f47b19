"""An order's version, read on every cart read, comes from the probe's own connection
(SQLite) or pool (PostgreSQL). It must answer what is stored, and keep answering when
those connections are cut, as when PostgreSQL restarts or an administrator ends them."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from kasse.adapters.db.database import Database
from kasse.adapters.db.order_repository import VERSION
from kasse.adapters.db.probe import PROBE_APPLICATION_NAME, PostgresProbe, ProbeUnavailable
from kasse.adapters.db.storage import SqlStorage
from kasse.domain.session import SessionHeaders, resolve_session
from kasse.services.catalog import StoreDirectory
from kasse.services.orders import AddProduct, NewOrder, Orders


async def _cut_probe_connections(db: Database) -> int:
    async with db.transaction() as conn:
        ended = await conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = :name AND datname = current_database()"),
            {"name": PROBE_APPLICATION_NAME})
        return len(ended.all())


def test_the_version_read_follows_every_change_and_survives_lost_connections(
        demo_db_url: str, engine_kind: str) -> None:
    async def go() -> None:
        db = Database.from_url(demo_db_url)
        try:
            storage = SqlStorage(db)
            config = await StoreDirectory(storage).get("demo")
            orders = Orders(storage)
            session = resolve_session(config, SessionHeaders())
            order = (await orders.create(config, session, NewOrder())).order
            store_id = config.store.id
            assert await storage.order_version(store_id, order.id) == order.version

            added = await orders.add_product(config, order.id,
                                             AddProduct("trail-map", quantity=Decimal(1)))
            assert added.order.version == order.version + 1
            assert await storage.order_version(store_id, order.id) == added.order.version
            # another store's id, or an order that does not exist, has no version
            assert await storage.order_version(uuid4(), order.id) is None
            assert await storage.order_version(store_id, uuid4()) is None

            if engine_kind == "postgresql":
                assert await _cut_probe_connections(db) >= 1
                # the read right after answers through the engine; later ones through
                # the probe's pool again, opened anew
                for _ in range(3):
                    assert (await storage.order_version(store_id, order.id)
                            == added.order.version)
                assert await _cut_probe_connections(db) >= 1

                # A probe that cannot reach the server says so, and the read goes
                # through the engine's pool instead.
                unreachable = PostgresProbe(make_url(demo_db_url).set(port=1),
                                            db.engine.dialect)
                with pytest.raises(ProbeUnavailable):
                    await unreachable.scalar(VERSION, {"b_id": order.id,
                                                       "b_store_id": store_id})
                db._pg_probe = unreachable
                assert await storage.order_version(store_id, order.id) == added.order.version
        finally:
            await db.dispose()

    asyncio.run(go())
