"""What an operator does with merchant webhooks: register endpoints, list, pause or
remove them, and look at deliveries and their attempts."""

from __future__ import annotations

import base64
import binascii
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
