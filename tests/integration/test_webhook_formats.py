"""Endpoints in either signing format against the real database and a real HTTP receiver:
Standard Webhooks requests that the ``standardwebhooks`` package (a receiver's side)
accepts, kasse's own format unchanged beside them, and endpoints from before the choice
still signing as before after the migration."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import JSON, Boolean, Column, DateTime, MetaData, String, Table, Uuid, insert
from standardwebhooks import Webhook, WebhookVerificationError

from kasse.adapters.db.engine import create_engine
from kasse.adapters.db.migrate import alembic_config, upgrade
from kasse.adapters.db.tables import metadata
from kasse.adapters.db.webhook_repository import SqlWebhookStorage
from kasse.adapters.http.webhook_sender import HttpWebhookSender
from kasse.adapters.http.webhook_signature import verify
from kasse.domain.webhooks import WebhookFormat
from kasse.services.webhooks import WebhookDeliveries
from tests.conftest import PG_ENV, PostgresServer, _import_demo
from tests.integration.test_webhook_delivery import (
    Clock,
    database,
    demo_store_id,
    endpoints_of,
    record_events,
)
from tests.integration.webhook_receiver import Received, Receiver

KASSE_SECRET = "whsec_for-the-tests-0123456789"


async def deliver_due(db: Any, clock: Clock) -> None:
    """One worker round with the real HTTP sender."""
    async with HttpWebhookSender() as sender:
        await WebhookDeliveries(SqlWebhookStorage(db), sender, worker="w1", clock=clock,
                                rand=lambda: 0.0).run_once()


def assert_standard(received: Received, secret: str) -> None:
    """Accepted by the receivers' library; refused once anything is changed."""
    assert Webhook(secret).verify(received.body, received.headers) == received.json
    assert received.headers["webhook-id"] == received.json["id"]
    assert "kasse-signature" not in received.headers
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(received.body.replace(b'"data":{', b'"data":{"x":1,'),
                               received.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(received.body, received.headers)


def test_each_endpoint_is_signed_in_its_own_format(demo_db_url: str) -> None:
    async def scenario() -> tuple[str, list[Received], list[Received]]:
        with Receiver().running() as standard, Receiver().running() as kasse:
            async with database(demo_db_url) as db:
                clock = Clock(datetime.now(UTC))
                endpoints = endpoints_of(db, clock)
                added = await endpoints.add(standard.url, "*",
                                            format=WebhookFormat.STANDARD)
                await endpoints.add(kasse.url, "*", secret=KASSE_SECRET)
                listed = {item.endpoint.url: item.endpoint.format
                          for item in await endpoints.all()}
                assert listed == {standard.url: WebhookFormat.STANDARD,
                                  kasse.url: WebhookFormat.KASSE}
                await record_events(db, await demo_store_id(db), at=clock())
                await deliver_due(db, clock)
                return added.secret, standard.wait_for(1), kasse.wait_for(1)

    secret, (standard,), (kasse,) = asyncio.run(scenario())
    assert_standard(standard, secret)
    assert verify(KASSE_SECRET, kasse.body, kasse.headers["kasse-signature"])
    assert not any(name.startswith("webhook-") for name in kasse.headers)
    assert standard.body == kasse.body  # the same document in either format
    assert standard.event_id == kasse.event_id == standard.headers["webhook-id"]


def test_a_retried_event_keeps_its_webhook_id(demo_db_url: str) -> None:
    async def scenario() -> tuple[str, list[Received]]:
        with Receiver(answers=[503]).running() as receiver:
            async with database(demo_db_url) as db:
                clock = Clock(datetime.now(UTC))
                added = await endpoints_of(db, clock).add(receiver.url, "*",
                                                          format=WebhookFormat.STANDARD)
                await record_events(db, await demo_store_id(db), at=clock())
                await deliver_due(db, clock)
                clock.advance(minutes=1)  # past the first retry's wait
                await deliver_due(db, clock)
                return added.secret, receiver.wait_for(2)

    secret, (first, second) = asyncio.run(scenario())
    assert [first.status, second.status] == [503, 200]
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == first.event_id
    assert first.body == second.body
    assert [first.headers["kasse-delivery-attempt"],
            second.headers["kasse-delivery-attempt"]] == ["1", "2"]
    for received in (first, second):
        assert_standard(received, secret)


# --- endpoints from before the choice ---------------------------------------------------

# webhook_endpoints as migrations 0005 and 0006 left it.
OLD_ENDPOINTS = Table(
    "webhook_endpoints", MetaData(),
    Column("id", Uuid, primary_key=True), Column("url", String(2000)),
    Column("secret", String(200)), Column("events", JSON), Column("store_id", Uuid),
    Column("active", Boolean), Column("created_at", DateTime(timezone=True)))


@pytest.fixture
def blank_db_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own, not migrated at all (it is taken through the revisions)."""
    server_url = os.environ.get(PG_ENV)
    if not server_url:
        yield f"sqlite:///{tmp_path / 'older.db'}"
        return
    server = PostgresServer(server_url)
    server.create()
    try:
        yield server.url
    finally:
        server.drop()


async def downgrade(url: str, revision: str) -> None:
    engine = create_engine(url)

    def run(connection: Any) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def schema_drift(url: str) -> list[Any]:
    """What autogenerate would change in webhook_endpoints: nothing, when the table
    definition and the migrations agree."""
    engine = create_engine(url)

    def compare(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [diff for diff in compare_metadata(context, metadata)
                if "webhook_endpoints" in repr(diff)]

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


def test_an_endpoint_from_before_the_migration_keeps_kasse_s_format(blank_db_url: str
                                                                       ) -> None:
    async def scenario() -> Received:
        await upgrade(blank_db_url, "0006")
        with Receiver().running() as receiver:
            async with database(blank_db_url) as db, db.transaction() as conn:
                await conn.execute(insert(OLD_ENDPOINTS).values(
                    id=uuid4(), url=receiver.url, secret=KASSE_SECRET, events=["*"],
                    store_id=None, active=True,
                    created_at=datetime.now(UTC) - timedelta(minutes=1)))
            await upgrade(blank_db_url)
            assert await schema_drift(blank_db_url) == []
            await _import_demo(blank_db_url)
            async with database(blank_db_url) as db:
                (listed,) = await endpoints_of(db, Clock()).all()
                assert listed.endpoint.format is WebhookFormat.KASSE
                clock = Clock(datetime.now(UTC))
                await record_events(db, await demo_store_id(db), at=clock())
                await deliver_due(db, clock)
            (received,) = receiver.wait_for(1)
        # Back to 0006 and up again: the endpoint stays, in the same format.
        await downgrade(blank_db_url, "0006")
        await upgrade(blank_db_url)
        async with database(blank_db_url) as db:
            (listed,) = await endpoints_of(db, Clock()).all()
            assert listed.endpoint.format is WebhookFormat.KASSE
        return received

    received = asyncio.run(scenario())
    assert verify(KASSE_SECRET, received.body, received.headers["kasse-signature"])
    assert not any(name.startswith("webhook-") for name in received.headers)
