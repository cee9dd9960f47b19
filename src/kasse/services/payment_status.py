"""Changing the payment status of a finalized order (captured, cancelled, refunded …),
whoever reports it: kasse's own payment operations or the gateway's webhooks."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from kasse.domain.order import Order
from kasse.domain.payment import PaymentStatus
from kasse.services.ports import OrderUnit

PAYMENT_STATUS_CHANGED = "order.payment_status_changed"


async def record_payment_status(unit: OrderUnit, order: Order, status: PaymentStatus,
                                at: datetime, *, cause: str, amount: Decimal | None = None,
                                currency_code: str | None = None) -> None:
    """Save ``status`` on the (finalized, loaded for update) order and tell the merchant
    through the outbox, once per ``cause`` (an operation id or a gateway event id)."""
    previous = order.payment_status
    order.payment_status = status.value
    order.updated_at = at
    await unit.orders.save(order)
    await unit.checkout.add_outbox_event(
        store_id=order.store_id, topic=PAYMENT_STATUS_CHANGED, aggregate_id=order.id,
        payload={"orderId": str(order.id), "orderNumber": order.order_number,
                 "transactionId": order.transaction_id, "paymentStatus": status.value,
                 "previousPaymentStatus": previous,
                 "amount": None if amount is None else f"{amount:f}",
                 "currency": currency_code},
        at=at, dedupe_key=f"{PAYMENT_STATUS_CHANGED}:{order.id}:{cause}")
