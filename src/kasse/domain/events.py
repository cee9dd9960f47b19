"""What happened to an order, in the past tense: recorded by the order as it changes and
drained by the unit of work into the outbox (merchant webhooks, and later the shopper's
emails) in the same transaction.

Each event says where it goes (``topic``), what it tells (``payload``, the merchant's
wire format) and, where the same news may be reported more than once (a gateway retrying,
a browser and a webhook racing), the key under which the outbox keeps it only once.
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


@dataclass(frozen=True, slots=True)
class DomainEvent:
    topic: ClassVar[str]
    store_id: UUID
    order_id: UUID
    order_number: str | None
    at: datetime

    @property
    def dedupe_key(self) -> str | None:
        """Recorded once under this key; ``None``: every occurrence is news."""
        return None

    def payload(self) -> dict[str, Any]:
        return {"orderId": str(self.order_id), "orderNumber": self.order_number}


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


TOPICS = tuple(event.topic for event in (
    OrderFinalized, PaymentFailed, PaymentStatusChanged, StockShortfall, PaymentNotApplied,
    PaymentGivenBack, PaymentGiveBackFailed, OrderStatusChanged, OrderFulfilled,
    OrderCanceled, PaymentCaptured, PaymentRefunded))
"""Every topic an order's events are recorded under."""
