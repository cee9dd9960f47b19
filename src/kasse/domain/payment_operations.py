"""What the shop may do with a placed order's payment, and what each does to the order:
capture an authorization, void it, refund what was captured (``refunds.py``), or record
a payment that was made outside kasse (an invoice paid by bank transfer).

The table below says which operation may start from which payment status; the payment's
status then moves only through the settlement machine (``settlement.py``), which every
path that hears of a payment shares. Operations that call a gateway are recorded as
``PaymentRecord``s: pending while the gateway is asked, then succeeded or failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from kasse.domain.errors import Conflict, InvalidInput
from kasse.domain.money import require_precision
from kasse.domain.order import Order
from kasse.domain.payment import PaymentStatus
from kasse.domain.placed_order import LineQuantity, ensure_not_canceled, ensure_placed, label
from kasse.domain.settlement import PaymentNews, Settlement, advance, settle
from kasse.domain.text import has_control_characters

MAX_REFERENCE = 200


class PaymentOperationKind(StrEnum):
    CAPTURE = "capture"
    VOID = "void"
    """Cancel an authorization: nothing is taken."""
    REFUND = "refund"
    PAYMENT = "payment"
    """A payment made outside kasse, recorded by hand."""


class RecordStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class OperationNotAllowed(Conflict):
    """The payment is not in a state this operation applies to."""

    code = "payment_operation_not_allowed"


ALLOWED_FROM: dict[PaymentOperationKind, frozenset[PaymentStatus]] = {
    PaymentOperationKind.CAPTURE: frozenset({PaymentStatus.AUTHORIZED}),
    PaymentOperationKind.VOID: frozenset({PaymentStatus.AUTHORIZED}),
    PaymentOperationKind.REFUND: frozenset({PaymentStatus.CAPTURED,
                                            PaymentStatus.PARTIALLY_REFUNDED}),
    PaymentOperationKind.PAYMENT: frozenset({PaymentStatus.AUTHORIZED,
                                             PaymentStatus.PENDING_EXTERNAL_SYSTEM}),
}
"""The one table of which payment statuses each operation starts from."""

_HINTS = {
    PaymentOperationKind.CAPTURE: "",
    PaymentOperationKind.VOID: "",
    PaymentOperationKind.REFUND: " (an authorized payment is captured first, or voided by "
                                 "canceling the order)",
    PaymentOperationKind.PAYMENT: "",
}


@dataclass(slots=True)
class PaymentRecord:
    """One capture, void, refund or recorded payment of an order."""

    id: UUID
    order_id: UUID
    store_id: UUID
    kind: PaymentOperationKind
    status: RecordStatus
    amount: Decimal | None
    currency_code: str
    created_at: datetime
    provider_alias: str | None = None
    transaction_id: str | None = None
    operation_id: str | None = None
    """The gateway's idempotency key for this operation."""
    manual: bool = False
    """Done outside kasse's providers (recorded by hand)."""
    reference: str | None = None
    reason: str | None = None
    lines: tuple[LineQuantity, ...] = ()
    restock: bool = False
    """A refund by lines that puts its units back into stock once it succeeds."""
    actor: str | None = None
    error: str | None = None
    completed_at: datetime | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)
    """What the shop should know about it (not stored)."""

    def succeed(self, at: datetime, amount: Decimal | None = None) -> None:
        self.status = RecordStatus.SUCCEEDED
        self.completed_at = at
        if amount is not None:
            self.amount = amount

    def fail(self, at: datetime, error: str) -> None:
        self.status = RecordStatus.FAILED
        self.completed_at = at
        self.error = error[:500]


def check_allowed(order: Order, kind: PaymentOperationKind) -> None:
    """Raise unless the order is placed and its payment status lets ``kind`` start."""
    ensure_placed(order)
    status = order.payment_status
    allowed = ALLOWED_FROM[kind]
    if status not in allowed:
        wanted = " or ".join(sorted(s.value for s in allowed))
        now = status.value if status else "unknown"
        raise OperationNotAllowed(
            f"cannot {kind.value} the payment of order {label(order)}: it is {now}, and "
            f"{kind.value} needs {wanted}{_HINTS[kind]}")


def check_amount(amount: Decimal, decimal_places: int, what: str) -> Decimal:
    require_precision(amount, decimal_places)
    if amount <= 0:
        raise InvalidInput(f"the amount to {what} must be more than 0")
    return amount


def check_capture(order: Order, amount: Decimal | None, decimal_places: int) -> Decimal:
    """What to capture (``None``: all that was authorized); raises when it may not be."""
    ensure_placed(order)
    ensure_not_canceled(order, "captured")
    check_allowed(order, PaymentOperationKind.CAPTURE)
    authorized = order.authorized_amount or Decimal(0)
    if amount is None:
        return authorized
    check_amount(amount, decimal_places, "capture")
    if amount > authorized:
        raise InvalidInput(f"cannot capture {amount:f}: the authorization is "
                           f"{authorized:f}")
    return amount


def check_void(order: Order) -> None:
    check_allowed(order, PaymentOperationKind.VOID)


def check_payment(order: Order, amount: Decimal | None, reference: str,
                  decimal_places: int, *, provider_can_capture: bool) -> Decimal:
    """What a payment recorded by hand marks paid (``None``: the amount due); raises
    when the payment is not waiting for one."""
    ensure_placed(order)
    ensure_not_canceled(order, "marked paid")
    check_allowed(order, PaymentOperationKind.PAYMENT)
    if provider_can_capture and order.payment_status is PaymentStatus.AUTHORIZED:
        raise OperationNotAllowed(
            f"the payment of order {label(order)} is an authorization its provider can "
            "capture: capture it instead of recording a payment")
    clean_reference(reference)
    due = order.authorized_amount or Decimal(0)
    if amount is None:
        return due
    check_amount(amount, decimal_places, "record")
    if amount > due:
        raise InvalidInput(f"cannot record {amount:f}: the order's amount due is {due:f}")
    return amount


def clean_reference(reference: str) -> str:
    text = reference.strip()
    if not text or len(text) > MAX_REFERENCE or has_control_characters(reference):
        raise InvalidInput(f"reference must be 1 to {MAX_REFERENCE} printable characters "
                           "(e.g. the bank transfer's reference)")
    return text


def move_payment(order: Order, status: PaymentStatus, at: datetime, *, cause: str,
                 amount: Decimal | None, currency_code: str | None) -> bool:
    """Tell the settlement machine the payment is now ``status`` (the shop's own news);
    True when it moved (False: it already showed that status, e.g. the webhook was
    first)."""
    news = PaymentNews(order.transaction_id or "", status, amount)
    if settle(order, news) is not Settlement.ADVANCE:
        return False
    advance(order, news, at, cause=cause, currency_code=currency_code)
    return True


def captured(order: Order, amount: Decimal, at: datetime, *, cause: str,
             currency_code: str | None) -> None:
    """The authorization was captured (or a payment recorded): ``amount`` was taken."""
    move_payment(order, PaymentStatus.CAPTURED, at, cause=cause, amount=amount,
                 currency_code=currency_code)
    # The gateway's webhook may have been first, with the authorization's amount: the
    # operation's own answer says what was taken.
    order.captured_amount = amount
    order.updated_at = at


def voided(order: Order, at: datetime, *, cause: str) -> None:
    move_payment(order, PaymentStatus.CANCELLED, at, cause=cause, amount=None,
                 currency_code=None)
    order.updated_at = at
