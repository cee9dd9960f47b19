"""The settlement machine's transition table, with no database: every state of an order's
payment × every status news may bring, from the order's own transaction or another one,
as the gateway's report or the storefront's claim, repeated, late and out of order."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from kasse.domain.events import OrderFinalized, PaymentFailed, PaymentStatusChanged
from kasse.domain.order import Order
from kasse.domain.payment import PaymentStatus as S
from kasse.domain.settlement import PaymentNews, Settlement, is_repeat, settle

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PAID = Decimal("95.40")
OWN, OTHER = "tx-own", "tx-other"


def order(status: S | None, *, finalized: bool) -> Order:
    made = Order(id=uuid4(), store_id=uuid4(), cart_number="CART-1", currency_id=uuid4(),
                 created_at=NOW, updated_at=NOW, order_number="ORDER-1")
    if finalized:
        made.finalize(NOW, amount=PAID, transaction_id=OWN, payment_status=S.AUTHORIZED,
                      currency_code="EUR")
        made.events.clear()
    made.payment_status = status
    return made


OPEN_STATES = (None, S.INITIALIZED, S.CANCELLED, S.ERROR)
PLACED_STATES = (S.AUTHORIZED, S.CAPTURED, S.PENDING_EXTERNAL_SYSTEM, S.CANCELLED,
                 S.REFUNDED, S.PARTIALLY_REFUNDED)

# (state of the placed order, news of its own transaction) -> decision, for the gateway's
# reports with the payment's amount. Written out by hand: the forward moves are
# pending -> authorized/captured, authorized -> captured/cancelled (void),
# captured -> (partially) refunded, partially refunded -> more refunds; the same status
# again is a repeat; everything else is stale (never a downgrade).
OWN_NEWS = {
    (S.PENDING_EXTERNAL_SYSTEM, S.AUTHORIZED): Settlement.ADVANCE,
    (S.PENDING_EXTERNAL_SYSTEM, S.CAPTURED): Settlement.ADVANCE,
    (S.AUTHORIZED, S.CAPTURED): Settlement.ADVANCE,
    (S.AUTHORIZED, S.CANCELLED): Settlement.ADVANCE,
    (S.CAPTURED, S.PARTIALLY_REFUNDED): Settlement.ADVANCE,
    (S.CAPTURED, S.REFUNDED): Settlement.ADVANCE,
    (S.PARTIALLY_REFUNDED, S.PARTIALLY_REFUNDED): Settlement.REPEAT,
    (S.PARTIALLY_REFUNDED, S.REFUNDED): Settlement.ADVANCE,
}


@pytest.mark.parametrize(("state", "news"), list(itertools.product(PLACED_STATES, S)))
def test_the_gateways_news_of_the_placed_orders_own_payment(state: S, news: S) -> None:
    placed = order(state, finalized=True)
    expected = OWN_NEWS.get((state, news),
                            Settlement.REPEAT if news is state else Settlement.STALE)
    assert settle(placed, PaymentNews(OWN, news, PAID)) is expected


@pytest.mark.parametrize(("state", "news"), list(itertools.product(PLACED_STATES, S)))
def test_another_transactions_success_for_a_placed_order_was_not_applied(
        state: S, news: S) -> None:
    placed = order(state, finalized=True)
    expected = Settlement.NOT_APPLIED if news.finalizes else Settlement.STALE
    assert settle(placed, PaymentNews(OTHER, news, PAID)) is expected
    # The same as a storefront's claim is a conflict, whatever its status.
    assert settle(placed, PaymentNews(OTHER, news, PAID, claimed=True)) is \
        Settlement.CONFLICT


@pytest.mark.parametrize(("state", "news", "current"),
                         list(itertools.product(OPEN_STATES, S, (True, False))))
def test_news_for_an_open_order(state: S | None, news: S, current: bool) -> None:
    cart = order(state, finalized=False)
    decision = settle(cart, PaymentNews(OWN, news, PAID), current_attempt=current)
    if news.finalizes:
        assert decision is Settlement.FINALIZE  # whichever attempt: the money is there
    elif news.fails and current:
        assert decision is Settlement.FAIL
    else:  # an older attempt's failure, or news that cannot place or fail anything
        assert decision is Settlement.STALE
    claimed = settle(cart, PaymentNews(OWN, news, PAID, claimed=True))
    assert claimed is (Settlement.FINALIZE if news.finalizes else Settlement.STALE)


@pytest.mark.parametrize("state", PLACED_STATES)
def test_a_repeat_is_the_same_transaction_status_and_amount_on_every_path(state: S) -> None:
    placed = order(state, finalized=True)
    for claimed in (False, True):
        assert settle(placed, PaymentNews(OWN, state, PAID, claimed=claimed)) is \
            Settlement.REPEAT
        assert settle(placed, PaymentNews(OWN, state, Decimal("95.4"), claimed=claimed)) \
            is Settlement.REPEAT  # the same amount, written differently
    # Without an amount, the gateway's news repeats by transaction and status alone.
    assert is_repeat(placed, PaymentNews(OWN, state))
    # A claim of another amount or status for the same transaction contradicts it.
    assert settle(placed, PaymentNews(OWN, state, PAID + 1, claimed=True)) is \
        Settlement.CONFLICT
    other = S.CAPTURED if state is not S.CAPTURED else S.AUTHORIZED
    assert settle(placed, PaymentNews(OWN, other, PAID, claimed=True)) is \
        Settlement.CONFLICT


def test_news_in_any_order_places_the_order_once_and_never_regresses() -> None:
    """Authorized, a stale decline, the same authorization again, a capture, and the
    authorization once more (late): one finalization, forward moves only."""
    cart = order(S.INITIALIZED, finalized=False)
    seen = []
    for news in (S.AUTHORIZED, S.ERROR, S.AUTHORIZED, S.CAPTURED, S.AUTHORIZED, S.CANCELLED):
        decision = settle(cart, PaymentNews(OWN, news, PAID))
        seen.append(decision)
        if decision is Settlement.FINALIZE:
            cart.finalize(NOW, amount=PAID, transaction_id=OWN, payment_status=news,
                          currency_code="EUR")
        elif decision is Settlement.ADVANCE:
            cart.advance_payment(news, NOW, cause=f"event-{len(seen)}")
    assert seen == [Settlement.FINALIZE, Settlement.STALE, Settlement.REPEAT,
                    Settlement.ADVANCE, Settlement.STALE, Settlement.STALE]
    assert cart.payment_status is S.CAPTURED
    assert [type(e) for e in cart.events] == [OrderFinalized, PaymentStatusChanged]


def test_a_failure_is_reported_once_per_status() -> None:
    cart = order(S.INITIALIZED, finalized=False)
    assert cart.payment_failed(S.CANCELLED, NOW, reference="r1", checkout="hosted",
                               amount=PAID)
    assert not cart.payment_failed(S.CANCELLED, NOW, reference="r1", checkout="hosted",
                                   amount=PAID)
    assert [type(e) for e in cart.events] == [PaymentFailed]
    assert cart.events[0].dedupe_key == "order.payment_failed:r1:Cancelled"
