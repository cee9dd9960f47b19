"""The webhook use cases against the real database (SQLite or PostgreSQL): the relay of
outbox events into deliveries, claims and leases, retries until giving up. The sender is
a fake and the clock is moved by hand, so a day of retries takes no time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select

from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.adapters.db.tables import outbox_events, webhook_attempts, webhook_deliveries
from kasse.adapters.db.webhook_repository import SqlWebhookStorage
from kasse.domain.webhooks import AttemptOutcome, DeliveryStatus, WebhookMessage
from kasse.services.webhook_endpoints import WebhookEndpoints
from kasse.services.webhooks import WebhookDeliveries

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class FakeSender:
    """Answers with ``answers`` in turn (then 200), optionally after a pause."""

    answers: list[int | None] = field(default_factory=list)
    pause: float = 0.0
    sent: list[WebhookMessage] = field(default_factory=list)

    async def send(self, message: WebhookMessage) -> AttemptOutcome:
        self.sent.append(message)
        if self.pause:
            await asyncio.sleep(self.pause)
        status = self.answers.pop(0) if self.answers else 200
        if status is None:
            return AttemptOutcome(None, error="ConnectError: refused", duration_ms=3)
        return AttemptOutcome(status, body=f"answer {status}", duration_ms=7)


@asynccontextmanager
async def database(url: str) -> AsyncIterator[Database]:
    db = Database.from_url(url, pool_size=2)
    try:
        yield db
    finally:
        await db.dispose()


async def demo_store_id(db: Database) -> UUID:
    async with SqlWebhookStorage(db).webhooks(write=False) as repo:
        store_id = await repo.find_store("demo")
    assert store_id is not None
    return store_id


async def record_events(db: Database, store_id: UUID, count: int = 1,
                        topic: str = "order.finalized", at: datetime = T0) -> list[UUID]:
    """Outbox events written the way the services write them."""
    async with SqlStorage(db).ordering(write=True) as unit:
        for n in range(count):
            await unit.checkout.add_outbox_event(
                store_id=store_id, topic=topic, aggregate_id=uuid4(),
                payload={"orderNumber": f"ORDER-{n:05d}"}, at=at + timedelta(microseconds=n))
    async with db.read() as conn:
        rows = await conn.execute(select(outbox_events.c.id)
                                  .where(outbox_events.c.store_id == store_id)
                                  .order_by(outbox_events.c.created_at))
        return [row.id for row in rows]


async def rows(db: Database, table: Any, order: Any = None) -> list[dict[str, Any]]:
    async with db.read() as conn:
        statement = select(table)
        if order is not None:
            statement = statement.order_by(order)
        return [dict(row._mapping) for row in await conn.execute(statement)]


def deliveries_of(db: Database, sender: FakeSender, clock: Clock, worker: str = "w1",
                  **extra: Any) -> WebhookDeliveries:
    return WebhookDeliveries(SqlWebhookStorage(db), sender, worker=worker, clock=clock,
                             rand=lambda: 0.0, **extra)


def endpoints_of(db: Database, clock: Callable[[], datetime]) -> WebhookEndpoints:
    return WebhookEndpoints(SqlWebhookStorage(db), clock=clock)


def test_events_fan_out_to_the_endpoints_that_want_them(demo_db_url: str) -> None:
    async def scenario() -> None:
        async with database(demo_db_url) as db:
            store = await demo_store_id(db)
            endpoints = endpoints_of(db, lambda: T0 - timedelta(hours=1))
            for_demo = (await endpoints.add("http://127.0.0.1:9/a", "order.finalized",
                                            store="demo")).endpoint.id
            for_all = (await endpoints.add("http://127.0.0.1:9/b", "order.finalized")
                       ).endpoint.id
            await endpoints.add("http://127.0.0.1:9/c", "*", active=False)
            await endpoints.add("http://127.0.0.1:9/d", "order.payment_failed")
            later = endpoints_of(db, lambda: T0 + timedelta(hours=1))
            await later.add("http://127.0.0.1:9/e", "*")  # added after the events

            (finalized,) = await record_events(db, store)
            (elsewhere,) = await record_events(db, uuid4())
            (unwanted,) = await record_events(db, uuid4(), topic="payment.not_applied")

            service = deliveries_of(db, FakeSender(), Clock(T0 + timedelta(seconds=5)))
            assert await service.relay() == 3
            assert await service.relay() == 0  # relayed once

            found = await rows(db, webhook_deliveries)
            assert sorted((d["event_id"], d["endpoint_id"]) for d in found) == sorted(
                [(finalized, for_demo), (finalized, for_all), (elsewhere, for_all)])
            assert all(d["status"] == "pending" and d["attempts"] == 0 for d in found)
            events = {e["id"]: e for e in await rows(db, outbox_events)}
            assert events[finalized]["delivered_at"] is not None
            assert events[unwanted]["delivered_at"] is not None  # nobody wanted it

    asyncio.run(scenario())


def test_a_delivery_is_sent_signed_data_and_recorded(demo_db_url: str) -> None:
    async def scenario() -> None:
        async with database(demo_db_url) as db:
            store = await demo_store_id(db)
            added = await endpoints_of(db, lambda: T0 - timedelta(hours=1)).add(
                "http://127.0.0.1:9/hooks", "order.finalized", secret="s" * 20)
            (event,) = await record_events(db, store)
            sender, clock = FakeSender(), Clock(T0 + timedelta(seconds=1))
            service = deliveries_of(db, sender, clock)

            assert await service.run_once()
            (message,) = sender.sent
            assert message.url == "http://127.0.0.1:9/hooks"
            assert message.secret == "s" * 20 and message.event.id == event
            assert message.attempt == 1
            assert message.event.envelope()["data"] == {"orderNumber": "ORDER-00000"}

            (delivery,) = await rows(db, webhook_deliveries)
            assert delivery["status"] == "succeeded" and delivery["attempts"] == 1
            assert delivery["endpoint_id"] == added.endpoint.id
            assert delivery["lease_owner"] is None and delivery["completed_at"] is not None
            (attempt,) = await rows(db, webhook_attempts)
            assert (attempt["number"], attempt["status_code"], attempt["response_body"],
                    attempt["duration_ms"], attempt["worker"]) == (1, 200, "answer 200", 7, "w1")
            assert not await service.run_once()  # nothing left
            assert len(sender.sent) == 1

    asyncio.run(scenario())


def test_a_failing_endpoint_is_retried_with_backoff_then_given_up(demo_db_url: str) -> None:
    async def scenario() -> None:
        async with database(demo_db_url) as db:
            store = await demo_store_id(db)
            await endpoints_of(db, lambda: T0 - timedelta(hours=1)).add(
                "http://127.0.0.1:9/hooks", "*")
            await record_events(db, store)
            sender = FakeSender(answers=[500, None, 503] + [500] * 100)
            clock = Clock(T0)
            service = deliveries_of(db, sender, clock)
            times: list[datetime] = []
            while True:
                sent = len(sender.sent)
                await service.run_once()
                if len(sender.sent) == sent:
                    (delivery,) = await rows(db, webhook_deliveries)
                    if delivery["status"] != "pending":
                        break
                    # Not due yet: nothing is sent before its time.
                    clock.now = delivery["next_attempt_at"].replace(tzinfo=UTC)
                    continue
                times.append(clock.now)

            assert delivery["status"] == DeliveryStatus.FAILED.value
            assert times[-1] - times[0] >= timedelta(hours=24)
            gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
            assert gaps[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
            assert max(gaps) == timedelta(hours=1)
            attempts = await rows(db, webhook_attempts, webhook_attempts.c.number)
            assert [a["number"] for a in attempts] == list(range(1, len(times) + 1))
            assert delivery["attempts"] == len(times)
            assert [(a["status_code"], a["error"]) for a in attempts[:3]] == [
                (500, None), (None, "ConnectError: refused"), (503, None)]
            failed = await endpoints_of(db, clock).deliveries(failed_only=True)
            assert [report.delivery.id for report in failed] == [delivery["id"]]
            assert len(failed[0].attempts) == len(times)

    asyncio.run(scenario())


def test_a_lease_keeps_a_second_worker_off_until_it_runs_out(demo_db_url: str) -> None:
    async def scenario() -> None:
        async with database(demo_db_url) as one, database(demo_db_url) as two:
            store = await demo_store_id(one)
            await endpoints_of(one, lambda: T0 - timedelta(hours=1)).add(
                "http://127.0.0.1:9/hooks", "*")
            await record_events(one, store)
            clock = Clock(T0)
            first = deliveries_of(one, FakeSender(answers=[500]), clock, worker="first")
            second = deliveries_of(two, FakeSender(), clock, worker="second")

            await first.relay()
            (claimed,) = await first.claim(10)  # then "first" hangs (or dies) sending it
            assert claimed.lease.startswith("first/")
            assert await second.claim(10) == []
            clock.advance(seconds=60)
            assert await second.claim(10) == []  # the lease still holds at its last second
            clock.advance(seconds=1)
            (again,) = await second.claim(10)
            assert again.delivery_id == claimed.delivery_id and again.lease != claimed.lease

            # The slow first worker's failure arrives now: counted, but it is the second
            # worker's turn, so the schedule is left to it.
            await first.record(claimed, AttemptOutcome(500), clock(), clock())
            (delivery,) = await rows(two, webhook_deliveries)
            assert delivery["status"] == "pending" and delivery["lease_owner"] == again.lease
            await second.deliver(again)
            (delivery,) = await rows(two, webhook_deliveries)
            assert delivery["status"] == "succeeded" and delivery["attempts"] == 2
            attempts = await rows(two, webhook_attempts, webhook_attempts.c.number)
            assert [(a["number"], a["worker"], a["status_code"]) for a in attempts] == [
                (1, "first", 500), (2, "second", 200)]

    asyncio.run(scenario())


def test_two_workers_at_once_send_every_delivery_once(demo_db_url: str) -> None:
    async def scenario() -> None:
        async with database(demo_db_url) as one, database(demo_db_url) as two:
            store = await demo_store_id(one)
            await endpoints_of(one, lambda: T0 - timedelta(hours=1)).add(
                "http://127.0.0.1:9/hooks", "*")
            events = await record_events(one, store, count=40)
            clock = Clock(T0 + timedelta(seconds=1))
            senders = [FakeSender(pause=0.01), FakeSender(pause=0.01)]
            workers = [deliveries_of(one, senders[0], clock, worker="a", batch=4),
                       deliveries_of(two, senders[1], clock, worker="b", batch=4)]

            async def settled() -> bool:
                found = await rows(one, webhook_deliveries)
                return len(found) == 40 and all(d["status"] != "pending" for d in found)

            async def drain(worker: WebhookDeliveries) -> None:
                # Like the worker loop: an empty round (the other worker holds the rest)
                # is followed by another, until everything is settled.
                while not await settled():
                    if not await worker.run_once():
                        await asyncio.sleep(0.01)

            await asyncio.gather(*(drain(worker) for worker in workers))
            sent = [m.event.id for sender in senders for m in sender.sent]
            assert sorted(sent) == sorted(events)  # each once, none twice
            assert all(sender.sent for sender in senders)  # both took part
            delivered = await rows(one, webhook_deliveries)
            assert {d["status"] for d in delivered} == {"succeeded"} and len(delivered) == 40

    asyncio.run(scenario())


def test_paused_and_removed_endpoints(demo_db_url: str) -> None:
    async def scenario() -> None:
        async with database(demo_db_url) as db:
            store = await demo_store_id(db)
            endpoints = endpoints_of(db, lambda: T0 - timedelta(hours=1))
            added = await endpoints.add("http://127.0.0.1:9/hooks", "*")
            await record_events(db, store)
            sender, clock = FakeSender(), Clock(T0 + timedelta(seconds=1))
            service = deliveries_of(db, sender, clock)
            await service.relay()

            await endpoints.set_active(added.endpoint.id, False)
            assert await service.claim(10) == []  # waits while paused
            await endpoints.set_active(added.endpoint.id, True)
            (message,) = await service.claim(10)

            await endpoints.remove(added.endpoint.id)  # while the request is under way
            assert await service.record(message, AttemptOutcome(200), clock(), clock()) is None
            assert await rows(db, webhook_deliveries) == []
            assert await endpoints.all() == []

    asyncio.run(scenario())
