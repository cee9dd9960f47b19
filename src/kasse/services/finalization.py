"""Where a payment becomes a finalized order: the one code path shared by the hosted
return, gateway webhooks and the inline confirm.

Runs inside the caller's unit of work, on an order loaded for update, so that two
requests finalizing the same order (two processes, a webhook racing the browser) are
serialised by the order's version: exactly one finalizes, the other sees it done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from kasse.domain.checkout import (
    AttemptStatus,
    CartChanged,
    CheckoutAttempt,
    RedemptionUnavailable,
    TransactionConflict,
    check_amount,
    fingerprint,
)
from kasse.domain.events import OrderFinalized, StockShortfall
from kasse.domain.order import Order
from kasse.domain.order_calculation import OrderCalculation, calculate
from kasse.domain.store import StoreConfig
from kasse.payments.provider import PaymentResult
from kasse.services import telemetry
from kasse.services.ports import OrderUnit

ORDER_FINALIZED = OrderFinalized.topic
OVERSOLD = "kasseOversold"
"""Order (server-side) property: the SKUs it was placed without stock for."""
STOCK_SHORTFALL = StockShortfall.topic


@dataclass(frozen=True, slots=True)
class Finalized:
    order: Order
    newly: bool
    """False when the order had already been finalized by this same payment."""


async def finalize(unit: OrderUnit, config: StoreConfig, order: Order,
                   attempt: CheckoutAttempt, result: PaymentResult, now: datetime, *,
                   amount_reported: bool = True) -> Finalized:
    """Place ``order`` for a successful payment (the settlement machine's ``FINALIZE``).

    A payment for a cart that changed since it was priced, of another amount or currency,
    or without an amount from a provider whose gateway reports one (``amount_reported``),
    raises and changes nothing of the order (callers that go on with the unit of work
    run this inside a savepoint: redemptions may have been written).
    """
    transaction_id = result.transaction_id or attempt.reference
    if order.is_finalized:
        raise TransactionConflict(
            f"order {order.order_number} is already finalized with transaction "
            f"{order.transaction_id}; transaction {transaction_id} was not applied")
    calculation = calculate(order, config, now)
    if fingerprint(order, calculation) != attempt.fingerprint:
        _explain_used_up(order, calculation)
        raise CartChanged("the order changed after this payment was started; start a new "
                          "checkout")
    currency = config.currency_by_id(order.currency_id)
    places = currency.decimal_places if currency else 2
    code = currency.code if currency else "?"
    check_amount(result.amount, calculation.transaction_amount, places, code,
                 paid_currency=result.currency_code, amount_reported=amount_reported)
    amount = result.amount if result.amount is not None else attempt.amount

    await _redeem(unit, order, calculation, now)

    # What the checkout held becomes a sale: taken from stock on hand (never below what
    # other orders hold, never below zero) and written to the ledger; then let go.
    shortfall: list[tuple[str, Decimal]] = []
    # In one order of items, as holds take them, so that sales and holds of the same
    # items queue instead of waiting on each other in a circle.
    for line, units in sorted(order.all_lines(), key=lambda pair: (
            pair[0].product_reference, pair[0].variant_reference or "")):
        taken = await unit.stock.take(order.store_id, order.id, line.product_reference,
                                      line.variant_reference, units, now)
        if not taken:
            shortfall.append((line.sku, units))
    await unit.stock.release(order.id)
    if shortfall:  # the payment came after its hold ran out, and others bought the rest
        order.server_properties[OVERSOLD] = ",".join(sku for sku, _ in shortfall)

    placed = order.finalize(now, amount=amount, transaction_id=transaction_id,
                            payment_status=result.status, currency_code=code,
                            fee=result.fee,
                            order_status_id=config.store.default_order_status_id,
                            metadata=result.metadata,
                            total_price=calculation.total.value.with_tax)
    await unit.orders.save(order)
    attempt.status = AttemptStatus.COMPLETED
    attempt.transaction_id = transaction_id
    await unit.checkout.save_attempt(attempt)
    if shortfall:
        order.events.append(StockShortfall(order.store_id, order.id, order.order_number,
                                           now, placed, tuple(shortfall)))
    order.notify(f"order {order.order_number} placed")
    unit.on_commit(lambda: telemetry.count("orders_finalized", kind=attempt.kind))
    return Finalized(order, newly=True)


AGAIN = ("; the order was not placed and stays open: check out again to pay the amount "
         "without it")


def _explain_used_up(order: Order, calculation: OrderCalculation) -> None:
    """When a code or card of the order is what changed, say so."""
    for applied in calculation.codes:
        usage = order.code_usage.get(applied.code)
        if usage is not None and usage.exhausted:
            raise RedemptionUnavailable(
                f"discount code {applied.code!r} has been used up by other orders" + AGAIN)
    for code in order.gift_card_codes:
        card = order.gift_cards.get(code)
        paid = next((g.amount for g in calculation.gift_cards if g.code == code), None)
        if card is not None and (paid is None or paid == card.remaining):
            raise RedemptionUnavailable(
                f"the balance of gift card {code!r} changed (left: {card.remaining:f})"
                + AGAIN)


async def _redeem(unit: OrderUnit, order: Order, calculation: OrderCalculation,
                  now: datetime) -> None:
    """Count the uses of the order's discount codes and debit its gift cards, atomically
    with the finalization: if another order took the last use or balance first, nothing
    of this finalization is kept."""
    for applied in calculation.codes:
        if applied.fulfilled and not await unit.redemptions.count_use(
                order.store_id, applied.code, order.id, now):
            raise RedemptionUnavailable(
                f"discount code {applied.code!r} has been used up by other orders" + AGAIN)
    for card in calculation.gift_cards:
        if not await unit.redemptions.debit(order.store_id, card.code, card.amount,
                                            order.id, now):
            raise RedemptionUnavailable(
                f"gift card {card.code!r} no longer has {card.amount:f} left" + AGAIN)
