"""What happened in a store, in the past tense: to an order (recorded by the order as it
changes) or to stock (recorded by the use case), written by the unit of work into the
outbox (merchant webhooks, and later the shopper's emails) in the same transaction.

Each event says where it goes (``topic``), what it is about (``aggregate_id``: the order,
or the product or variant whose stock changed), what it tells (``payload``, the
merchant's wire format) and, where the same news may be reported more than once (a
gateway retrying, a browser and a webhook racing), the key under which the outbox keeps
it only once.

Every order event's webhook payload also carries the order itself (``order``: see
``domain/order_snapshot.py``), added in one place when the unit of work writes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from kasse.domain.payment import PaymentStatus


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def units(value: Decimal) -> str:
    """A quantity as a plain decimal string without trailing zeros ("12", "2.5")."""
    return f"{value.normalize():f}" if value else "0"


class Event:
    """What every event tells the outbox; the concrete events are frozen dataclasses."""

    __slots__ = ()
    topic: ClassVar[str]
    store_id: UUID
    at: datetime

    @property
    def aggregate_id(self) -> UUID:
        """What the event is about (the outbox row's ``aggregate_id``)."""
        raise NotImplementedError

    @property
    def dedupe_key(self) -> str | None:
        """Recorded once under this key; ``None``: every occurrence is news."""
        return None

    def payload(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class DomainEvent(Event):
    """Something that happened to an order (``OrderEvent``)."""

    topic: ClassVar[str]
    store_id: UUID
    order_id: UUID
    order_number: str | None
    at: datetime

    @property
    def aggregate_id(self) -> UUID:
        return self.order_id

    def payload(self) -> dict[str, Any]:
        return {"orderId": str(self.order_id), "orderNumber": self.order_number}


OrderEvent = DomainEvent
"""The name that says what it is: every event about an order derives from it."""


@dataclass(frozen=True, slots=True)
class OrderFinalized(DomainEvent):
    """A payment placed the order."""

    topic: ClassVar[str] = "order.finalized"
    transaction_id: str
    payment_status: PaymentStatus
    amount: Decimal
    currency: str

    @property
    def dedupe_key(self) -> str | None:
        return f"{self.topic}:{self.order_id}"

    def payload(self) -> dict[str, Any]:
        return {"orderId": str(self.order_id), "orderNumber": self.order_number,
                "transactionId": self.transaction_id,
                "paymentStatus": self.payment_status.value, "amount": f"{self.amount:f}",
                "currency": self.currency}


@dataclass(frozen=True, slots=True)
class StockShortfall(DomainEvent):
    """The order was placed with less stock left than it holds (sold meanwhile)."""

    topic: ClassVar[str] = "order.stock_shortfall"
    placed: OrderFinalized
    lines: tuple[tuple[str, Decimal], ...]
    """(sku, quantity short)."""

    def payload(self) -> dict[str, Any]:
        return {**self.placed.payload(),
                "lines": [{"sku": sku, "quantity": f"{quantity:f}"}
                          for sku, quantity in self.lines]}


@dataclass(frozen=True, slots=True)
class PaymentFailed(DomainEvent):
    """A payment of the open order was cancelled or failed; the cart stays payable."""

    topic: ClassVar[str] = "order.payment_failed"
    payment_status: PaymentStatus
    reference: str
    checkout: str
    amount: Decimal

    @property
    def dedupe_key(self) -> str | None:
        return f"{self.topic}:{self.reference}:{self.payment_status.value}"

    def payload(self) -> dict[str, Any]:
        return {"orderId": str(self.order_id), "orderNumber": self.order_number,
                "paymentStatus": self.payment_status.value, "reference": self.reference,
                "checkout": self.checkout, "amount": f"{self.amount:f}"}


@dataclass(frozen=True, slots=True)
class PaymentNotApplied(DomainEvent):
    """Money was taken that the order cannot use: the shop must give it back."""

    topic: ClassVar[str] = "payment.not_applied"
    transaction_id: str
    reference: str
    payment_status: PaymentStatus
    amount: Decimal
    currency: str | None
    reason: str

    @property
    def dedupe_key(self) -> str | None:
        return f"{self.topic}:{self.transaction_id}"

    def payload(self) -> dict[str, Any]:
        return {"orderId": str(self.order_id), "orderNumber": self.order_number,
                "transactionId": self.transaction_id, "reference": self.reference,
                "paymentStatus": self.payment_status.value, "amount": f"{self.amount:f}",
                "currency": self.currency, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class PaymentGivenBack(DomainEvent):
    """A payment that was not applied was voided or refunded at the gateway."""

    topic: ClassVar[str] = "payment.not_applied_given_back"
    transaction_id: str
    operation: str
    amount: Decimal
    currency: str | None
    payment_status: PaymentStatus
    reason: str

    @property
    def dedupe_key(self) -> str | None:
        return f"{self.topic}:{self.transaction_id}"

    def payload(self) -> dict[str, Any]:
        return {"orderId": str(self.order_id), "orderNumber": self.order_number,
                "transactionId": self.transaction_id, "operation": self.operation,
                "amount": f"{self.amount:f}", "currency": self.currency,
                "paymentStatus": self.payment_status.value, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class PaymentGiveBackFailed(DomainEvent):
    """The gateway did not void or refund a payment that was not applied."""

    topic: ClassVar[str] = "payment.not_applied_give_back_failed"
    transaction_id: str
    operation: str
    amount: Decimal
    currency: str | None
    error: str
    reason: str

    @property
    def dedupe_key(self) -> str | None:
        return f"{self.topic}:{self.transaction_id}"

    def payload(self) -> dict[str, Any]:
        return {"orderId": str(self.order_id), "orderNumber": self.order_number,
                "transactionId": self.transaction_id, "operation": self.operation,
                "amount": f"{self.amount:f}", "currency": self.currency,
                "error": self.error, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class PaymentStatusChanged(DomainEvent):
    """The placed order's payment moved on (captured, cancelled, refunded …)."""

    topic: ClassVar[str] = "order.payment_status_changed"
    transaction_id: str | None
    payment_status: PaymentStatus
    previous: PaymentStatus | None
    amount: Decimal | None
    currency: str | None
    cause: str = field(default="")
    """What reported it (an operation id or a gateway event id): once per cause."""

    @property
    def dedupe_key(self) -> str | None:
        return f"{self.topic}:{self.order_id}:{self.cause}"

    def payload(self) -> dict[str, Any]:
        return {"orderId": str(self.order_id), "orderNumber": self.order_number,
                "transactionId": self.transaction_id,
                "paymentStatus": self.payment_status.value,
                "previousPaymentStatus": None if self.previous is None
                else self.previous.value,
                "amount": _amount(self.amount), "currency": self.currency}


# --- what the shop does with a placed order (the management API and commands) -----------


def _lines(lines: tuple[tuple[UUID, str, Decimal], ...]) -> list[dict[str, str]]:
    return [{"lineId": str(line_id), "sku": sku, "quantity": f"{quantity:f}"}
            for line_id, sku, quantity in lines]


@dataclass(frozen=True, slots=True)
class OrderStatusChanged(DomainEvent):
    """The shop moved the order to another of the store's order statuses."""

    topic: ClassVar[str] = "order.status_changed"
    status_id: UUID | None
    status_alias: str | None
    previous_id: UUID | None
    previous_alias: str | None

    def payload(self) -> dict[str, Any]:
        def status(status_id: UUID | None, alias: str | None) -> dict[str, str] | None:
            return None if status_id is None else {"id": str(status_id), "alias": alias or ""}
        return {"orderId": str(self.order_id), "orderNumber": self.order_number,
                "orderStatus": status(self.status_id, self.status_alias),
                "previousOrderStatus": status(self.previous_id, self.previous_alias)}


@dataclass(frozen=True, slots=True)
class OrderFulfilled(DomainEvent):
    """A shipment of some or all of the order's lines left."""

    topic: ClassVar[str] = "order.fulfilled"
    fulfilment_id: UUID
    lines: tuple[tuple[UUID, str, Decimal], ...]
    """(line id, sku, quantity shipped)."""
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    fulfilment_status: str

    @property
    def dedupe_key(self) -> str | None:
        return f"{self.topic}:{self.fulfilment_id}"

    def payload(self) -> dict[str, Any]:
        return {"orderId": str(self.order_id), "orderNumber": self.order_number,
                "fulfilmentId": str(self.fulfilment_id), "lines": _lines(self.lines),
                "carrier": self.carrier, "trackingNumber": self.tracking_number,
                "trackingUrl": self.tracking_url, "fulfilmentStatus": self.fulfilment_status}


@dataclass(frozen=True, slots=True)
class OrderCanceled(DomainEvent):
    """The shop canceled the order: its payment voided or refunded, its lines restocked."""

    topic: ClassVar[str] = "order.canceled"
    reason: str | None
    payment: str | None
    """What was done with the payment: ``voided``, ``refunded``, or ``None``."""
    refunded: Decimal | None
    currency: str | None
    restocked: tuple[tuple[UUID, str, Decimal], ...]

    @property
    def dedupe_key(self) -> str | None:
        return f"{self.topic}:{self.order_id}"

    def payload(self) -> dict[str, Any]:
        return {"orderId": str(self.order_id), "orderNumber": self.order_number,
                "reason": self.reason, "payment": self.payment,
                "refunded": _amount(self.refunded), "currency": self.currency,
                "restocked": _lines(self.restocked)}


@dataclass(frozen=True, slots=True)
class PaymentCaptured(DomainEvent):
    """Money was taken for the order: an authorization captured, or a payment recorded
    by hand (``manual``, e.g. an invoice paid by bank transfer)."""

    topic: ClassVar[str] = "payment.captured"
    record_id: UUID
    transaction_id: str | None
    amount: Decimal
    currency: str | None
    manual: bool
    reference: str | None

    @property
    def dedupe_key(self) -> str | None:
        return f"{self.topic}:{self.record_id}"

    def payload(self) -> dict[str, Any]:
        return {"orderId": str(self.order_id), "orderNumber": self.order_number,
                "paymentId": str(self.record_id), "transactionId": self.transaction_id,
                "amount": f"{self.amount:f}", "currency": self.currency,
                "manual": self.manual, "reference": self.reference}


@dataclass(frozen=True, slots=True)
class PaymentRefunded(DomainEvent):
    """Money was given back: through the payment's provider, or recorded by hand."""

    topic: ClassVar[str] = "payment.refunded"
    refund_id: UUID
    transaction_id: str | None
    amount: Decimal
    currency: str | None
    manual: bool
    reason: str | None
    lines: tuple[tuple[UUID, str, Decimal], ...]
    refunded_total: Decimal
    payment_status: PaymentStatus | None

    @property
    def dedupe_key(self) -> str | None:
        return f"{self.topic}:{self.refund_id}"

    def payload(self) -> dict[str, Any]:
        return {"orderId": str(self.order_id), "orderNumber": self.order_number,
                "refundId": str(self.refund_id), "transactionId": self.transaction_id,
                "amount": f"{self.amount:f}", "currency": self.currency,
                "manual": self.manual, "reason": self.reason, "lines": _lines(self.lines),
                "refundedTotal": f"{self.refunded_total:f}",
                "paymentStatus": None if self.payment_status is None
                else self.payment_status.value}


@dataclass(frozen=True, slots=True)
class StockAdjusted(Event):
    """Staff (or the command line) changed an item's stock on hand: a delivery received,
    a count, breakage, a return."""

    topic: ClassVar[str] = "stock.adjusted"
    store_id: UUID
    item_id: UUID
    """The product, or the variant where stock is kept per variant."""
    product_reference: str
    variant_reference: str | None
    sku: str
    name: str
    change: Decimal
    """Signed units (a count records the difference it found, possibly 0)."""
    on_hand: Decimal
    """Stock on hand after the change."""
    available: Decimal
    """On hand less what checkouts hold now."""
    reason: str
    note: str | None
    ledger_entry_id: UUID
    actor: str
    at: datetime

    @property
    def aggregate_id(self) -> UUID:
        return self.item_id

    def payload(self) -> dict[str, Any]:
        return {"itemId": str(self.item_id), "productReference": self.product_reference,
                "variantReference": self.variant_reference, "sku": self.sku,
                "name": self.name, "change": units(self.change),
                "onHand": units(self.on_hand), "available": units(self.available),
                "reason": self.reason, "note": self.note,
                "ledgerEntryId": str(self.ledger_entry_id), "actor": self.actor}


EVENTS: tuple[type[Event], ...] = (
    OrderFinalized, PaymentFailed, PaymentStatusChanged, StockShortfall, PaymentNotApplied,
    PaymentGivenBack, PaymentGiveBackFailed, OrderStatusChanged, OrderFulfilled,
    OrderCanceled, PaymentCaptured, PaymentRefunded, StockAdjusted)
"""Every kind of event the outbox records."""

TOPICS = tuple(event.topic for event in EVENTS)
"""Every topic an event is recorded under: what merchant webhooks can subscribe to."""

ORDER_TOPICS = frozenset(event.topic for event in EVENTS if issubclass(event, DomainEvent))
"""The topics of events about an order (their aggregate is the order)."""


def is_order_topic(topic: str) -> bool:
    """Whether events of ``topic`` are about an order (their aggregate id is its id)."""
    return topic in ORDER_TOPICS
