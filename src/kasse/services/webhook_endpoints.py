"""What an operator does with merchant webhooks: register endpoints, list, pause or
remove them, and look at deliveries and their attempts."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from kasse.domain.errors import InvalidInput, NotFound, StoreNotFound
from kasse.domain.webhooks import (
    Delivery,
    DeliveryAttempt,
    WebhookEndpoint,
    check_url,
    parse_event_types,
)
from kasse.services.orders import utcnow
from kasse.services.ports import WebhookStorage

SECRET_PREFIX = "whsec_"  # noqa: S105 (marks generated secrets; not one itself)
MIN_SECRET = 16
MAX_SECRET = 200


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


def check_secret(secret: str) -> str:
    if secret != secret.strip() or not MIN_SECRET <= len(secret) <= MAX_SECRET:
        raise InvalidInput(f"a webhook secret must be {MIN_SECRET} to {MAX_SECRET} characters "
                           "without leading or trailing spaces")
    return secret


class WebhookEndpoints:
    def __init__(self, storage: WebhookStorage, *, clock: Callable[[], datetime] = utcnow
                 ) -> None:
        self.storage = storage
        self.clock = clock

    async def add(self, url: str, events: str | Iterable[str], *, store: str | None = None,
                  secret: str | None = None, active: bool = True) -> NewEndpoint:
        """Register an endpoint; without ``secret`` one is generated. It receives the
        events recorded from now on."""
        checked_url = check_url(url)
        types = parse_event_types(events)
        given = check_secret(secret) if secret is not None else None
        async with self.storage.webhooks(write=True) as repo:
            store_id = None
            if store is not None:
                store_id = await repo.find_store(store)
                if store_id is None:
                    raise StoreNotFound(f"no store with id or alias {store!r}")
            endpoint = WebhookEndpoint(id=uuid4(), url=checked_url, events=types,
                                       store_id=store_id, active=active,
                                       created_at=self.clock())
            chosen = given or SECRET_PREFIX + secrets.token_urlsafe(32)
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
