"""The shopper's emails at work: make messages of outbox events, claim the ones that are
due, render and hand them to the mail server, record what happened.

Any number of workers (each ``kasse serve`` worker, ``kasse worker`` processes) share the
work through the database alone, as the webhook workers do: a worker leases a message
before it sends it, and no transaction is open while the mail server is talked to.

At most one message per event and type reaches the mail server: the messages are unique
per (event, type), and an attempt records that it is handing the message over (in its own
committed transaction) before the message's bytes leave. A worker that dies after that
point leaves a mark whose lease runs out; the next worker finds it and records the
message as ``unconfirmed`` instead of sending it again. A worker that dies before it
leaves no mark, and the message is sent by the next one. A checkout never waits for any
of this: it only wrote its outbox event.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import uuid4

from kasse.domain.emails import (
    CUT_OFF,
    AttemptKind,
    EmailAttempt,
    EmailMessage,
    EmailStatus,
    Outgoing,
    RetryPolicy,
    SendOutcome,
    wanted_messages,
)
from kasse.domain.errors import DomainError
from kasse.services import telemetry
from kasse.services.catalog import StoreDirectory
from kasse.services.email_rendering import NotSendable, make
from kasse.services.orders import utcnow
from kasse.services.ports import EmailStorage, EmailTransport, Storage

log = logging.getLogger("kasse.emails")

LEASE = timedelta(seconds=120)
"""How long a claim holds a message: well beyond the mail client's limits."""
RELAY_BATCH = 200
SEND_BATCH = 4


@dataclass(frozen=True, slots=True)
class Claimed:
    message: EmailMessage
    lease: str


class EmailDeliveries:
    """The delivery use cases for one worker (``worker`` names it in leases and
    attempts)."""

    def __init__(self, storage: EmailStorage, orders: Storage, stores: StoreDirectory,
                 transport: EmailTransport, *, worker: str, policy: RetryPolicy | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 rand: Callable[[], float] = random.random, lease: timedelta = LEASE,
                 batch: int = SEND_BATCH) -> None:
        self.storage = storage
        self.orders = orders
        self.stores = stores
        self.transport = transport
        self.worker = worker[:80]
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.rand = rand
        self.lease = lease
        self.batch = batch

    async def relay(self) -> int:
        """Make one message per email type of the oldest outbox events not emailed yet;
        returns how many events were looked at."""
        async with self.storage.emails(write=False) as repo:
            if not await repo.has_unemailed_events():  # the usual case, no write lock
                return 0
        async with self.storage.emails(write=True) as repo:
            events = await repo.unemailed_events(RELAY_BATCH)
            if not events:
                return 0
            now = self.clock()
            await repo.add_messages([
                EmailMessage(id=uuid4(), store_id=event.store_id, order_id=event.aggregate_id,
                             event_id=event.id, type=kind, created_at=now, next_attempt_at=now)
                for event, kind in wanted_messages(events)])
            await repo.mark_emailed([event.id for event in events], now)
        return len(events)

    async def sweep(self) -> int:
        """Record as ``unconfirmed`` every message whose attempt was cut off mid hand-over
        (its worker's lease ran out); such a message is never sent again on its own."""
        async with self.storage.emails(write=False) as repo:
            if not await repo.cut_off(self.clock(), 1):
                return 0
        found = 0
        async with self.storage.emails(write=True) as repo:
            now = self.clock()
            for email_id in await repo.cut_off(now, 50):
                message = await repo.message(email_id)
                if message is None or not message.cut_off(now):
                    continue
                since = message.handing_over_since or now
                number = message.call_cut_off(now)
                await repo.add_attempt(EmailAttempt(
                    message_id=message.id, number=number, attempted_at=since,
                    outcome=SendOutcome(AttemptKind.UNCERTAIN, CUT_OFF), worker=self.worker,
                    via=self.transport.via))
                await repo.save(message)
                found += 1
                log.warning("email %s %s of order %s: %s", message.type.value, message.id,
                            message.order_id, CUT_OFF)
        return found

    async def claim(self, limit: int) -> list[Claimed]:
        """Lease up to ``limit`` due messages to this worker."""
        async with self.storage.emails(write=False) as repo:
            if not await repo.due(self.clock(), 1):
                return []
        async with self.storage.emails(write=True) as repo:
            now = self.clock()
            lease = f"{self.worker}/{uuid4().hex[:12]}"
            claimed = []
            for email_id in await repo.due(now, limit):
                if await repo.claim(email_id, lease, now, now + self.lease):
                    message = await repo.message(email_id)
                    if message is not None:
                        claimed.append(Claimed(message, lease))
            return claimed

    async def deliver(self, claimed: Claimed) -> EmailMessage | None:
        """Render a claimed message (once), hand it over once, record the outcome."""
        message, started = claimed.message, self.clock()
        outgoing = message.outgoing
        if outgoing is None:
            try:
                outgoing = await self._make(message, started)
            except NotSendable as exc:
                return await self._skip(claimed, str(exc))
            except Exception as exc:  # a template or the order: recorded, tried again
                log.exception("email %s %s could not be made", message.type.value, message.id)
                outcome = SendOutcome(AttemptKind.TEMPORARY,
                                      f"the message could not be made: {exc!r}"[:500])
                return await self.record(claimed, outcome, None, started, self.clock())
        made = outgoing

        async def handing_over() -> bool:
            return await self._handing_over(claimed, made)

        outcome = await self.transport.send(outgoing, handing_over)
        return await self.record(claimed, outcome, outgoing, started, self.clock())

    async def _make(self, message: EmailMessage, at: datetime) -> Outgoing:
        async with self.storage.emails(write=False) as repo:
            event = await repo.event(message.event_id)
        async with self.orders.ordering(write=False) as unit:
            order = await unit.orders.get(message.store_id, message.order_id)
        if event is None or order is None:
            raise NotSendable("the order or its event no longer exists")
        try:
            config = await self.stores.get(str(message.store_id))
        except DomainError as exc:
            raise NotSendable(exc.detail) from None
        return make(order, config, message.type, event.payload, at=at).outgoing

    async def _handing_over(self, claimed: Claimed, outgoing: Outgoing) -> bool:
        """Record, and commit, that the message is being handed over now."""
        async with self.storage.emails(write=True) as repo:
            message = await repo.message(claimed.message.id)
            if message is None:
                return False
            message.render(outgoing)
            if not message.handing_over(claimed.lease, self.clock()):
                return False
            await repo.save(message)
            return True

    async def _skip(self, claimed: Claimed, reason: str) -> EmailMessage | None:
        async with self.storage.emails(write=True) as repo:
            message = await repo.message(claimed.message.id)
            if message is None or message.lease_owner != claimed.lease:
                return message
            message.skip(reason, self.clock())
            await repo.save(message)
        log.info("email %s of order %s not sent: %s", message.type.value, message.order_id,
                 reason)
        return message

    async def record(self, claimed: Claimed, outcome: SendOutcome, outgoing: Outgoing | None,
                     started: datetime, finished: datetime) -> EmailMessage | None:
        """Keep the attempt (and the rendering) and move the message on."""
        async with self.storage.emails(write=True) as repo:
            message = await repo.message(claimed.message.id)
            if message is None:
                return None
            if outgoing is not None:
                message.render(outgoing)
            number = message.attempted(outcome, started=started, finished=finished,
                                       lease=claimed.lease, policy=self.policy,
                                       rand=self.rand())
            await repo.add_attempt(EmailAttempt(
                message_id=message.id, number=number, attempted_at=started, outcome=outcome,
                worker=self.worker, via=self.transport.via))
            await repo.save(message)
        self._report(message, outcome, number)
        return message

    def _report(self, message: EmailMessage, outcome: SendOutcome, number: int) -> None:
        where = (f"email {message.type.value} {message.id} of order {message.order_id}, "
                 f"attempt {number}")
        if outcome.delivered:
            log.info("%s: sent via %s (%s)", where, self.transport.via, outcome.detail)
            return
        telemetry.count("emails_failed")
        if message.status is EmailStatus.PENDING:
            log.warning("%s: %s; next attempt at %s", where, outcome.detail,
                        message.next_attempt_at.isoformat(timespec="seconds"))
        else:
            log.error("%s: %s; %s", where, outcome.detail, message.status.value)

    async def run_once(self) -> bool:
        """One round: relay, sweep, claim, send. True when there was work."""
        relayed = await self.relay()
        swept = await self.sweep()
        claimed = await self.claim(self.batch)
        results = await asyncio.gather(*(self.deliver(c) for c in claimed),
                                       return_exceptions=True)
        for item, result in zip(claimed, results, strict=True):
            if isinstance(result, Exception):
                # Its lease runs out and a later round takes it up again (or calls it
                # unconfirmed, if it was being handed over).
                log.error("email %s could not be recorded: %r", item.message.id, result)
        return relayed > 0 or swept > 0 or bool(claimed)


class EmailWorker:
    """Runs rounds of ``EmailDeliveries`` until stopped: at once again while there is
    work, else after ``poll_interval`` seconds or when woken (an outbox event was just
    committed in this process)."""

    def __init__(self, deliveries: EmailDeliveries, *, poll_interval: float,
                 settle: float = 0.2) -> None:
        self.deliveries = deliveries
        self.poll_interval = poll_interval
        self.settle = min(settle, poll_interval)
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the current round (messages being handed over are recorded), then
        return from ``run``."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                busy = await self.deliveries.run_once()
            except Exception:  # the database may be away for a moment; keep going
                log.exception("email worker round failed; trying again")
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

