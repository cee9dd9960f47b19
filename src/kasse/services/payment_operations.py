"""Capture, cancel and refund a finalized order's payment through its provider (the
``kasse payment`` command and the management endpoint).

Prepare, call the gateway, record: the gateway is never called inside a transaction. Each
operation has an id that a retry of the same operation reuses (the gateway's idempotency
key), while a second refund of the same amount gets a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from kasse.domain.checkout import AttemptStatus, CheckoutAttempt
from kasse.domain.errors import Conflict, NotFound
from kasse.domain.order import Order
from kasse.domain.payment import PaymentStatus
from kasse.domain.payment_operations import (
    OperationNotAllowed,
    PaymentOperationKind,
    check_operation,
)
from kasse.domain.settlement import PaymentNews, Settlement, settle
from kasse.domain.store import StoreConfig
from kasse.payments.provider import (
    ManagesPayments,
    PaymentOperation,
    PaymentRefused,
    PaymentResult,
    ProviderError,
)
from kasse.services.checkout import (
    HOSTED,
    INLINE,
    Checkout,
    GatewayUnavailable,
    method_settings,
)
from kasse.services.ports import OrderUnit
from kasse.services.retry import retrying

REFUND_COUNT = "kasseRefunds"
"""Order (server-side) property: refunds recorded so far, numbering the next one."""


class PaymentOperationRefused(Conflict):
    """The gateway refused the operation (e.g. more than is left to refund)."""

    code = "payment_operation_refused"


@dataclass(frozen=True, slots=True)
class PaymentChange:
    order: Order
    kind: PaymentOperationKind
    status: PaymentStatus
    amount: Decimal | None
    changed: bool
    """False when the order already showed this status (e.g. the webhook was first)."""


async def manage_payment(checkout: Checkout, config: StoreConfig, order_id: UUID,
                         kind: PaymentOperationKind, amount: Decimal | None = None
                         ) -> PaymentChange:
    """Do ``kind`` (of ``amount``; ``None``: all of it) and record the payment status the
    gateway reports afterwards on the order, with an ``order.payment_status_changed``
    outbox event."""
    async with checkout.storage.ordering(write=False) as unit:
        order = await unit.orders.get(config.store.id, order_id)
        attempt = await _paying_attempt(unit, order) if order is not None else None
    if order is None:
        raise NotFound(f"no order with id {order_id}")
    method = config.payment_method_by_id(
        attempt.payment_method_id if attempt is not None else order.payment_method_id)
    currency = config.currency_by_id(order.currency_id)
    if method is None or currency is None:
        raise OperationNotAllowed("the order's payment method or currency no longer exists")
    check_operation(order, kind, amount, currency.decimal_places)
    provider = checkout.provider_for(method)
    if kind.value not in provider.capabilities or not isinstance(provider, ManagesPayments):
        raise OperationNotAllowed(f"payment provider {provider.alias} cannot {kind.value} "
                                  "payments")
    assert order.transaction_id is not None  # noqa: S101 (check_operation made sure)
    reference = attempt.reference if attempt is not None else order.id.hex
    refunds = int(order.server_properties.get(REFUND_COUNT, "0") or 0)
    number = f"-{refunds + 1}" if kind is PaymentOperationKind.REFUND else ""
    operation = PaymentOperation(
        transaction_id=order.transaction_id, reference=reference,
        operation_id=f"{reference}-{kind.value}{number}", currency_code=currency.code,
        amount=amount, settings=method_settings(method),
        metadata=dict(order.server_properties))

    run = {PaymentOperationKind.CAPTURE: provider.capture,
           PaymentOperationKind.CANCEL: provider.cancel,
           PaymentOperationKind.REFUND: provider.refund}[kind]
    try:
        result = await run(operation)
    except ProviderError as exc:
        raise GatewayUnavailable(f"the payment gateway is not available: {exc}") from None
    except PaymentRefused as exc:
        raise PaymentOperationRefused(str(exc)) from None

    return await _record(checkout, config, order_id, kind, operation, result, refunds)


async def _paying_attempt(unit: OrderUnit, order: Order) -> CheckoutAttempt | None:
    """The checkout attempt whose payment finalized the order."""
    for kind in (HOSTED, INLINE):
        attempt = await unit.checkout.latest_attempt(order.id, kind)
        if attempt is not None and attempt.status is AttemptStatus.COMPLETED \
                and attempt.transaction_id == order.transaction_id:
            return attempt
    return None


async def _record(checkout: Checkout, config: StoreConfig, order_id: UUID,
                  kind: PaymentOperationKind, operation: PaymentOperation,
                  result: PaymentResult, refunds: int) -> PaymentChange:
    async def work() -> PaymentChange:
        async with checkout.storage.ordering(write=True) as unit:
            order = await unit.orders.get(config.store.id, order_id, for_update=True)
            if order is None:  # deleted meanwhile: the gateway still did it
                raise NotFound(f"no order with id {order_id}")
            refund = kind is PaymentOperationKind.REFUND
            if refund:
                counted = int(order.server_properties.get(REFUND_COUNT, "0") or 0)
                order.server_properties[REFUND_COUNT] = str(max(counted, refunds + 1))
            # Every partial refund is news, though the status stays PartiallyRefunded (its
            # amount is not the payment's); a status the webhook recorded first is not.
            news = PaymentNews(operation.transaction_id, result.status, result.amount)
            changed = settle(order, news) is Settlement.ADVANCE
            if changed:
                order.advance_payment(result.status, checkout.clock(),
                                      cause=operation.operation_id, amount=result.amount,
                                      currency_code=operation.currency_code)
            elif refund:
                order.updated_at = checkout.clock()
            if changed or refund:
                await unit.orders.save(order)
            return PaymentChange(order, kind, order.payment_status or result.status,
                                 result.amount, changed)

    return await retrying(work, f"order {order_id}")
