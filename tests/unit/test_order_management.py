"""The rules of a placed order's life after checkout, with no database: what may be
refunded now, refunds by lines (the arithmetic written out by hand), which payment
operation may start from which status, shipments and the fulfilment status, and what
canceling does."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from kasse.domain.errors import Conflict, InvalidInput
from kasse.domain.events import (
    OrderCanceled,
    OrderFulfilled,
    OrderStatusChanged,
    PaymentRefunded,
    PaymentStatusChanged,
)
from kasse.domain.fulfilment import NothingToShip, fulfil, left_to_ship
from kasse.domain.money import RoundingMethod
from kasse.domain.order import FulfilmentStatus, Order, OrderLine
from kasse.domain.order_management import change_tags, finish_cancel, note, plan_cancel
from kasse.domain.payment import PaymentStatus as S
from kasse.domain.payment_operations import (
    ALLOWED_FROM,
    OperationNotAllowed,
    PaymentOperationKind,
    PaymentRecord,
    RecordStatus,
    captured,
    check_allowed,
    check_capture,
    check_payment,
)
from kasse.domain.placed_order import AlreadyCanceled, LineQuantity, NotPlaced
from kasse.domain.refunds import (
    RefundPlan,
    RefundRequest,
    RefundTooLarge,
    begin_refund,
    paid_for_units,
    plan_refund,
    refund_failed,
    refund_succeeded,
    refundable,
)
from kasse.domain.settlement import PaymentNews, advance
from kasse.domain.store import OrderStatus, Store, StoreConfig

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PAID = Decimal("95.40")
TX = "tx-own"
TENT, TEE = UUID(int=1), UUID(int=2)
# What the shopper paid for each line (with tax): 2 tents at 39.90, 3 tees at 5.20.
TOTALS = {TENT: Decimal("79.80"), TEE: Decimal("15.60")}


def placed(status: S = S.CAPTURED) -> Order:
    made = Order(id=uuid4(), store_id=uuid4(), cart_number="CART-1", currency_id=uuid4(),
                 created_at=NOW, updated_at=NOW, order_number="ORDER-1")
    made.lines = [
        OrderLine(id=TENT, product_reference="tent", variant_reference=None, sku="TENT",
                  name="Tent", quantity=Decimal(2), unit_price=Decimal("39.90")),
        OrderLine(id=TEE, product_reference="tee", variant_reference=None, sku="TEE",
                  name="Tee", quantity=Decimal(3), unit_price=Decimal("5.20")),
    ]
    made.finalize(NOW, amount=PAID, transaction_id=TX, payment_status=status,
                  currency_code="EUR", total_price=PAID)
    made.events.clear()
    return made


def config_with(*aliases: str) -> StoreConfig:
    store_id = uuid4()
    store = Store(id=store_id, alias="demo", name="Demo", prices_include_tax=True,
                  base_currency_id=None, default_country_id=None, default_tax_class_id=None,
                  default_order_status_id=None, cart_number_template="CART-{0}",
                  order_number_template="ORDER-{0}", rounding_method=RoundingMethod.UNIT)
    statuses = tuple(OrderStatus(uuid4(), store_id, alias, alias.title())
                     for alias in aliases)
    return StoreConfig(store=store, currencies=(), countries=(), tax_classes=(),
                       order_statuses=statuses, payment_methods=(), shipping_methods=())


def record_of(order: Order, plan: RefundPlan, *, restock: bool = False) -> PaymentRecord:
    return PaymentRecord(uuid4(), order.id, order.store_id, PaymentOperationKind.REFUND,
                         RecordStatus.PENDING, plan.amount, "EUR", NOW,
                         transaction_id=TX, operation_id=f"ref-refund-{uuid4().hex[:6]}",
                         lines=plan.lines, restock=restock)


# --- what may be refunded ----------------------------------------------------------------

def test_refundable_is_captured_less_refunded_less_pending() -> None:
    order = placed()
    assert refundable(order) == Decimal("95.40")
    order.refunded_amount, order.refund_pending_amount = Decimal("20.00"), Decimal("10.40")
    assert refundable(order) == Decimal("65.00")  # 95.40 - 20.00 - 10.40
    assert refundable(placed(S.AUTHORIZED)) == 0  # nothing captured yet


def test_a_line_refunded_unit_by_unit_gives_back_exactly_its_total() -> None:
    # A line of 3 units that cost 10.00 together: shares of 1, 2 and 3 units are
    # 3.33 (10/3 = 3.333…), 6.67 (20/3 = 6.666…) and 10.00.
    assert paid_for_units(Decimal("10.00"), Decimal(3), Decimal(0), Decimal(1), 2) == \
        Decimal("3.33")
    assert paid_for_units(Decimal("10.00"), Decimal(3), Decimal(1), Decimal(1), 2) == \
        Decimal("3.34")  # 6.67 - 3.33
    assert paid_for_units(Decimal("10.00"), Decimal(3), Decimal(2), Decimal(1), 2) == \
        Decimal("3.33")  # 10.00 - 6.67
    assert paid_for_units(Decimal("10.00"), Decimal(3), Decimal(0), Decimal(2), 2) == \
        Decimal("6.67")
    # A store rounding only at the total leaves a line total with more decimals.
    assert paid_for_units(Decimal("10.004"), Decimal(2), Decimal(0), Decimal(2), 2) == \
        Decimal("10.00")


def test_a_refund_by_lines_is_what_the_shopper_paid_for_those_units() -> None:
    order = placed()
    plan = plan_refund(order, TOTALS, RefundRequest(lines=(
        LineQuantity(TENT, Decimal(1)), LineQuantity(TEE, Decimal(2)))), 2)
    assert plan.amount == Decimal("50.30")  # 79.80 / 2 = 39.90, plus 15.60 × 2/3 = 10.40
    begin_refund(order, plan)
    assert [line.refunded_quantity for line in order.lines] == [1, 2]
    rest = plan_refund(order, TOTALS, RefundRequest(lines=(
        LineQuantity(TENT, Decimal(1)), LineQuantity(TEE, Decimal(1)))), 2)
    assert rest.amount == Decimal("45.10")  # 79.80 - 39.90, plus 15.60 - 10.40
    assert plan.amount + rest.amount == PAID


@pytest.mark.parametrize(("request_", "detail"), [
    (RefundRequest(lines=(LineQuantity(TENT, Decimal(3)),)), "2 of 2 are left to refund"),
    (RefundRequest(lines=(LineQuantity(uuid4(), Decimal(1)),)), "has no line"),
    (RefundRequest(lines=(LineQuantity(TEE, Decimal(1)), LineQuantity(TEE, Decimal(1)))),
     "named twice"),
    (RefundRequest(lines=(LineQuantity(TEE, Decimal(0)),)), "more than 0"),
    (RefundRequest(amount=Decimal("10.001")), "decimal places"),
    (RefundRequest(amount=Decimal("-1")), "more than 0"),
    (RefundRequest(amount=Decimal(5), restock=True), "restock needs lines"),
    (RefundRequest(amount=Decimal(5), reason="x" * 501), "reason"),
])
def test_bad_refunds_are_refused_and_say_why(request_: RefundRequest, detail: str) -> None:
    with pytest.raises(InvalidInput, match=detail):
        plan_refund(placed(), TOTALS, request_, 2)


def test_never_more_than_is_left_counting_refunds_under_way() -> None:
    order = placed()
    first = plan_refund(order, TOTALS, RefundRequest(amount=Decimal("60.00")), 2)
    begin_refund(order, first)  # asked of the gateway, no answer yet
    with pytest.raises(RefundTooLarge, match=r"35\.40 is left to refund .*pending 60\.00"):
        plan_refund(order, TOTALS, RefundRequest(amount=Decimal("35.41")), 2)
    second = plan_refund(order, TOTALS, RefundRequest(), 2)
    assert second.amount == Decimal("35.40")  # everything left: 95.40 - 60.00
    begin_refund(order, second)
    with pytest.raises(RefundTooLarge, match="0 is left"):
        plan_refund(order, TOTALS, RefundRequest(amount=Decimal("0.01")), 2)


def test_a_refund_moves_from_pending_to_refunded_and_the_status_on() -> None:
    order = placed()
    plan = plan_refund(order, TOTALS, RefundRequest(amount=Decimal("20.00"), reason="late"),
                       2)
    begin_refund(order, plan)
    assert (order.refund_pending_amount, order.refunded_amount) == (Decimal(20), 0)
    refund_succeeded(order, record_of(order, plan), NOW, currency_code="EUR")
    assert (order.refund_pending_amount, order.refunded_amount) == (0, Decimal(20))
    assert order.payment_status is S.PARTIALLY_REFUNDED
    rest = plan_refund(order, TOTALS, RefundRequest(), 2)
    begin_refund(order, rest)
    refund_succeeded(order, record_of(order, rest), NOW, currency_code="EUR")
    assert order.refunded_amount == PAID and order.payment_status is S.REFUNDED
    topics = [event.topic for event in order.events]
    assert topics == ["order.payment_status_changed", "payment.refunded"] * 2
    refunded = [e for e in order.events if isinstance(e, PaymentRefunded)]
    assert [(e.amount, e.refunded_total) for e in refunded] == [
        (Decimal(20), Decimal(20)), (Decimal("75.40"), PAID)]


def test_a_failed_refund_lets_go_of_its_amount_and_units() -> None:
    order = placed()
    plan = plan_refund(order, TOTALS, RefundRequest(lines=(LineQuantity(TEE, Decimal(3)),)),
                       2)
    begin_refund(order, plan)
    refund_failed(order, record_of(order, plan), NOW)
    assert order.refund_pending_amount == 0 and order.refunded_amount == 0
    assert order.lines[1].refunded_quantity == 0
    assert order.payment_status is S.CAPTURED and order.events == []


def test_the_gateways_refunded_webhook_before_the_refunds_own_answer_counts_once() -> None:
    order = placed()
    plan = plan_refund(order, TOTALS, RefundRequest(), 2)
    begin_refund(order, plan)
    advance(order, PaymentNews(TX, S.REFUNDED, PAID), NOW, cause="event:1",
            currency_code="EUR")
    assert order.refunded_amount == 0  # all of it is still pending with kasse
    refund_succeeded(order, record_of(order, plan), NOW, currency_code="EUR")
    assert (order.refunded_amount, order.refund_pending_amount) == (PAID, 0)
    # A refund made in the gateway's dashboard: all captured is refunded.
    other = placed()
    advance(other, PaymentNews(TX, S.REFUNDED, PAID), NOW, cause="event:2",
            currency_code="EUR")
    assert other.refunded_amount == PAID and refundable(other) == 0


# --- which operation from which payment status --------------------------------------------

# Written out by hand: capture and void need an authorization, refunds a capture, a
# payment recorded by hand an authorization or a payment pending elsewhere.
STARTS = {
    (PaymentOperationKind.CAPTURE, S.AUTHORIZED),
    (PaymentOperationKind.VOID, S.AUTHORIZED),
    (PaymentOperationKind.REFUND, S.CAPTURED),
    (PaymentOperationKind.REFUND, S.PARTIALLY_REFUNDED),
    (PaymentOperationKind.PAYMENT, S.AUTHORIZED),
    (PaymentOperationKind.PAYMENT, S.PENDING_EXTERNAL_SYSTEM),
}


@pytest.mark.parametrize(("kind", "status"), list(itertools.product(PaymentOperationKind, S)))
def test_the_table_of_operations_by_payment_status(kind: PaymentOperationKind,
                                                   status: S) -> None:
    order = placed()
    order.payment_status = status
    assert ((kind, status) in STARTS) == (status in ALLOWED_FROM[kind])
    if (kind, status) in STARTS:
        check_allowed(order, kind)
    else:
        with pytest.raises(OperationNotAllowed, match=f"it is {status.value}"):
            check_allowed(order, kind)


def test_a_cart_is_not_managed() -> None:
    cart = Order(id=uuid4(), store_id=uuid4(), cart_number="CART-9", currency_id=uuid4(),
                 created_at=NOW, updated_at=NOW)
    with pytest.raises(NotPlaced, match="CART-9 is not placed"):
        check_allowed(cart, PaymentOperationKind.REFUND)


def test_a_capture_records_what_its_answer_says_was_taken() -> None:
    order = placed(S.AUTHORIZED)
    with pytest.raises(InvalidInput, match="the authorization is 95.40"):
        check_capture(order, Decimal("95.41"), 2)
    assert check_capture(order, None, 2) == PAID
    # The gateway's webhook came first, with the authorization's amount …
    advance(order, PaymentNews(TX, S.CAPTURED, PAID), NOW, cause="event:1",
            currency_code="EUR")
    # … the capture of 50.00 itself says what was taken.
    captured(order, Decimal("50.00"), NOW, cause="capture-1", currency_code="EUR")
    assert order.captured_amount == Decimal("50.00") and order.payment_status is S.CAPTURED
    assert len([e for e in order.events if isinstance(e, PaymentStatusChanged)]) == 1


def test_a_payment_is_recorded_only_where_no_provider_captures() -> None:
    invoice = placed(S.AUTHORIZED)
    assert check_payment(invoice, None, "BANK-42", 2, provider_can_capture=False) == PAID
    with pytest.raises(OperationNotAllowed, match="capture it instead"):
        check_payment(invoice, None, "BANK-42", 2, provider_can_capture=True)
    with pytest.raises(InvalidInput, match="amount due is 95.40"):
        check_payment(invoice, Decimal("100"), "BANK-42", 2, provider_can_capture=False)
    with pytest.raises(InvalidInput, match="reference"):
        check_payment(invoice, None, "  ", 2, provider_can_capture=False)


# --- shipments -------------------------------------------------------------------------------

def test_shipments_in_parts_then_fulfilled() -> None:
    order = placed()
    assert order.fulfilment_status is FulfilmentStatus.UNFULFILLED
    first = fulfil(order, (LineQuantity(TENT, Decimal(2)),), NOW, uuid4, carrier="DHL",
                   tracking_number="JD0001", tracking_url_value="https://dhl.example/JD0001")
    assert order.fulfilment_status is FulfilmentStatus.PARTIAL
    assert first.lines == (LineQuantity(TENT, Decimal(2)),)
    with pytest.raises(InvalidInput, match="0 of 2 are left to ship"):
        fulfil(order, (LineQuantity(TENT, Decimal(1)),), NOW, uuid4)
    rest = fulfil(order, None, NOW, uuid4)  # everything left: the 3 tees
    assert rest.lines == (LineQuantity(TEE, Decimal(3)),)
    assert order.fulfilment_status is FulfilmentStatus.FULFILLED
    with pytest.raises(NothingToShip):
        fulfil(order, None, NOW, uuid4)
    shipped = [e for e in order.events if isinstance(e, OrderFulfilled)]
    assert [e.fulfilment_status for e in shipped] == ["partial", "fulfilled"]


def test_units_refunded_before_shipping_are_not_shipped() -> None:
    order = placed()
    begin_refund(order, plan_refund(order, TOTALS, RefundRequest(
        lines=(LineQuantity(TEE, Decimal(1)),)), 2))
    assert left_to_ship(order.lines[1]) == 2
    fulfil(order, None, NOW, uuid4)
    assert [line.fulfilled_quantity for line in order.lines] == [2, 2]
    assert order.fulfilment_status is FulfilmentStatus.FULFILLED


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://x.example/a", "/track/1",
                                 "https://", "https://dhl.example/a b"])
def test_a_tracking_url_is_an_absolute_web_address(url: str) -> None:
    with pytest.raises(InvalidInput, match="trackingUrl"):
        fulfil(placed(), None, NOW, uuid4, tracking_url_value=url)


# --- canceling, statuses, notes, tags ------------------------------------------------------

def test_cancel_voids_an_authorization_or_refunds_a_capture() -> None:
    config = config_with("new", "cancelled")
    authorized = plan_cancel(placed(S.AUTHORIZED), config, restock=True, reason=None,
                             can_void=True, can_refund=True)
    assert (authorized.payment, authorized.manual) == (PaymentOperationKind.VOID, False)
    invoice = plan_cancel(placed(S.AUTHORIZED), config, restock=True, reason=None,
                          can_void=False, can_refund=False)
    assert (invoice.payment, invoice.manual) == (PaymentOperationKind.VOID, True)
    order = placed()
    order.refunded_amount = Decimal("20.00")
    paid = plan_cancel(order, config, restock=True, reason="shopper asked",
                       can_void=True, can_refund=True)
    assert paid.payment is PaymentOperationKind.REFUND and paid.refund is not None
    assert paid.refund.amount == Decimal("75.40")  # 95.40 - 20.00
    assert paid.status is not None and paid.status.alias == "cancelled"
    by_hand = plan_cancel(placed(), config, restock=True, reason=None, can_void=False,
                          can_refund=False)
    assert by_hand.manual and "pay it back outside kasse" in by_hand.warnings[0]
    done = placed(S.REFUNDED)
    assert plan_cancel(done, config, restock=True, reason=None, can_void=True,
                       can_refund=True).payment is None


def test_cancel_restocks_what_was_not_shipped_and_says_what_was() -> None:
    config = config_with("cancelled")
    order = placed()
    fulfil(order, (LineQuantity(TEE, Decimal(1)),), NOW, uuid4)
    plan = plan_cancel(order, config, restock=True, reason=None, can_void=True,
                       can_refund=True)
    assert plan.restock == (LineQuantity(TENT, Decimal(2)), LineQuantity(TEE, Decimal(2)))
    assert any("1 of 3 × Tee were shipped" in w for w in plan.warnings)
    change, restocked = finish_cancel(order, config, plan, NOW, uuid4, "staff",
                                      currency_code="EUR")
    assert change is not None and order.order_status_id == config.order_statuses[0].id
    assert [(line.sku, units) for line, units in restocked] == [("TENT", 2), ("TEE", 2)]
    assert order.canceled_at == NOW
    assert [type(e) for e in order.events][-2:] == [OrderStatusChanged, OrderCanceled]
    with pytest.raises(AlreadyCanceled, match="cannot be canceled again"):
        plan_cancel(order, config, restock=True, reason=None, can_void=True,
                    can_refund=True)
    with pytest.raises(AlreadyCanceled, match="cannot be fulfilled"):
        fulfil(order, None, NOW + timedelta(minutes=1), uuid4)
    no_restock = plan_cancel(placed(), config, restock=False, reason=None, can_void=True,
                             can_refund=True)
    assert no_restock.restock == ()


def test_the_canceled_status_is_reached_only_by_canceling() -> None:
    from kasse.domain.order_management import change_status, find_status

    config = config_with("new", "processing", "cancelled")
    order = placed()
    processing = find_status(config, "PROCESSING")
    assert change_status(order, config, processing, NOW, uuid4, "staff") is not None
    assert change_status(order, config, processing, NOW, uuid4, "staff") is None
    with pytest.raises(InvalidInput, match="cancel order ORDER-1 instead"):
        change_status(order, config, find_status(config, "cancelled"), NOW, uuid4, "x")
    with pytest.raises(InvalidInput, match="its statuses: new, processing, cancelled"):
        find_status(config, "shipped")


def test_notes_and_tags() -> None:
    order = placed()
    assert note(order, "  Called the shopper.\nWill pick up.  ", NOW, uuid4, "x").body == \
        "Called the shopper.\nWill pick up."
    for bad in ("", "x" * 5001, "bell\x07"):
        with pytest.raises(InvalidInput):
            note(order, bad, NOW, uuid4, "x")
    assert change_tags(order, add=["vip", "gift", "vip"], at=NOW)
    assert change_tags(order, remove=["gift"], add=["rush"], at=NOW)
    assert order.tags == ["vip", "rush"]
    assert not change_tags(order, add=["vip"], at=NOW)
    assert change_tags(order, replace=[], at=NOW) and order.tags == []
    with pytest.raises(InvalidInput, match="not both"):
        change_tags(order, replace=["a"], add=["b"], at=NOW)
    with pytest.raises(Conflict):
        check_allowed(Order(id=uuid4(), store_id=uuid4(), cart_number="C",
                            currency_id=uuid4(), created_at=NOW, updated_at=NOW),
                      PaymentOperationKind.CAPTURE)
