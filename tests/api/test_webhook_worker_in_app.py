"""The webhook worker inside the app: it starts and stops with it, and an order finalized
through the API wakes it at once rather than at its next poll."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from fastapi.testclient import TestClient

from kasse.adapters.db.database import Database
from kasse.adapters.db.webhook_repository import SqlWebhookStorage
from kasse.api.app import create_app
from kasse.services.webhook_endpoints import WebhookEndpoints
from tests.api.conftest import make_settings
from tests.api.test_inline_checkout import JACKET_TOTAL, confirm, initialize, jacket_cart, ok
from tests.conftest import API_KEY
from tests.integration.webhook_receiver import Receiver


def register(db_url: str, url: str) -> None:
    async def go() -> None:
        db = Database.from_url(db_url)
        try:
            await WebhookEndpoints(SqlWebhookStorage(db)).add(url, "order.finalized",
                                                              secret="s" * 16)
        finally:
            await db.dispose()
    asyncio.run(go())


def place_order(client: TestClient) -> str:
    order_id = jacket_cart(client)
    initialize(client, order_id)
    ok(confirm(client, order_id, JACKET_TOTAL))
    return order_id


def test_an_order_placed_wakes_the_worker(demo_db_url: str, tmp_path: Path) -> None:
    # A poll a minute apart: only the wake-up after the commit can deliver it in time.
    app = create_app(make_settings(demo_db_url, tmp_path, webhook_poll_seconds=60))
    with Receiver().running() as receiver:
        register(demo_db_url, receiver.url)
        with TestClient(app, headers={"Api-Key": API_KEY, "Store": "demo"}) as client:
            time.sleep(0.3)  # the worker's first round is over; it waits for a minute
            order_id = place_order(client)
            (received,) = receiver.wait_for(1, timeout=10)
    assert received.json["data"]["orderId"] == order_id


def test_the_worker_can_be_left_to_separate_processes(demo_db_url: str,
                                                      tmp_path: Path) -> None:
    app = create_app(make_settings(demo_db_url, tmp_path, webhook_worker=False,
                                   webhook_poll_seconds=0.1))
    with Receiver().running() as receiver:
        register(demo_db_url, receiver.url)
        with TestClient(app, headers={"Api-Key": API_KEY, "Store": "demo"}) as client:
            place_order(client)
            time.sleep(1)
        assert receiver.requests() == []
