"""Merchant webhooks at work: relay outbox events into deliveries, claim the deliveries
that are due, send them, record what happened.

Any number of workers (one per ``kasse serve`` worker, plus ``kasse worker`` processes)
share the work through the database alone. A worker leases a delivery before sending it,
so two workers never send the same delivery at the same time; no transaction is open
while a request is on its way (claim in one, send, record in another). A worker that dies
while sending leaves a lease that runs out, and the delivery is sent again: delivery is
at least once, and receivers deduplicate by the event id.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import uuid4

from kasse.domain.webhooks import (
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    RetryPolicy,
    WebhookMessage,
)
from kasse.services import telemetry
from kasse.services.orders import utcnow
from kasse.services.ports import WebhookSender, WebhookStorage

log = logging.getLogger("kasse.webhooks")

LEASE = timedelta(seconds=60)
"""How long a claim holds a delivery: well beyond the sender's 15 s limit per request."""
RELAY_BATCH = 200
SEND_BATCH = 8


class WebhookDeliveries:
    """The delivery use cases, for one worker (``worker`` names it in leases and
    attempts)."""

    def __init__(self, storage: WebhookStorage, sender: WebhookSender, *, worker: str,
                 policy: RetryPolicy | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 rand: Callable[[], float] = random.random, lease: timedelta = LEASE,
                 batch: int = SEND_BATCH) -> None:
        self.storage = storage
        self.sender = sender
        self.worker = worker[:80]
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.rand = rand
        self.lease = lease
        self.batch = batch

    async def relay(self) -> int:
        """Turn the oldest outbox events not relayed yet into one delivery per matching
        endpoint; returns how many events were relayed (matched by none counts too)."""
        async with self.storage.webhooks(write=False) as repo:
            if not await repo.has_pending_events():  # the usual case, without the write lock
                return 0
        async with self.storage.webhooks(write=True) as repo:
            events = await repo.pending_events(RELAY_BATCH)
            if not events:
                return 0
            endpoints = await repo.endpoints(active_only=True)
            now = self.clock()
            await repo.add_deliveries([
                Delivery(id=uuid4(), event_id=event.id, endpoint_id=endpoint.id,
                         created_at=now, next_attempt_at=now)
                for event in events for endpoint in endpoints if endpoint.wants(event)])
            await repo.mark_relayed([event.id for event in events], now)
        return len(events)

    async def claim(self, limit: int) -> list[WebhookMessage]:
        """Lease up to ``limit`` due deliveries to this worker."""
        async with self.storage.webhooks(write=False) as repo:
            if not await repo.due_deliveries(self.clock(), 1):
                return []
        async with self.storage.webhooks(write=True) as repo:
            now = self.clock()
            lease = f"{self.worker}/{uuid4().hex[:12]}"
            claimed = [delivery_id for delivery_id in await repo.due_deliveries(now, limit)
                       if await repo.claim(delivery_id, lease, now, now + self.lease)]
            return await repo.messages(claimed)

    async def deliver(self, message: WebhookMessage) -> Delivery | None:
        """Send a claimed delivery once and record the outcome."""
        started = self.clock()
        outcome = await self.sender.send(message)
        return await self.record(message, outcome, started, self.clock())

    async def record(self, message: WebhookMessage, outcome: AttemptOutcome,
                     started: datetime, finished: datetime) -> Delivery | None:
        """Keep the attempt and move the delivery on (settled, or due again later)."""
        async with self.storage.webhooks(write=True) as repo:
            delivery = await repo.delivery(message.delivery_id)
            if delivery is None:  # its endpoint was removed meanwhile
                return None
            number = delivery.attempted(outcome, started=started, finished=finished,
                                        lease=message.lease, policy=self.policy,
                                        rand=self.rand())
            await repo.add_attempt(DeliveryAttempt(
                delivery_id=delivery.id, number=number, attempted_at=started,
                outcome=outcome, worker=self.worker))
            await repo.save_delivery(delivery)
        self._report(message, outcome, delivery, number)
        return delivery

    def _report(self, message: WebhookMessage, outcome: AttemptOutcome, delivery: Delivery,
                number: int) -> None:
        answer = outcome.status_code if outcome.status_code is not None else outcome.error
        where = (f"{message.event.topic} {message.event.id} to endpoint "
                 f"{delivery.endpoint_id}, attempt {number}")
        if outcome.delivered:
            log.info("webhook %s: %s in %d ms", where, answer, outcome.duration_ms)
            return
        telemetry.count("webhook_deliveries_failed")
        if delivery.status is DeliveryStatus.FAILED:
            log.error("webhook %s: %s; giving up after %d attempts", where, answer,
                      delivery.attempts)
        else:
            log.warning("webhook %s: %s; next attempt at %s", where, answer,
                        delivery.next_attempt_at.isoformat(timespec="seconds"))

    async def run_once(self) -> bool:
        """One round: relay, claim, send what was claimed. True when there was work."""
        relayed = await self.relay()
        messages = await self.claim(self.batch)
        results = await asyncio.gather(*(self.deliver(m) for m in messages),
                                       return_exceptions=True)
        for message, result in zip(messages, results, strict=True):
            if isinstance(result, Exception):
                # The lease runs out and another round tries again.
                log.error("webhook delivery %s could not be recorded: %r",
                          message.delivery_id, result)
        return relayed > 0 or bool(messages)


WAKE_SETTLE_SECONDS = 0.2
"""How long a woken worker lets further events gather before it relays them."""


class WebhookWorker:
    """Runs rounds of ``WebhookDeliveries`` until stopped: at once again while there is
    work, else after ``poll_interval`` seconds or when woken (an outbox event was just
    committed in this process).

    A woken worker waits ``settle`` seconds first: a checkout commits several events in
    quick succession, and one round relays them together instead of one write
    transaction per commit competing with the shopper's next request for the write lock.
    """

    def __init__(self, deliveries: WebhookDeliveries, *, poll_interval: float,
                 settle: float = WAKE_SETTLE_SECONDS) -> None:
        self.deliveries = deliveries
        self.poll_interval = poll_interval
        self.settle = min(settle, poll_interval)
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the current round (sends under way complete and are recorded), then
        return from ``run``."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                busy = await self.deliveries.run_once()
            except Exception:  # the database may be away for a moment; keep going
                log.exception("webhook worker round failed; trying again")
                busy = False
            if busy or self._stopping:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                pass
            else:
                if not self._stopping and self.settle > 0:
                    await asyncio.sleep(self.settle)
            self._wake.clear()
