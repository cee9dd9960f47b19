"""The shopper's emails as staff see them: every message of an order with each of its
attempts, a resend on demand, and a preview of any message for any placed order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from kasse.domain.emails import EMAIL_TOPICS, EmailAttempt, EmailMessage, EmailType
from kasse.domain.errors import InvalidInput, NotFound
from kasse.domain.store import StoreConfig
from kasse.services.catalog import StoreDirectory
from kasse.services.email_rendering import NotSendable, Preview, make, new_message_id
from kasse.services.orders import utcnow
from kasse.services.ports import EmailStorage, Storage

TOPIC_OF = {kind: topic for topic, kind in EMAIL_TOPICS.items()}


@dataclass(frozen=True, slots=True)
class EmailReport:
    message: EmailMessage
    attempts: tuple[EmailAttempt, ...]


@dataclass(frozen=True, slots=True)
class PreviewReport:
    preview: Preview
    event_found: bool
    """False: the order has no such event yet, and the preview shows made-up news (every
    line shipped, the whole order refunded)."""


def parse_type(value: str) -> EmailType:
    try:
        return EmailType(value.strip().lower())
    except ValueError:
        raise InvalidInput(f"no email type {value.strip()[:40]!r}; types: "
                           f"{', '.join(t.value for t in EmailType)}") from None


class EmailMessages:
    def __init__(self, storage: EmailStorage, orders: Storage, stores: StoreDirectory, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.storage = storage
        self.orders = orders
        self.stores = stores
        self.clock = clock

    async def _reports(self, messages: list[EmailMessage]) -> list[EmailReport]:
        async with self.storage.emails(write=False) as repo:
            attempts = await repo.attempts([m.id for m in messages])
        by_message: dict[UUID, list[EmailAttempt]] = {}
        for attempt in attempts:
            by_message.setdefault(attempt.message_id, []).append(attempt)
        return [EmailReport(m, tuple(by_message.get(m.id, ()))) for m in messages]

    async def of_order(self, store_id: UUID, order_id: UUID) -> list[EmailReport]:
        """Every message of an order, newest first, with its attempts."""
        async with self.storage.emails(write=False) as repo:
            messages = [m for m in await repo.messages(order_id=order_id)
                        if m.store_id == store_id]
        return await self._reports(messages)

    async def order_store(self, order_id: UUID) -> UUID | None:
        """The store of an order (``None``: no such order)."""
        async with self.storage.emails(write=False) as repo:
            return await repo.order_store(order_id)

    async def recent(self, *, store_ids: Sequence[UUID] | None = None,
                     statuses: Sequence[str] | None = None, limit: int = 50
                     ) -> list[EmailReport]:
        async with self.storage.emails(write=False) as repo:
            messages = await repo.messages(store_ids=store_ids, statuses=statuses,
                                           limit=limit)
        return await self._reports(messages)

    async def get(self, email_id: UUID, visible: Callable[[UUID], bool] = lambda _: True
                  ) -> EmailReport:
        async with self.storage.emails(write=False) as repo:
            message = await repo.message(email_id)
        if message is None or not visible(message.store_id):
            raise NotFound(f"no email {email_id}")
        return (await self._reports([message]))[0]

    async def resend(self, email_id: UUID,
                     visible: Callable[[UUID], bool] = lambda _: True) -> EmailReport:
        """Send a message again as soon as a worker can (a message that arrived gets a new
        ``Message-ID``). Raises ``NotFound`` for a message the caller may not see and
        ``Conflict`` for one already waiting or one that cannot be sent."""
        async with self.storage.emails(write=True) as repo:
            message = await repo.message(email_id)
            if message is None or not visible(message.store_id):
                raise NotFound(f"no email {email_id}")
            sender = message.outgoing.mail_from if message.outgoing else ""
            message.resend(self.clock(), new_message_id(sender))
            await repo.save(message)
        return (await self._reports([message]))[0]

    async def find_order(self, config: StoreConfig, order: str) -> UUID:
        """An order of the store by id or order number."""
        try:
            return UUID(order.strip())
        except ValueError:
            pass
        async with self.storage.emails(write=False) as repo:
            found = await repo.order_by_number(config.store.id, order.strip())
        if found is None:
            raise NotFound(f"store {config.store.alias!r} has no order {order.strip()!r}")
        return found

    async def preview(self, config: StoreConfig, order_id: UUID, email_type: EmailType, *,
                      language: str | None = None) -> PreviewReport:
        """The message of ``email_type`` for a placed order, as it would be sent now, about
        the order's latest such event."""
        async with self.orders.ordering(write=False) as unit:
            order = await unit.orders.get(config.store.id, order_id)
        if order is None:
            raise NotFound(f"no order {order_id} in store {config.store.alias!r}")
        if not order.is_finalized:
            raise InvalidInput(f"order {order_id} is an open cart: messages are sent for "
                               "placed orders only")
        async with self.storage.emails(write=False) as repo:
            event = await repo.latest_event(order.id, TOPIC_OF[email_type])
        payload: dict[str, Any] = dict(event.payload) if event is not None else {}
        if event is None:
            payload = {"lines": [{"lineId": str(line.id), "sku": line.sku,
                                  "quantity": f"{line.quantity:f}"} for line in order.lines],
                       "amount": f"{order.authorized_amount or 0:f}",
                       "refunded": f"{order.authorized_amount or 0:f}"}
        try:
            made = make(order, config, email_type, payload, at=self.clock(), language=language)
        except NotSendable as exc:
            raise InvalidInput(f"no message would be sent: {exc}") from None
        return PreviewReport(made, event is not None)
