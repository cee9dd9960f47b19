"""Merchant webhooks: which endpoint gets which event, what a delivery is, and when a
failed delivery is tried again.

Pure rules only; storing, claiming and sending live in ``services.webhooks`` and the
adapters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from kasse.domain.errors import Conflict, InvalidInput
from kasse.domain.events import TOPICS
from kasse.domain.text import has_control_characters

ALL_EVENTS = "*"
EVENT_TYPES = TOPICS
"""The outbox topics a merchant endpoint can subscribe to: every event kasse records."""

RESPONSE_BODY_BYTES = 2048
"""How much of a receiver's answer is kept with each attempt."""


class WebhookFormat(StrEnum):
    """How an endpoint's requests are signed; chosen per endpoint when it is added."""

    KASSE = "kasse"
    """``Kasse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``, keyed with the secret's
    text: the format of every endpoint added before the choice existed."""
    STANDARD = "standard"
    """Standard Webhooks (standardwebhooks.com): ``webhook-id``, ``webhook-timestamp`` and
    ``webhook-signature: v1,<base64 HMAC-SHA256>``, keyed with the bytes a ``whsec_``
    secret encodes, so receivers verify with that project's libraries."""


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """Given up: every attempt failed for the whole retry window."""


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """Where a merchant wants events; the signing secret is stored apart from this."""

    id: UUID
    url: str
    events: tuple[str, ...]
    store_id: UUID | None
    """``None``: events of every store."""
    active: bool
    created_at: datetime
    format: WebhookFormat = WebhookFormat.KASSE

    def wants(self, event: OutboxEvent) -> bool:
        """Whether ``event`` goes to this endpoint.

        An endpoint receives the events recorded from the moment it was added: registering
        one does not replay the shop's history to it.
        """
        return (self.active
                and (self.store_id is None or self.store_id == event.store_id)
                and (ALL_EVENTS in self.events or event.topic in self.events)
                and event.created_at >= self.created_at)


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: UUID
    store_id: UUID
    topic: str
    aggregate_id: UUID
    payload: Mapping[str, Any]
    created_at: datetime

    def envelope(self) -> dict[str, Any]:
        """The JSON document a merchant receives; the same on every attempt."""
        return {"id": str(self.id), "type": self.topic, "createdAt": timestamp(self.created_at),
                "storeId": str(self.store_id), "data": dict(self.payload)}


def timestamp(at: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``, as JavaScript's ``toISOString``."""
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What one HTTP attempt got: a status code, or an error when there was no answer."""

    status_code: int | None
    error: str | None = None
    body: str = ""
    duration_ms: int = 0

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter: ``base``, twice that, … at most ``cap`` apart,
    until an attempt fails at least ``retry_for`` after the first one."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    retry_for: timedelta = timedelta(hours=24)
    jitter: float = 0.25
    """Up to this fraction is taken off each delay, so that the retries of many failed
    deliveries (an endpoint that was down) do not all arrive in the same second."""

    def delay(self, attempts: int, rand: float) -> timedelta:
        """The wait after the ``attempts``-th failed attempt; ``rand`` is in [0, 1)."""
        nominal = min(self.cap.total_seconds(),
                      self.base.total_seconds() * 2.0 ** min(max(attempts - 1, 0), 60))
        return timedelta(seconds=nominal * (1 - self.jitter * rand))

    def next_attempt(self, first_attempt_at: datetime, failed_at: datetime, attempts: int,
                     rand: float) -> datetime | None:
        """When to try again after a failure, or ``None`` to give up."""
        if failed_at - first_attempt_at >= self.retry_for:
            return None
        return failed_at + self.delay(attempts, rand)


@dataclass(slots=True)
class Delivery:
    """One event on its way to one endpoint, over as many attempts as it takes."""

    id: UUID
    event_id: UUID
    endpoint_id: UUID
    created_at: datetime
    next_attempt_at: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    completed_at: datetime | None = None

    def claimable(self, now: datetime) -> bool:
        """Due and not leased by a live worker (an expired lease is a crashed one).

        The SQL claim in the repository states the same condition, so that exactly one
        worker wins it.
        """
        return (self.status is DeliveryStatus.PENDING and self.next_attempt_at <= now
                and (self.lease_until is None or self.lease_until < now))

    def attempted(self, outcome: AttemptOutcome, *, started: datetime, finished: datetime,
                  lease: str, policy: RetryPolicy, rand: float) -> int:
        """Count an attempt made under ``lease`` and decide what follows; returns the
        attempt's number.

        Success settles the delivery whoever made it. A failure reschedules it only while
        the attempt's lease still holds it: a worker whose lease expired (it was too slow,
        and another worker took over) must not move the other worker's schedule.
        """
        self.attempts += 1
        self.first_attempt_at = self.first_attempt_at or started
        self.last_attempt_at = started
        self.last_status_code = outcome.status_code
        self.last_error = outcome.error
        if self.status is not DeliveryStatus.PENDING:
            return self.attempts
        if outcome.delivered:
            self._settle(DeliveryStatus.SUCCEEDED, finished)
        elif self.lease_owner == lease:
            retry_at = policy.next_attempt(self.first_attempt_at, finished, self.attempts, rand)
            if retry_at is None:
                self._settle(DeliveryStatus.FAILED, finished)
            else:
                self.next_attempt_at = retry_at
                self._release()
        return self.attempts

    @property
    def failing(self) -> bool:
        """Given up, or still being retried after a failed attempt."""
        return self.status is DeliveryStatus.FAILED or (
            self.status is DeliveryStatus.PENDING and self.attempts > 0)

    def in_flight(self, now: datetime) -> bool:
        """A worker holds it now (sending it, or about to record what it got)."""
        return self.lease_until is not None and self.lease_until >= now

    def redeliver(self, now: datetime) -> None:
        """Due again now, whatever became of it (an operator asked): its attempts and
        their record are kept, and the retry window starts over with the next attempt.

        A delivery that a worker is sending right now is refused (``DeliveryInFlight``):
        a second worker must never send it at the same time.
        """
        if self.in_flight(now):
            raise DeliveryInFlight(f"delivery {self.id} is being sent right now; see how "
                                   "that attempt ends before asking again")
        self.status = DeliveryStatus.PENDING
        self.next_attempt_at = now
        self.first_attempt_at = None
        self.completed_at = None
        self._release()

    def _settle(self, status: DeliveryStatus, at: datetime) -> None:
        self.status = status
        self.completed_at = at
        self._release()

    def _release(self) -> None:
        self.lease_owner = None
        self.lease_until = None


class DeliveryInFlight(Conflict):
    code = "delivery_in_flight"


class EndpointPaused(Conflict):
    """A delivery of a paused endpoint cannot be sent (it waits until it is resumed)."""

    code = "endpoint_paused"


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery as an operator looks it up: with its event and where it goes."""

    delivery: Delivery
    event: OutboxEvent
    """Its payload is left empty in lists (it can be large); a single record has it."""
    endpoint_url: str
    endpoint_active: bool


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """The record of one attempt, as an operator reads it later."""

    delivery_id: UUID
    number: int
    attempted_at: datetime
    outcome: AttemptOutcome
    worker: str


@dataclass(frozen=True, slots=True)
class WebhookMessage:
    """A claimed delivery, ready to send: everything the sender needs, nothing more."""

    delivery_id: UUID
    lease: str
    url: str
    event: OutboxEvent
    attempt: int
    """The number this attempt will most likely get (for the receiver's information)."""
    secret: str = field(repr=False)
    format: WebhookFormat = WebhookFormat.KASSE


def parse_event_types(text: str | Iterable[str]) -> tuple[str, ...]:
    """``order.finalized,order.payment_failed`` or ``*``: known types, without repeats."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = list(dict.fromkeys(item.strip() for item in items if item.strip()))
    if not names:
        raise InvalidInput("name at least one event type, or * for all")
    unknown = [name for name in names if name != ALL_EVENTS and name not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(f"unknown event type {', '.join(map(repr, unknown))}; known: "
                           f"{', '.join(EVENT_TYPES)} (or * for all)")
    return (ALL_EVENTS,) if ALL_EVENTS in names else tuple(names)


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host; refuses anything a POST cannot go to."""
    url = url.strip()
    if len(url) > 2000:
        raise InvalidInput("the URL is longer than 2000 characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number
    except ValueError as exc:
        raise InvalidInput(f"{url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{url!r} is not an http:// or https:// URL with a host")
    if any(ch.isspace() for ch in url) or has_control_characters(url):
        raise InvalidInput(f"{url!r} contains spaces or control characters")
    return url
