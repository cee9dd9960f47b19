"""What the shop may do with a finalized order's payment: capture an authorization,
cancel (void) it, or refund what was captured, in full or in part."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from kasse.domain.errors import Conflict, InvalidInput
from kasse.domain.money import require_precision
from kasse.domain.order import Order
from kasse.domain.payment import PaymentStatus


class PaymentOperationKind(StrEnum):
    CAPTURE = "capture"
    CANCEL = "cancel"
    REFUND = "refund"


class OperationNotAllowed(Conflict):
    """The payment is not in a state this operation applies to."""

    code = "payment_operation_not_allowed"


_ALLOWED_FROM = {
    PaymentOperationKind.CAPTURE: {PaymentStatus.AUTHORIZED},
    PaymentOperationKind.CANCEL: {PaymentStatus.AUTHORIZED},
    PaymentOperationKind.REFUND: {PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED},
}


def check_operation(order: Order, kind: PaymentOperationKind, amount: Decimal | None,
                    decimal_places: int) -> None:
    """Raise unless ``kind`` (of ``amount``, ``None`` meaning all) may be done now."""
    label = order.order_number or order.cart_number
    if not order.is_finalized or not order.transaction_id:
        raise OperationNotAllowed(f"order {label} has no payment yet; only a finalized "
                                  "order's payment can be managed")
    status = order.payment_status
    allowed = _ALLOWED_FROM[kind]
    if status not in allowed:
        wanted = " or ".join(sorted(s.value for s in allowed))
        now = status.value if status else "unknown"
        raise OperationNotAllowed(f"cannot {kind.value} the payment of order {label}: it is "
                                  f"{now}, and {kind.value} needs {wanted}")
    if amount is None:
        return
    if kind is PaymentOperationKind.CANCEL:
        raise InvalidInput("a cancel takes no amount: it voids the whole authorization")
    require_precision(amount, decimal_places)
    if amount <= 0:
        raise InvalidInput(f"the amount to {kind.value} must be more than 0")
    paid = order.authorized_amount
    if paid is not None and amount > paid:
        raise InvalidInput(f"cannot {kind.value} {amount:f}: the order's payment is "
                           f"{paid:f}")
