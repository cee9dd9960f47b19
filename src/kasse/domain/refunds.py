"""Refunds: never more than was captured, by amount or by lines, through the payment's
provider or recorded by hand.

What may be refunded now is what was captured, less what was refunded and less the
refunds asked of a gateway whose answer is not recorded yet (*pending*). A refund is
added to pending before its gateway is called, in the same transaction that checks it,
so refunds racing each other (in any number of processes) can never give back more
than was captured together; its answer then moves it from pending to refunded, or
frees it again.

A refund by lines gives back what the shopper paid for those units: the line's total
with tax spread over its units, so that refunding every unit of a line, in any number
of steps, gives back exactly the line's total. Refunded units count first against the
units not shipped yet (see ``fulfilment.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from kasse.domain.errors import InvalidInput
from kasse.domain.events import PaymentRefunded
from kasse.domain.fulfilment import fulfilment_status
from kasse.domain.money import round_to
from kasse.domain.order import Order, OrderLine
from kasse.domain.order_calculation import calculate
from kasse.domain.payment import PaymentStatus
from kasse.domain.payment_operations import (
    PaymentOperationKind,
    PaymentRecord,
    check_allowed,
    check_amount,
    move_payment,
)
from kasse.domain.placed_order import ZERO, LineQuantity, label, lines_of
from kasse.domain.store import StoreConfig
from kasse.domain.text import has_control_characters

MAX_REASON = 500


class RefundTooLarge(InvalidInput):
    """More than is left to refund was asked for."""

    code = "refund_exceeds_refundable"


@dataclass(frozen=True, slots=True)
class RefundRequest:
    amount: Decimal | None = None
    """``None``: what the lines cost, or without lines all that is refundable."""
    lines: tuple[LineQuantity, ...] = ()
    reason: str | None = None
    restock: bool = False
    """Put the refunded lines' units back into stock (they came back)."""
    manual: bool = False
    """Record the refund as made outside kasse instead of asking the provider."""


@dataclass(frozen=True, slots=True)
class RefundPlan:
    amount: Decimal
    lines: tuple[LineQuantity, ...]
    reason: str | None
    restock: bool
    warnings: tuple[str, ...]


def refundable(order: Order) -> Decimal:
    """What may be refunded now: captured, less refunded, less pending (never below 0)."""
    return refundable_amount(order.captured_amount, order.refunded_amount,
                             order.refund_pending_amount)


def refundable_amount(captured: Decimal | None, refunded: Decimal | None,
                      pending: Decimal | None) -> Decimal:
    """``refundable`` of an order's amounts as stored (one not known counts as 0)."""
    left = (captured or ZERO) - (refunded or ZERO) - (pending or ZERO)
    return max(left, ZERO)


def paid_for_units(line_total: Decimal, quantity: Decimal, refunded_before: Decimal,
                   units: Decimal, decimal_places: int) -> Decimal:
    """What ``units`` more of a line cost, ``refunded_before`` units of it being refunded
    already: the difference of the line total's shares of the units refunded after and
    before (each rounded; the share of every unit is the whole total)."""
    total = round_to(line_total, decimal_places)  # exact when the store rounds at the total

    def share(refunded: Decimal) -> Decimal:
        if refunded >= quantity:
            return total
        return round_to(total * refunded / quantity, decimal_places)
    return share(refunded_before + units) - share(refunded_before)


def line_totals(order: Order, config: StoreConfig) -> dict[UUID, Decimal]:
    """What the shopper paid for each top-level line (its total with tax, after the
    discounts on lines), as the order was priced when it was placed."""
    calculation = calculate(order, config)
    return {line.id: calculation.lines[line.id].total_price.value.with_tax
            for line in order.lines}


def clean_reason(reason: str | None) -> str | None:
    if reason is None or not reason.strip():
        return None
    if len(reason) > MAX_REASON or has_control_characters(reason):
        raise InvalidInput(f"reason must be at most {MAX_REASON} printable characters")
    return reason.strip()


def plan_refund(order: Order, totals: Mapping[UUID, Decimal], request: RefundRequest,
                decimal_places: int) -> RefundPlan:
    """Check a refund and work out its amount; raises saying why it may not be done.

    ``totals``: what each top-level line cost (``line_totals``).
    """
    check_allowed(order, PaymentOperationKind.REFUND)
    reason = clean_reason(request.reason)
    if request.restock and not request.lines:
        raise InvalidInput("restock needs lines: name the lines whose units came back")
    warnings: list[str] = []
    by_lines = ZERO
    for line, units in lines_of(order, request.lines) if request.lines else []:
        left = line.quantity - line.refunded_quantity
        if units > left:
            raise InvalidInput(f"cannot refund {units:f} of {line.name}: {left:f} of "
                               f"{line.quantity:f} are left to refund")
        if request.restock and units > line.quantity - line.restocked_quantity:
            raise InvalidInput(f"cannot restock {units:f} of {line.name}: "
                               f"{line.restocked_quantity:f} of {line.quantity:f} were "
                               "restocked already")
        by_lines += paid_for_units(totals[line.id], line.quantity, line.refunded_quantity,
                                   units, decimal_places)
        if line.fulfilled_quantity > 0:
            warnings.append(f"{line.fulfilled_quantity:f} of {line.quantity:f} × "
                            f"{line.name} were shipped")
    left = refundable(order)
    if request.amount is not None:
        amount = check_amount(request.amount, decimal_places, "refund")
    else:
        amount = by_lines if request.lines else left
    if amount <= 0 or amount > left:
        raise RefundTooLarge(
            f"cannot refund {amount:f} of order {label(order)}: {left:f} is left to refund "
            f"(captured {order.captured_amount or ZERO:f}, refunded "
            f"{order.refunded_amount or ZERO:f}, pending "
            f"{order.refund_pending_amount or ZERO:f})")
    return RefundPlan(amount, tuple(request.lines), reason, request.restock,
                      tuple(warnings))


def begin_refund(order: Order, plan: RefundPlan) -> None:
    """Hold the refund's amount and units against the order while its gateway is asked
    (what is checked next counts them)."""
    order.refund_pending_amount = (order.refund_pending_amount or ZERO) + plan.amount
    for line, units in _units(order, plan.lines):
        line.refunded_quantity += units
    _refresh_fulfilment(order)


def refund_failed(order: Order, record: PaymentRecord, at: datetime) -> None:
    """The gateway did not refund: what was held is free again."""
    amount = record.amount or ZERO
    order.refund_pending_amount = max((order.refund_pending_amount or ZERO) - amount, ZERO)
    for line, units in _units(order, record.lines):
        line.refunded_quantity = max(line.refunded_quantity - units, ZERO)
    _refresh_fulfilment(order)
    order.updated_at = at


def refund_succeeded(order: Order, record: PaymentRecord, at: datetime, *,
                     currency_code: str | None) -> list[tuple[OrderLine, Decimal]]:
    """The refund went through: pending becomes refunded, the payment's status moves on
    (refunded in full or in part), a ``payment.refunded`` event is recorded. Returns the
    lines and units to put back into stock (``record.restock``)."""
    amount = record.amount or ZERO
    order.refund_pending_amount = max((order.refund_pending_amount or ZERO) - amount, ZERO)
    captured = order.captured_amount or ZERO
    # A gateway's "refunded" webhook may have counted this refund already.
    order.refunded_amount = min((order.refunded_amount or ZERO) + amount, captured)
    status = (PaymentStatus.REFUNDED if order.refunded_amount >= captured
              else PaymentStatus.PARTIALLY_REFUNDED)
    move_payment(order, status, at, cause=record.operation_id or f"refund:{record.id}",
                 amount=amount, currency_code=currency_code)
    restock = []
    for line, units in _units(order, record.lines):
        if record.restock:
            line.restocked_quantity += units
            restock.append((line, units))
    order.updated_at = at
    order.events.append(PaymentRefunded(
        order.store_id, order.id, order.order_number, at, record.id, order.transaction_id,
        amount, currency_code, record.manual, record.reason,
        tuple((line.id, line.sku, units) for line, units in _units(order, record.lines)),
        order.refunded_amount, order.payment_status))
    return restock


def _refresh_fulfilment(order: Order) -> None:
    """Units refunded before they were shipped are not to ship any more."""
    if order.fulfilment_status is not None:
        order.fulfilment_status = fulfilment_status(order)


def _units(order: Order, lines: tuple[LineQuantity, ...]
           ) -> list[tuple[OrderLine, Decimal]]:
    by_id = {line.id: line for line in order.lines}
    return [(by_id[item.line_id], item.quantity) for item in lines
            if item.line_id in by_id]
