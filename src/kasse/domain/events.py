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


TOPICS = tuple(event.topic for event in (
    OrderFinalized, PaymentFailed, PaymentStatusChanged, StockShortfall, PaymentNotApplied,
    PaymentGivenBack, PaymentGiveBackFailed))
"""Every topic an order's events are recorded under."""
