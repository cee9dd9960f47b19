"""What an operator does with merchant webhooks: register endpoints, list, pause or
remove them, look at deliveries and their attempts, and send deliveries again.

The management API's reads show a principal only what belongs to the stores it may see
(an endpoint of every store included); its redeliveries are audited."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from kasse.domain.access import Principal
from kasse.domain.audit import Actor, AuditEntry
from kasse.domain.errors import InvalidInput, NotFound, StoreNotFound
from kasse.domain.events import is_order_topic
from kasse.domain.webhooks import (
    EVENT_TYPES,
    Delivery,
    DeliveryAttempt,
    DeliveryRecord,
    DeliveryStatus,
    EndpointPaused,
    WebhookEndpoint,
    WebhookFormat,
    check_url,
    parse_event_types,
)
from kasse.services.orders import utcnow
from kasse.services.ports import WebhookStorage

SECRET_PREFIX = "whsec_"  # noqa: S105 (marks generated secrets; not one itself)
MIN_SECRET = 16
MAX_SECRET = 200
STANDARD_KEY_BYTES = (24, 64)
"""The key lengths Standard Webhooks asks for (192 to 512 bits)."""
GENERATED_KEY_BYTES = 32
MAX_PAGE = 200
REDELIVERED = "webhook.redelivered"
"""The audit action of a delivery sent again on an operator's request."""
REDELIVERED_FAILED = "webhook.redelivered_failed"
"""The audit action of every failing delivery of a store sent again at once."""
AUDITED_IDS = 100


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    endpoint: WebhookEndpoint
    secret: str
    generated: bool
    """Whether kasse made the secret up (and must show it this once)."""


@dataclass(frozen=True, slots=True)
class ListedEndpoint:
    endpoint: WebhookEndpoint
    store_alias: str | None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    delivery: Delivery
    topic: str
    attempts: tuple[DeliveryAttempt, ...]


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    records: list[DeliveryRecord]
    more: bool


@dataclass(frozen=True, slots=True)
class DeliveryDetail:
    record: DeliveryRecord
    attempts: tuple[DeliveryAttempt, ...]


@dataclass(frozen=True, slots=True)
class Redelivered:
    count: int
    """Deliveries made due now."""
    paused: int
    """Failing deliveries left waiting for a paused endpoint."""


def _visible(principal: Principal, store_id: UUID | None) -> bool:
    return store_id is None or principal.store_ids is None or store_id in principal.store_ids


def _stores(principal: Principal) -> list[UUID] | None:
    return None if principal.store_ids is None else sorted(principal.store_ids)


def check_secret(secret: str, format: WebhookFormat = WebhookFormat.KASSE) -> str:
    """A secret an operator chose, refused unless it suits the endpoint's format."""
    if secret != secret.strip() or not MIN_SECRET <= len(secret) <= MAX_SECRET:
        raise InvalidInput(f"a webhook secret must be {MIN_SECRET} to {MAX_SECRET} characters "
                           "without leading or trailing spaces")
    if format is WebhookFormat.STANDARD:
        _standard_key(secret)
    return secret


def _standard_key(secret: str) -> bytes:
    # Receivers' libraries decode leniently (a character outside the alphabet is skipped),
    # so a secret that is not strict base64 would verify with another key than it reads as.
    low, high = STANDARD_KEY_BYTES
    problem = (f"a Standard Webhooks secret is {SECRET_PREFIX} followed by the base64 of "
               f"{low} to {high} random bytes (leave it out to have one generated)")
    encoded = secret.removeprefix(SECRET_PREFIX)
    if encoded == secret:
        raise InvalidInput(problem)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise InvalidInput(problem) from None
    if not low <= len(key) <= high:
        raise InvalidInput(problem)
    return key


def new_secret(format: WebhookFormat) -> str:
    """A fresh secret in the form the format expects."""
    if format is WebhookFormat.STANDARD:
        key = secrets.token_bytes(GENERATED_KEY_BYTES)
        return SECRET_PREFIX + base64.b64encode(key).decode("ascii")
    return SECRET_PREFIX + secrets.token_urlsafe(GENERATED_KEY_BYTES)


class WebhookEndpoints:
    def __init__(self, storage: WebhookStorage, *, clock: Callable[[], datetime] = utcnow
                 ) -> None:
        self.storage = storage
        self.clock = clock

    async def add(self, url: str, events: str | Iterable[str], *, store: str | None = None,
                  secret: str | None = None, active: bool = True,
                  format: WebhookFormat = WebhookFormat.KASSE) -> NewEndpoint:
        """Register an endpoint whose requests are signed in ``format``; without
        ``secret`` one is generated. It receives the events recorded from now on."""
        checked_url = check_url(url)
        types = parse_event_types(events)
        given = check_secret(secret, format) if secret is not None else None
        async with self.storage.webhooks(write=True) as repo:
            store_id = None
            if store is not None:
                store_id = await repo.find_store(store)
                if store_id is None:
                    raise StoreNotFound(f"no store with id or alias {store!r}")
            endpoint = WebhookEndpoint(id=uuid4(), url=checked_url, events=types,
                                       store_id=store_id, active=active,
                                       created_at=self.clock(), format=format)
            chosen = given or new_secret(format)
            await repo.add_endpoint(endpoint, chosen)
        return NewEndpoint(endpoint, chosen, generated=given is None)

    async def all(self) -> list[ListedEndpoint]:
        """Every endpoint, oldest first; secrets are not part of it."""
        async with self.storage.webhooks(write=False) as repo:
            endpoints = await repo.endpoints()
            aliases = await repo.store_aliases()
        return [ListedEndpoint(e, aliases.get(e.store_id) if e.store_id else None)
                for e in endpoints]

    async def remove(self, endpoint_id: UUID) -> None:
        """Delete the endpoint, its deliveries (pending ones are never sent) and their
        attempts."""
        async with self.storage.webhooks(write=True) as repo:
            if not await repo.remove_endpoint(endpoint_id):
                raise NotFound(f"no webhook endpoint {endpoint_id}")

    async def set_active(self, endpoint_id: UUID, active: bool) -> None:
        """Pause or resume an endpoint. A paused endpoint gets no new events and its
        pending deliveries wait until it is resumed."""
        async with self.storage.webhooks(write=True) as repo:
            if not await repo.set_endpoint_active(endpoint_id, active):
                raise NotFound(f"no webhook endpoint {endpoint_id}")

    async def deliveries(self, *, endpoint_id: UUID | None = None, failed_only: bool = False,
                         limit: int = 50) -> list[DeliveryReport]:
        """The newest deliveries, each with its attempts."""
        async with self.storage.webhooks(write=False) as repo:
            found = await repo.deliveries(endpoint_id=endpoint_id, failed_only=failed_only,
                                          limit=limit)
            attempts = await repo.attempts([delivery.id for delivery, _ in found])
        by_delivery: dict[UUID, list[DeliveryAttempt]] = {}
        for attempt in attempts:
            by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
        return [DeliveryReport(delivery, topic, tuple(by_delivery.get(delivery.id, ())))
                for delivery, topic in found]

    # --- the management API ---------------------------------------------------------

    async def visible(self, principal: Principal) -> list[ListedEndpoint]:
        """The endpoints that hear the stores ``principal`` may see (those of every
        store included), oldest first; never their secrets."""
        return [item for item in await self.all()
                if _visible(principal, item.endpoint.store_id)]

    async def records(self, principal: Principal, *, topic: str | None = None,
                      endpoint_id: UUID | None = None, status: str | None = None,
                      order_id: UUID | None = None,
                      before: tuple[datetime, UUID] | None = None, limit: int = 50
                      ) -> DeliveryPage:
        """Deliveries of the events of the stores ``principal`` may see, newest first,
        by event type, endpoint, status and order; ``limit`` (1 to 200) from ``before``."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be 1 to {MAX_PAGE}")
        if topic is not None and topic.strip() not in EVENT_TYPES:
            raise InvalidInput(f"event must be one of {', '.join(EVENT_TYPES)}")
        wanted = None
        if status is not None:
            try:
                wanted = DeliveryStatus(status.strip().lower())
            except ValueError:
                raise InvalidInput(f"status must be one of "
                                   f"{', '.join(s.value for s in DeliveryStatus)}") from None
        async with self.storage.webhooks(write=False) as repo:
            found = await repo.records(store_ids=_stores(principal),
                                       topic=topic.strip() if topic else None,
                                       endpoint_id=endpoint_id, status=wanted,
                                       aggregate_id=order_id, before=before,
                                       limit=limit + 1)
        return DeliveryPage(found[:limit], more=len(found) > limit)

    async def detail(self, principal: Principal, delivery_id: UUID) -> DeliveryDetail:
        """One delivery with its event (as it is sent) and every attempt; a delivery of
        a store ``principal`` may not see is not found."""
        async with self.storage.webhooks(write=False) as repo:
            record = await repo.record(delivery_id)
            if record is None or not _visible(principal, record.event.store_id):
                raise NotFound(f"no webhook delivery {delivery_id}")
            attempts = await repo.attempts([delivery_id])
        return DeliveryDetail(record, tuple(attempts))

    async def redeliver(self, actor: Actor, delivery_id: UUID) -> DeliveryRecord:
        """Make the delivery due now (its attempts are kept; the retry window starts
        over), audited. A paused endpoint's delivery is refused: resume the endpoint."""
        async with self.storage.webhooks(write=True) as repo:
            record = await repo.record(delivery_id)
            if record is None or not _visible(actor.principal, record.event.store_id):
                raise NotFound(f"no webhook delivery {delivery_id}")
            if not record.endpoint_active:
                raise EndpointPaused(f"endpoint {record.delivery.endpoint_id} is paused: "
                                     "resume it (kasse webhook enable) to send its "
                                     "deliveries")
            delivery = record.delivery
            before = delivery.status
            now = self.clock()
            delivery.redeliver(now)
            await repo.save_delivery(delivery)
            event = record.event
            await repo.audit.add(AuditEntry.of(
                actor, REDELIVERED, event.store_id, now,
                order_id=event.aggregate_id if is_order_topic(event.topic) else None,
                detail={"deliveryId": str(delivery.id), "eventId": str(event.id),
                        "event": event.topic, "endpointId": str(delivery.endpoint_id),
                        "previousStatus": before.value, "attempts": delivery.attempts}))
        return record

    async def redeliver_failing(self, actor: Actor, endpoint_id: UUID | None = None
                                ) -> Redelivered:
        """Make every failing delivery (given up, or waiting for its next retry) of the
        stores the actor may see due now, of one endpoint or all; one audit entry per
        store. Deliveries of paused endpoints are left waiting (and counted)."""
        async with self.storage.webhooks(write=True) as repo:
            if endpoint_id is not None and not any(
                    e.id == endpoint_id and _visible(actor.principal, e.store_id)
                    for e in await repo.endpoints()):
                raise NotFound(f"no webhook endpoint {endpoint_id}")
            now = self.clock()
            done, paused = await repo.redeliver_failing(
                store_ids=_stores(actor.principal), endpoint_id=endpoint_id, now=now)
            for store_id, ids in sorted(done.items()):
                await repo.audit.add(AuditEntry.of(
                    actor, REDELIVERED_FAILED, store_id, now, detail={
                        "count": len(ids),
                        "endpointId": str(endpoint_id) if endpoint_id else None,
                        "deliveryIds": sorted(str(i) for i in ids)[:AUDITED_IDS]}))
        return Redelivered(sum(len(ids) for ids in done.values()), paused)
