"""The shop's own changes to a placed order: its status (one of the store's order
statuses), staff notes, tags, and canceling it.

Canceling voids an authorized payment (an unpaid invoice: nothing to call), refunds what
is refundable of a captured one (through its provider, or recorded by hand where the
provider cannot refund), puts the units not shipped back into stock, and moves the
order to the store's canceled status when it has one. Shipped units stay with the
shopper and are not restocked: the answer says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from kasse.domain.errors import InvalidInput
from kasse.domain.events import OrderCanceled, OrderStatusChanged
from kasse.domain.order import Order, OrderLine, clean_tags
from kasse.domain.payment import PaymentStatus
from kasse.domain.payment_operations import PaymentOperationKind
from kasse.domain.placed_order import (
    ZERO,
    LineQuantity,
    ensure_not_canceled,
    ensure_placed,
    label,
)
from kasse.domain.refunds import RefundPlan, clean_reason, refundable
from kasse.domain.store import OrderStatus, StoreConfig
from kasse.domain.text import has_control_characters

MAX_NOTE = 5000
CANCELED_ALIASES = ("canceled", "cancelled")


@dataclass(frozen=True, slots=True)
class StatusChange:
    id: UUID
    order_id: UUID
    store_id: UUID
    from_status_id: UUID | None
    to_status_id: UUID | None
    actor: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OrderNote:
    id: UUID
    order_id: UUID
    store_id: UUID
    body: str
    actor: str | None
    created_at: datetime


def find_status(config: StoreConfig, id_or_alias: str) -> OrderStatus:
    """One of the store's order statuses, by id or alias (aliases ignore case)."""
    wanted = id_or_alias.strip()
    for status in config.order_statuses:
        if str(status.id) == wanted.lower() or status.alias.lower() == wanted.lower():
            return status
    known = ", ".join(s.alias for s in config.order_statuses) or "none"
    raise InvalidInput(f"store {config.store.alias} has no order status "
                       f"{wanted[:60]!r}; its statuses: {known}")


def canceled_status(config: StoreConfig) -> OrderStatus | None:
    """The store's status for canceled orders (alias ``canceled`` or ``cancelled``)."""
    return next((s for s in config.order_statuses
                 if s.alias.lower() in CANCELED_ALIASES), None)


def change_status(order: Order, config: StoreConfig, status: OrderStatus, at: datetime,
                  new_id: Callable[[], UUID], actor: str | None) -> StatusChange | None:
    """Move the order to ``status`` with an ``order.status_changed`` event; ``None``
    when it is in that status already (nothing changes)."""
    ensure_placed(order)
    if status.alias.lower() in CANCELED_ALIASES and order.canceled_at is None:
        raise InvalidInput(f"status {status.alias!r} is for canceled orders: cancel order "
                           f"{label(order)} instead (that voids or refunds its payment "
                           "and restocks its lines)")
    if order.order_status_id == status.id:
        return None
    return _move_status(order, config, status, at, new_id, actor)


def _move_status(order: Order, config: StoreConfig, status: OrderStatus, at: datetime,
                 new_id: Callable[[], UUID], actor: str | None) -> StatusChange:
    previous = config.order_status_by_id(order.order_status_id)
    change = StatusChange(new_id(), order.id, order.store_id, order.order_status_id,
                          status.id, actor, at)
    order.order_status_id = status.id
    order.updated_at = at
    order.events.append(OrderStatusChanged(
        order.store_id, order.id, order.order_number, at, status.id, status.alias,
        change.from_status_id, previous.alias if previous else None))
    return change


def note(order: Order, body: str, at: datetime, new_id: Callable[[], UUID],
         actor: str | None) -> OrderNote:
    """A staff note on the order (printable text, line breaks allowed)."""
    ensure_placed(order)
    text = body.strip()
    if not text or len(text) > MAX_NOTE or has_control_characters(body, multiline=True):
        raise InvalidInput(f"a note is 1 to {MAX_NOTE} printable characters (line breaks "
                           "allowed)")
    return OrderNote(new_id(), order.id, order.store_id, text, actor, at)


def change_tags(order: Order, *, add: list[str] | None = None,
                remove: list[str] | None = None, replace: list[str] | None = None,
                at: datetime) -> bool:
    """Add and remove tags, or replace them all; True when the tags changed."""
    ensure_placed(order)
    if replace is not None:
        if add or remove:
            raise InvalidInput("replace the tags, or add and remove some: not both")
        tags = clean_tags(replace)
    else:
        gone = set(clean_tags(remove or []))
        tags = [tag for tag in clean_tags([*order.tags, *clean_tags(add or [])])
                if tag not in gone]
    if tags == order.tags:
        return False
    order.tags = tags
    order.updated_at = at
    return True


# --- canceling ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CancelPlan:
    """What canceling the order does, decided before anything is done."""

    payment: PaymentOperationKind | None
    """``VOID``, ``REFUND`` or ``None`` (nothing to give back)."""
    manual: bool
    """The payment part is recorded without calling a provider."""
    refund: RefundPlan | None
    restock: tuple[LineQuantity, ...]
    status: OrderStatus | None
    reason: str | None
    warnings: tuple[str, ...]


def plan_cancel(order: Order, config: StoreConfig, *, restock: bool, reason: str | None,
                can_void: bool, can_refund: bool) -> CancelPlan:
    """Decide what canceling does (``can_void``/``can_refund``: the payment's provider
    can); raises if the order cannot be canceled."""
    ensure_placed(order)
    ensure_not_canceled(order, "canceled again")
    reason = clean_reason(reason)
    warnings: list[str] = []
    payment: PaymentOperationKind | None = None
    refund: RefundPlan | None = None
    manual = False
    status = order.payment_status
    left = refundable(order)
    if status is PaymentStatus.AUTHORIZED:
        payment, manual = PaymentOperationKind.VOID, not can_void
    elif status in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED) and left > 0:
        payment, manual = PaymentOperationKind.REFUND, not can_refund
        refund = RefundPlan(left, (), reason, False, ())
        if manual:
            warnings.append(f"the payment's provider cannot refund: {left:f} was recorded "
                            "as refunded by hand; pay it back outside kasse")
    elif status is PaymentStatus.PENDING_EXTERNAL_SYSTEM:
        warnings.append("the payment is PendingExternalSystem: kasse did not void it")
    if (order.refund_pending_amount or ZERO) > 0:
        warnings.append(f"refunds of {order.refund_pending_amount:f} are still waiting for "
                        "the gateway's answer")
    back: list[LineQuantity] = []
    for line in order.lines:
        if line.fulfilled_quantity > 0:
            warnings.append(f"{line.fulfilled_quantity:f} of {line.quantity:f} × {line.name} "
                            "were shipped: they are not restocked (refund them by lines "
                            "with restock when they come back)")
        units = _not_restocked(line)
        if restock and units > 0:
            back.append(LineQuantity(line.id, units))
    return CancelPlan(payment, manual, refund, tuple(back), canceled_status(config), reason,
                      tuple(warnings))


def _not_restocked(line: OrderLine) -> Decimal:
    """Units of the line still counted as sold that never left: not shipped, not put
    back yet (restocked units count first against those not shipped)."""
    return max(line.quantity - line.fulfilled_quantity - line.restocked_quantity, ZERO)


def begin_cancel(order: Order, at: datetime) -> None:
    """Claim the cancel while its payment is given back: fulfilments are refused from
    now on (``cancel_failed`` lets go again)."""
    order.canceled_at = at
    order.updated_at = at


def cancel_failed(order: Order, at: datetime) -> None:
    order.canceled_at = None
    order.updated_at = at


def finish_cancel(order: Order, config: StoreConfig, plan: CancelPlan, at: datetime,
                  new_id: Callable[[], UUID], actor: str | None, *,
                  currency_code: str | None) -> tuple[StatusChange | None,
                                                      list[tuple[OrderLine, Decimal]]]:
    """The payment is given back: the order is canceled, in the store's canceled status,
    with an ``order.canceled`` event. Returns the status change (if any) and the lines
    and units to put back into stock."""
    order.canceled_at = order.canceled_at or at
    order.updated_at = at
    change = None
    if plan.status is not None and order.order_status_id != plan.status.id:
        change = _move_status(order, config, plan.status, at, new_id, actor)
    by_id = {line.id: line for line in order.lines}
    restocked = []
    for item in plan.restock:
        line = by_id[item.line_id]
        # A refund with restock may have put some back since the cancel was planned.
        units = min(item.quantity, _not_restocked(line))
        if units > 0:
            line.restocked_quantity += units
            restocked.append((line, units))
    done = {PaymentOperationKind.VOID: "voided", PaymentOperationKind.REFUND: "refunded"}
    order.events.append(OrderCanceled(
        order.store_id, order.id, order.order_number, at, plan.reason,
        done.get(plan.payment) if plan.payment else None,
        plan.refund.amount if plan.refund else None, currency_code,
        tuple((line.id, line.sku, units) for line, units in restocked)))
    return change, restocked
