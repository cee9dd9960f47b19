"""The rules behind stock adjustments, redeliveries and the order a webhook carries, in
memory: what an adjustment changes (never below zero; a count records the difference),
what sending a delivery again does to it, and the order snapshot's figures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from kasse.domain.errors import InvalidInput
from kasse.domain.events import (
    ORDER_TOPICS,
    OrderFinalized,
    StockAdjusted,
    is_order_topic,
)
from kasse.domain.money import RoundingMethod
from kasse.domain.order_snapshot import order_snapshot
from kasse.domain.payment import PaymentStatus
from kasse.domain.stock import (
    AdjustmentReason,
    StockBelowZero,
    adjustment,
    check_note,
    parse_reason,
)
from kasse.domain.webhooks import (
    AttemptOutcome,
    Delivery,
    DeliveryInFlight,
    DeliveryStatus,
    RetryPolicy,
)
from tests.unit.test_order_calculation_properties import LineSpec, Scenario, build

D = Decimal
NOW = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)


# --- adjustments ---------------------------------------------------------------------------


def test_a_change_is_itself_and_a_count_is_the_difference() -> None:
    assert adjustment("map", D(60), change=D(12)) == 12
    assert adjustment("map", D(60), change=D(-60)) == -60  # down to nothing is fine
    assert adjustment("map", D(72), set_to=D(70)) == -2
    assert adjustment("map", D(3), set_to=D(3)) == 0  # a count that matched
    assert adjustment("map", D(0), set_to=D("2.5")) == D("2.5")


def test_stock_on_hand_never_goes_below_zero() -> None:
    with pytest.raises(StockBelowZero) as refused:
        adjustment("Alps Trail Map", D(5), change=D(-6))
    assert refused.value.detail == ("Alps Trail Map has 5 on hand: it cannot go below 0 "
                                    "(change -6)")


@pytest.mark.parametrize(("change", "set_to", "words"), [
    (None, None, "either change"), (D(1), D(2), "either change"),
    (D(0), None, "other than 0"), (None, D(-1), "0 or more"),
    (D("0.0000001"), None, "at most 6 decimals"), (D("NaN"), None, "at most 6 decimals"),
    (D("Infinity"), None, "at most 6 decimals"), (None, D("1e12"), "1,000,000,000"),
])
def test_what_is_not_an_adjustment(change: Decimal | None, set_to: Decimal | None,
                                   words: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        adjustment("map", D(10), change=change, set_to=set_to)
    assert words in refused.value.detail


def test_reasons_and_notes() -> None:
    assert parse_reason(" Received ") is AdjustmentReason.RECEIVED
    with pytest.raises(InvalidInput, match="one of received, counted, damaged, returned"):
        parse_reason("restock")
    assert check_note("  delivery 4711 ") == "delivery 4711"
    assert check_note("   ") is None and check_note(None) is None
    for bad in ("x" * 301, "bell\x07"):
        with pytest.raises(InvalidInput):
            check_note(bad)


# --- events ----------------------------------------------------------------------------


def test_events_say_what_they_are_about() -> None:
    order_id, item_id = uuid.uuid4(), uuid.uuid4()
    placed = OrderFinalized(uuid.uuid4(), order_id, "ORDER-00001", NOW, "tx-1",
                            PaymentStatus.AUTHORIZED, D("12.50"), "EUR")
    assert placed.aggregate_id == order_id
    # The keys receivers already read are the same as before.
    assert placed.payload() == {"orderId": str(order_id), "orderNumber": "ORDER-00001",
                                "transactionId": "tx-1", "paymentStatus": "Authorized",
                                "amount": "12.50", "currency": "EUR"}
    adjusted = StockAdjusted(
        store_id=uuid.uuid4(), item_id=item_id, product_reference="trail-map",
        variant_reference=None, sku="MAP-ALPS", name="Alps Trail Map", change=D("12.000000"),
        on_hand=D("72.000000"), available=D("70.000000"), reason="received", note=None,
        ledger_entry_id=uuid.uuid4(), actor="back office", at=NOW)
    assert adjusted.aggregate_id == item_id and adjusted.dedupe_key is None
    assert (adjusted.payload()["change"], adjusted.payload()["onHand"],
            adjusted.payload()["available"]) == ("12", "72", "70")
    assert is_order_topic("order.finalized") and is_order_topic("payment.not_applied")
    assert not is_order_topic("stock.adjusted") and "stock.adjusted" not in ORDER_TOPICS


# --- redelivery ------------------------------------------------------------------------------


def given_up() -> Delivery:
    """A delivery that failed for a whole day two days ago."""
    first = NOW - timedelta(days=2)
    return Delivery(id=uuid.uuid4(), event_id=uuid.uuid4(), endpoint_id=uuid.uuid4(),
                    created_at=first, next_attempt_at=first, status=DeliveryStatus.FAILED,
                    attempts=30, first_attempt_at=first, last_attempt_at=first +
                    timedelta(days=1), last_status_code=500,
                    completed_at=first + timedelta(days=1))


def test_a_delivery_sent_again_is_due_now_and_gets_a_new_retry_window() -> None:
    delivery = given_up()
    assert delivery.failing
    delivery.redeliver(NOW)
    assert delivery.status is DeliveryStatus.PENDING and delivery.claimable(NOW)
    assert delivery.attempts == 30 and delivery.completed_at is None
    # It fails again: retried later, not given up at once for the old first attempt.
    delivery.lease_owner, delivery.lease_until = "w/1", NOW + timedelta(seconds=60)
    number = delivery.attempted(AttemptOutcome(503), started=NOW, finished=NOW,
                                lease="w/1", policy=RetryPolicy(), rand=0.0)
    assert number == 31
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.next_attempt_at > NOW


def test_a_delivery_being_sent_is_not_sent_again_at_the_same_time() -> None:
    delivery = given_up()
    delivery.redeliver(NOW)
    delivery.lease_owner, delivery.lease_until = "w/1", NOW + timedelta(seconds=60)
    with pytest.raises(DeliveryInFlight):
        delivery.redeliver(NOW + timedelta(seconds=1))
    delivery.redeliver(NOW + timedelta(seconds=61))  # that worker's lease ran out


# --- the order a webhook carries -----------------------------------------------------------


def test_the_snapshot_in_a_currency_without_decimals_with_a_bundle() -> None:
    # Prices with tax, 0 decimals: a bundle of 1000 with two items at 200 and 300 (each
    # bundle unit takes one of each), 2 bundles; a line of 3 at 150; shipping 500.
    scenario = Scenario(
        lines=(LineSpec(D(1000), D(2), D("0.1"),
                        (LineSpec(D(200), D(1), D("0.1")), LineSpec(D(300), D(1), D("0.1")))),
               LineSpec(D(150), D(3), D("0.1"))),
        shipping=D(500), shipping_rate=D("0.1"), payment=None, payment_rate=D("0.1"),
        decimal_places=0, includes_tax=True, method=RoundingMethod.LINE)
    order, config = build(scenario)
    order.properties = {"firstName": "Aiko", "email": "aiko@example.jp",
                        "billingCity": "Kyoto"}
    snapshot = order_snapshot(order, config)
    assert snapshot["placedAt"] is None and snapshot["orderNumber"] is None  # a cart
    assert snapshot["currency"] == "XYZ"
    bundle, mugs = snapshot["lines"]
    # (1000 + 200 + 300) x 2 = 3000; 150 x 3 = 450
    assert (bundle["unitPrice"], bundle["totalPrice"], bundle["quantity"]) == (
        "1500", "3000", "2")
    assert [item["quantity"] for item in bundle["bundleItems"]] == ["1", "1"]
    assert (mugs["unitPrice"], mugs["totalPrice"]) == ("150", "450")
    assert "bundleItems" not in mugs
    # 3000 + 450 + 500 = 3950
    assert snapshot["totals"]["subtotal"] == "3450"
    assert snapshot["totals"]["totalPrice"] == snapshot["totals"]["transactionAmount"] == \
        "3950"
    assert snapshot["customer"] == {"email": "aiko@example.jp", "firstName": "Aiko",
                                    "lastName": None, "reference": None}
    assert snapshot["billingAddress"]["city"] == "Kyoto"
    assert snapshot["billingAddress"]["country"] == "DE"
    assert snapshot["shippingAddress"]["city"] is None
    assert snapshot["shippingAddress"]["country"] == "DE"  # ships to the billing country
