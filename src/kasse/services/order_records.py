"""What the staff read about placed orders: a summary per order (the list row), and an
order's history after checkout (payments, refunds, shipments, notes, status changes,
audit entries and webhook deliveries), merged into one timeline.

These are read models: rows as the database holds them, never saved back. An order
placed before a column was written shows ``None`` there (what is not known), never a
figure computed after the fact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from kasse.domain.audit import AuditEntry
from kasse.domain.order import Order
from kasse.domain.order_properties import customer_info
from kasse.domain.refunds import refundable_amount
from kasse.domain.store import StoreConfig


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """One placed order as the staff's lists show it."""

    id: UUID
    store_id: UUID
    order_number: str | None
    cart_number: str
    placed_at: datetime | None
    """``None`` only for a cart (never in a list)."""
    currency_id: UUID
    email: str | None
    first_name: str | None
    last_name: str | None
    customer_reference: str | None
    total_price: Decimal | None
    order_status_id: UUID | None
    payment_status: str | None
    fulfilment_status: str | None
    captured: Decimal | None
    refunded: Decimal | None
    refund_pending: Decimal | None
    canceled_at: datetime | None
    tags: tuple[str, ...]
    version: int

    @classmethod
    def of_order(cls, order: Order) -> OrderSummary:
        """The summary of an order as loaded (what an action answers with)."""
        info = customer_info(order.properties, order.customer_reference)
        return cls(
            id=order.id, store_id=order.store_id, order_number=order.order_number,
            cart_number=order.cart_number, placed_at=order.finalized_at,
            currency_id=order.currency_id, email=info.email, first_name=info.first_name,
            last_name=info.last_name, customer_reference=order.customer_reference,
            total_price=order.total_price, order_status_id=order.order_status_id,
            payment_status=order.payment_status.value if order.payment_status else None,
            fulfilment_status=(order.fulfilment_status.value
                               if order.fulfilment_status else None),
            captured=order.captured_amount, refunded=order.refunded_amount,
            refund_pending=order.refund_pending_amount, canceled_at=order.canceled_at,
            tags=tuple(order.tags), version=order.version)

    @property
    def refundable(self) -> Decimal | None:
        """What may still be refunded (``domain.refunds``); ``None`` for a cart."""
        if self.placed_at is None:
            return None
        return refundable_amount(self.captured, self.refunded, self.refund_pending)

    @property
    def customer_name(self) -> str | None:
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return name or None


@dataclass(frozen=True, slots=True)
class MoneyMovement:
    """A row of ``order_payments``: a capture, a recorded payment, a refund or a void."""

    id: UUID
    kind: str
    status: str
    amount: Decimal | None
    currency_code: str
    provider_alias: str | None
    transaction_id: str | None
    manual: bool
    reference: str | None
    reason: str | None
    lines: tuple[dict[str, Any], ...]
    actor: str | None
    error: str | None
    at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class CheckoutPayment:
    """The payment the order was placed with (its checkout transaction)."""

    transaction_id: str | None
    provider_alias: str | None
    payment_method: str | None
    payment_status: str | None
    authorized: Decimal | None
    fee: Decimal | None
    kind: str | None
    """``hosted`` or ``inline``: how the shopper paid."""
    at: datetime


@dataclass(frozen=True, slots=True)
class Shipment:
    id: UUID
    lines: tuple[dict[str, Any], ...]
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    actor: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Note:
    id: UUID
    body: str
    actor: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class StatusChange:
    id: UUID
    from_status_id: UUID | None
    to_status_id: UUID | None
    actor: str | None
    at: datetime


def shown_url(url: str) -> str:
    """A receiver's address without what may be a secret in it (a user and password, the
    query string): what the staff are shown of a webhook endpoint."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(not a valid address)"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True, slots=True)
class WebhookDeliveryRecord:
    """A merchant webhook delivery of one of the order's events."""

    id: UUID
    topic: str
    endpoint_url: str
    """As ``shown_url`` shows it."""
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    at: datetime
    last_attempt_at: datetime | None
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class OrderHistory:
    """Everything recorded about a placed order after its checkout, oldest first."""

    movements: tuple[MoneyMovement, ...] = ()
    shipments: tuple[Shipment, ...] = ()
    notes: tuple[Note, ...] = ()
    status_changes: tuple[StatusChange, ...] = ()
    audit: tuple[AuditEntry, ...] = ()
    deliveries: tuple[WebhookDeliveryRecord, ...] = ()
    checkout_kind: str | None = None
    """How the shopper paid: ``hosted`` or ``inline`` (``None``: not known)."""


@dataclass(frozen=True, slots=True)
class TimelineItem:
    at: datetime
    kind: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


def _money(value: Decimal | None, code: str | None, config: StoreConfig,
           currency_id: UUID) -> str:
    if value is None:
        return "an unknown amount"
    currency = config.currency_by_id(currency_id)
    places = currency.decimal_places if currency is not None else 2
    return f"{value.quantize(Decimal(1).scaleb(-places)):f} {code or ''}".strip()


def _by(actor: str | None) -> str:
    return f" by {actor}" if actor else ""


def timeline(summary: OrderSummary, checkout: CheckoutPayment | None, history: OrderHistory,
             config: StoreConfig) -> list[TimelineItem]:
    """The order's life in one list, newest first: placed, every movement of money,
    shipment, note, status change, audit entry and webhook delivery."""
    currency = config.currency_by_id(summary.currency_id)
    code = currency.code if currency is not None else None

    def status_name(status_id: UUID | None) -> str:
        status = config.order_status_by_id(status_id)
        return status.name if status is not None else ("none" if status_id is None
                                                       else str(status_id))

    items = [TimelineItem(summary.placed_at, "placed",
                          f"Order {summary.order_number or summary.cart_number} placed",
                          {"orderNumber": summary.order_number})
             ] if summary.placed_at is not None else []
    if checkout is not None:
        items.append(TimelineItem(
            checkout.at, "payment",
            f"Payment {checkout.payment_status or 'unknown'}: "
            f"{_money(checkout.authorized, code, config, summary.currency_id)} through "
            f"{checkout.provider_alias or 'an unknown provider'}",
            {"transactionId": checkout.transaction_id}))
    for m in history.movements:
        kind = "refund" if m.kind == "refund" else "payment"
        how = " (recorded by hand)" if m.manual else ""
        items.append(TimelineItem(
            m.at, kind, f"{m.kind.capitalize()} of "
            f"{_money(m.amount, m.currency_code, config, summary.currency_id)} {m.status}"
            f"{how}{_by(m.actor)}", {"id": str(m.id)}))
    for s in history.shipments:
        tracking = f", {s.carrier or 'carrier'} {s.tracking_number}" \
            if s.tracking_number else ""
        items.append(TimelineItem(s.at, "fulfilment",
                                  f"Shipped {len(s.lines)} line(s){tracking}{_by(s.actor)}",
                                  {"id": str(s.id)}))
    for n in history.notes:
        body = n.body if len(n.body) <= 80 else n.body[:77] + "..."
        items.append(TimelineItem(n.at, "note", f"Note{_by(n.actor)}: {body}",
                                  {"id": str(n.id)}))
    for c in history.status_changes:
        items.append(TimelineItem(
            c.at, "status", f"Status changed from {status_name(c.from_status_id)} to "
            f"{status_name(c.to_status_id)}{_by(c.actor)}", {"id": str(c.id)}))
    for a in history.audit:
        items.append(TimelineItem(a.at, "audit", f"{a.action}{_by(a.actor_name)}",
                                  {"id": str(a.id), "versionBefore": a.version_before,
                                   "versionAfter": a.version_after}))
    for d in history.deliveries:
        answer = f" (last answer {d.last_status_code})" if d.last_status_code else ""
        items.append(TimelineItem(
            d.last_attempt_at or d.at, "webhook",
            f"Webhook {d.topic} to {d.endpoint_url}: {d.status} after {d.attempts} "
            f"attempt(s){answer}", {"id": str(d.id)}))
    # Newest first; within one instant, the order things were recorded in, reversed.
    indexed = sorted(enumerate(items), key=lambda pair: (pair[1].at, pair[0]), reverse=True)
    return [item for _, item in indexed]


# --- what a search asks the storage for -------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderCriteria:
    """Which placed orders a list holds: resolved and checked values only (every
    ``None`` is "any")."""

    store_ids: tuple[UUID, ...]
    """Never empty: the stores the caller asked for and may see."""
    order_status_ids: tuple[UUID, ...] | None = None
    payment_status: str | None = None
    fulfilment_status: str | None = None
    placed_from: datetime | None = None
    """Inclusive, UTC."""
    placed_to: datetime | None = None
    """Exclusive, UTC."""
    email: str | None = None
    """Lower case, matched exactly."""
    customer_reference: str | None = None
    order_number: str | None = None
    total_min: Decimal | None = None
    total_max: Decimal | None = None
    code: str | None = None
    """A discount or gift card code the order used (upper case)."""
    text: str | None = None
    """Found anywhere in the order number, the customer's name or email."""


PLACED_AT = "placedAt"
TOTAL_PRICE = "totalPrice"
SORTS = (PLACED_AT, TOTAL_PRICE)


@dataclass(frozen=True, slots=True)
class OrderSort:
    by: str = PLACED_AT
    descending: bool = True


@dataclass(frozen=True, slots=True)
class SortKey:
    """Where a page starts: after the order with this sort value and id. Orders whose
    total is not known (``None``) come after all others, whichever the direction."""

    value: datetime | Decimal | None
    id: UUID
