"""The payment settlement machine: what news of a payment does to an order.

Every path that hears of a payment — the shopper's return from the gateway, the gateway's
webhook, the storefront's inline confirm, and the shop's own capture, cancel and refund —
asks :func:`settle` what the news means for the order as it is now (read under the
order's lock), then carries out that one decision. The rules live here only:

* **A repeat is the same transaction, status and amount** (the amount when the news has
  one): answered like the first time, on every path.
* A proven payment for an open order **finalizes** it.
* News of the order's own payment that moves its status forward (captured, cancelled,
  refunded) **advances** it; anything else about it is **stale** (a "failed" after
  "succeeded" never downgrades a placed order).
* A successful payment of **another** transaction for a placed order was **not applied**:
  the money must be given back. A storefront's *claim* (an inline confirm) about another
  transaction, or contradicting the order's own payment, is a **conflict** instead.
* A failure of the open order's current payment attempt **fails** the payment (the cart
  stays payable); failures of an older attempt, or repeated ones, are stale.

Which operations the shop may start from which payment status (capture, void, refund, a
payment recorded by hand) is ``payment_operations.py``'s table; their outcomes come back
here as news.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from kasse.domain.order import Order
from kasse.domain.payment import PaymentStatus, moves_forward


class Settlement(StrEnum):
    FINALIZE = "finalize"
    """A proven payment for the open order: place it."""
    REPEAT = "repeat"
    """News of the payment that placed the order, saying nothing new."""
    ADVANCE = "advance"
    """The placed order's own payment moved forward (captured, cancelled, refunded)."""
    NOT_APPLIED = "not_applied"
    """Money taken by another transaction that the placed order cannot use."""
    CONFLICT = "conflict"
    """A claim (inline confirm) that contradicts the placed order's payment."""
    FAIL = "fail"
    """The open order's current payment was cancelled or failed: the cart stays payable."""
    STALE = "stale"
    """News that changes nothing: late, out of order, or about an older attempt."""


@dataclass(frozen=True, slots=True)
class PaymentNews:
    """What a gateway reports, or a storefront claims, about one payment."""

    transaction_id: str
    status: PaymentStatus
    amount: Decimal | None = None
    claimed: bool = False
    """A storefront's statement (inline confirm) rather than the gateway's own report:
    it can place an order or repeat itself, never move a placed order's payment on."""


def is_repeat(order: Order, news: PaymentNews) -> bool:
    """The one rule for "the same payment again", whoever reports it."""
    return (order.is_finalized and order.transaction_id == news.transaction_id
            and order.payment_status is news.status
            and (news.amount is None or news.amount == order.authorized_amount))


def settle(order: Order, news: PaymentNews, *, current_attempt: bool = True) -> Settlement:
    """What ``news`` means for ``order`` as it is now.

    ``current_attempt``: the news is about the order's latest checkout attempt (failures
    of an older one must not paint a payment under way as failed).
    """
    if not order.is_finalized:
        if news.status.finalizes:
            return Settlement.FINALIZE
        if news.status.fails and current_attempt and not news.claimed:
            return Settlement.FAIL
        return Settlement.STALE
    if is_repeat(order, news):
        return Settlement.REPEAT
    if order.transaction_id == news.transaction_id:
        if news.claimed:
            return Settlement.CONFLICT
        current = order.payment_status or PaymentStatus.AUTHORIZED
        return Settlement.ADVANCE if moves_forward(current, news.status) \
            else Settlement.STALE
    if news.claimed:
        return Settlement.CONFLICT
    return Settlement.NOT_APPLIED if news.status.finalizes else Settlement.STALE


def advance(order: Order, news: PaymentNews, at: datetime, *, cause: str,
            currency_code: str | None) -> None:
    """Carry out ``ADVANCE``: the payment's new status, and the money the news says moved
    where the order does not know it yet. A capture reported by the gateway sets what was
    captured (when unknown); a full refund makes everything captured refunded, less the
    refunds still waiting for their gateway's answer (those record themselves)."""
    order.advance_payment(news.status, at, cause=cause, amount=news.amount,
                          currency_code=currency_code)
    if news.status is PaymentStatus.CAPTURED and order.captured_amount is None:
        order.captured_amount = (news.amount if news.amount is not None
                                 else order.authorized_amount)
    elif news.status is PaymentStatus.REFUNDED:
        captured = order.captured_amount
        if captured is None:
            captured = order.captured_amount = order.authorized_amount
        if captured is not None:
            pending = order.refund_pending_amount or Decimal(0)
            order.refunded_amount = max(order.refunded_amount or Decimal(0),
                                        captured - pending)
