"""The money of a placed order through the management API: an invoice marked paid and
refunded by hand, a card payment captured and refunded through the test gateway's
merchant API, and cancels that void or refund and restock.

Amounts are those of ``placed_orders``: the invoice order comes to 37.65 (mugs 2 × 9.90,
map 12.90, delivery 4.95), the card order to 184.25 (jacket 159.00, mugs 2 × 9.90,
delivery 4.95, card fee 0.50). Prices include tax, so what a line cost the shopper is its
gross price × quantity.
"""

from __future__ import annotations

import time
from decimal import Decimal

from fastapi.testclient import TestClient

from kasse.adapters.config_file import read_config_file
from kasse.demo import DEMO_STORE_FILE
from tests.api.placed_orders import (
    at_gateway,
    audit,
    card_order,
    client,
    events,
    invoice_order,
    order_row,
    outbox_moments,
    payments,
    problem,
    staff,
    storefront_order,
    topics,
)
from tests.api.test_cart_reads_across_processes import reimport
from tests.api.test_inline_checkout import on_hand
from tests.api.test_inline_verification import SECRET

__all__ = ["client"]  # the fixture


def test_an_invoice_is_marked_paid_then_refunded_by_hand(client: TestClient,
                                                         demo_db_url: str) -> None:
    owner = staff(client, demo_db_url)
    order_id, lines = invoice_order(client)
    problem(owner.act(f"/orders/{order_id}/refunds", {"amount": "5.00"}), 409,
            "it is Authorized", "captured first")
    problem(owner.act(f"/orders/{order_id}/capture"), 409, "invoicing cannot capture",
            "record the payment")

    paid = owner.ok(f"/orders/{order_id}/payments", {"reference": "BANK-2026-0042"}, 201)
    assert (paid["paymentStatus"], paid["captured"], paid["refundable"]) == (
        "Captured", "37.65", "37.65")
    assert paid["payment"]["kind"] == "payment" and paid["payment"]["manual"] is True
    assert paid["payment"]["reference"] == "BANK-2026-0042"
    assert paid["totalPrice"] == "37.65" and paid["fulfilmentStatus"] == "unfulfilled"
    again = owner.act(f"/orders/{order_id}/payments", {"reference": "BANK-2026-0043"})
    problem(again, 409, "it is Captured")

    # One mug back: what the shopper paid for it, 19.80 / 2 = 9.90. The invoicing
    # provider cannot refund, so the refund is recorded as made by hand.
    mug = owner.ok(f"/orders/{order_id}/refunds", {
        "lines": [{"lineId": lines["camp-mug"], "quantity": 1}], "reason": "chipped"}, 201)
    refund = mug["refund"]
    assert (refund["amount"], refund["manual"], refund["status"]) == ("9.90", True,
                                                                      "succeeded")
    assert refund["lines"] == [{"lineId": lines["camp-mug"], "quantity": "1"}]
    assert any("cannot refund" in warning for warning in mug["warnings"])
    assert (mug["paymentStatus"], mug["refunded"], mug["refundable"]) == (
        "PartiallyRefunded", "9.90", "27.75")  # 37.65 - 9.90
    problem(owner.act(f"/orders/{order_id}/refunds", {"amount": "27.76"}), 400,
            "27.75 is left to refund")
    problem(owner.act(f"/orders/{order_id}/refunds", {
        "lines": [{"lineId": lines["camp-mug"], "quantity": 2}]}), 400,
        "1 of 2 are left to refund")

    rest = owner.ok(f"/orders/{order_id}/refunds", {}, 201)
    assert rest["refund"]["amount"] == "27.75"
    assert (rest["paymentStatus"], rest["refunded"], rest["refundable"]) == (
        "Refunded", "37.65", "0.00")
    problem(owner.act(f"/orders/{order_id}/refunds", {"amount": "0.01"}), 409, "it is Refunded")

    assert [p["kind"] for p in payments(demo_db_url, order_id)] == ["payment", "refund",
                                                                    "refund"]
    assert [t for t in topics(demo_db_url, order_id) if t.startswith("payment.")] == [
        "payment.captured", "payment.refunded", "payment.refunded"]
    refunded = events(demo_db_url, order_id, "payment.refunded")
    assert [(e["amount"], e["refundedTotal"], e["manual"]) for e in refunded] == [
        ("9.90", "9.90", True), ("27.75", "37.65", True)]
    entries = audit(demo_db_url, order_id)
    assert [e["action"] for e in entries] == ["order.payment_recorded", "order.refunded",
                                              "order.refunded"]
    assert all(e["version_after"] == e["version_before"] + 1 for e in entries)
    assert entries[0]["actor_kind"] == "token"
    assert storefront_order(client, order_id)["transactionInfo"]["paymentStatus"] == \
        "Refunded"


def test_a_card_payment_is_captured_and_refunded_through_the_test_gateway(
        client: TestClient, demo_db_url: str) -> None:
    owner = staff(client, demo_db_url)
    order_id, lines, payment_id = card_order(client, demo_db_url)
    jackets = on_hand(demo_db_url, "rain-jacket-m")
    problem(owner.act(f"/orders/{order_id}/payments", {"reference": "x"}), 409,
            "capture it instead")
    problem(owner.act(f"/orders/{order_id}/capture", {"amount": "184.26"}), 400,
            "the authorization is 184.25")

    captured = owner.ok(f"/orders/{order_id}/capture")
    assert (captured["paymentStatus"], captured["captured"]) == ("Captured", "184.25")
    assert captured["payment"]["kind"] == "capture"
    assert captured["payment"]["operationId"].endswith("-capture-1")
    gateway = at_gateway(client, payment_id)
    assert (gateway["status"], gateway["captured_amount"]) == ("captured", "184.25")
    problem(owner.act(f"/orders/{order_id}/capture"), 409, "it is Captured")

    # The jacket came back: 159.00 refunded at the gateway and the jacket restocked.
    jacket = owner.ok(f"/orders/{order_id}/refunds", {
        "lines": [{"lineId": lines["rain-jacket"], "quantity": "1"}], "restock": True,
        "reason": "wrong size"}, 201)
    assert (jacket["refund"]["amount"], jacket["refund"]["manual"]) == ("159.00", False)
    assert jacket["refund"]["operationId"].endswith("-refund-1")
    assert jacket["restocked"] == [{"lineId": lines["rain-jacket"], "sku": "JKT-RAIN-M",
                                    "quantity": "1"}]
    assert (jacket["paymentStatus"], jacket["refundable"]) == ("PartiallyRefunded", "25.25")
    assert on_hand(demo_db_url, "rain-jacket-m") == jackets + 1
    gateway = at_gateway(client, payment_id)
    assert (gateway["status"], gateway["refunded_amount"]) == ("partially_refunded",
                                                               "159.00")

    problem(owner.act(f"/orders/{order_id}/refunds", {"amount": 25.26}), 400,
            "25.25 is left to refund")
    rest = owner.ok(f"/orders/{order_id}/refunds", {"amount": 25.25}, 201)
    assert (rest["paymentStatus"], rest["refunded"], rest["refundable"]) == (
        "Refunded", "184.25", "0.00")
    gateway = at_gateway(client, payment_id)
    assert (gateway["status"], gateway["refunded_amount"]) == ("refunded", "184.25")
    assert [(p["kind"], p["status"], p["manual"]) for p in payments(demo_db_url, order_id)
            ] == [("capture", "succeeded", False), ("refund", "succeeded", False),
                  ("refund", "succeeded", False)]
    changes = [e["paymentStatus"] for e in events(demo_db_url, order_id,
                                                  "order.payment_status_changed")]
    assert changes == ["Captured", "PartiallyRefunded", "Refunded"]


def test_a_refund_by_hand_on_a_card_order_asks_no_gateway(client: TestClient,
                                                          demo_db_url: str) -> None:
    owner = staff(client, demo_db_url)
    order_id, _, payment_id = card_order(client, demo_db_url)
    owner.ok(f"/orders/{order_id}/capture")
    by_hand = owner.ok(f"/orders/{order_id}/refunds", {"amount": "20.00", "manual": True},
                       201)
    assert by_hand["refund"]["manual"] is True and by_hand["warnings"] == []
    assert at_gateway(client, payment_id)["refunded_amount"] == "0.00"
    assert by_hand["refundable"] == "164.25"  # 184.25 - 20.00


def test_cancel_voids_an_authorization_and_restocks(client: TestClient,
                                                    demo_db_url: str) -> None:
    owner = staff(client, demo_db_url)
    order_id, _, payment_id = card_order(client, demo_db_url)
    jackets, mugs = on_hand(demo_db_url, "rain-jacket-m"), on_hand(demo_db_url, "camp-mug")

    canceled = owner.ok(f"/orders/{order_id}/cancel", {"reason": "shopper asked"})
    assert canceled["paymentStatus"] == "Cancelled" and canceled["canceledAt"]
    assert canceled["orderStatus"]["alias"] == "cancelled"
    assert (canceled["payment"]["kind"], canceled["payment"]["status"]) == ("void",
                                                                           "succeeded")
    assert at_gateway(client, payment_id)["status"] == "cancelled"
    assert on_hand(demo_db_url, "rain-jacket-m") == jackets + 1
    assert on_hand(demo_db_url, "camp-mug") == mugs + 2
    assert {"order.status_changed", "order.canceled"} <= set(topics(demo_db_url, order_id))
    (news,) = events(demo_db_url, order_id, "order.canceled")
    assert (news["payment"], news["reason"]) == ("voided", "shopper asked")

    problem(owner.act(f"/orders/{order_id}/cancel"), 409, "cannot be canceled again")
    problem(owner.act(f"/orders/{order_id}/fulfilments"), 409, "cannot be fulfilled")
    problem(owner.act(f"/orders/{order_id}/capture"), 409, "cannot be captured")
    assert on_hand(demo_db_url, "camp-mug") == mugs + 2  # restocked once


def test_cancel_refunds_a_capture_and_keeps_what_was_shipped(client: TestClient,
                                                             demo_db_url: str) -> None:
    owner = staff(client, demo_db_url)
    order_id, lines, payment_id = card_order(client, demo_db_url)
    owner.ok(f"/orders/{order_id}/capture")
    owner.ok(f"/orders/{order_id}/fulfilments", {
        "lines": [{"lineId": lines["rain-jacket"], "quantity": 1}]}, 201)
    owner.ok(f"/orders/{order_id}/refunds", {"amount": "10.00"}, 201)
    jackets, mugs = on_hand(demo_db_url, "rain-jacket-m"), on_hand(demo_db_url, "camp-mug")

    canceled = owner.ok(f"/orders/{order_id}/cancel", {})
    assert (canceled["payment"]["kind"], canceled["payment"]["amount"]) == ("refund",
                                                                           "174.25")
    assert (canceled["paymentStatus"], canceled["refunded"]) == ("Refunded", "184.25")
    assert at_gateway(client, payment_id)["refunded_amount"] == "184.25"
    assert any("1 of 1 × Rain Jacket M were shipped" in w for w in canceled["warnings"])
    assert canceled["restocked"] == [{"lineId": lines["camp-mug"], "sku": "MUG-ENAMEL",
                                      "quantity": "2"}]
    assert on_hand(demo_db_url, "rain-jacket-m") == jackets  # it is with the shopper
    assert on_hand(demo_db_url, "camp-mug") == mugs + 2
    # The cancel's refund and the cancel are one moment: the shopper hears of them once.
    moments = outbox_moments(demo_db_url, order_id)
    assert moments["order.canceled"] == moments["payment.refunded"][-1]


def test_an_unpaid_invoice_is_canceled_without_a_gateway(client: TestClient,
                                                         demo_db_url: str) -> None:
    owner = staff(client, demo_db_url)
    order_id, _ = invoice_order(client)
    canceled = owner.ok(f"/orders/{order_id}/cancel", {"restock": False})
    assert canceled["paymentStatus"] == "Cancelled"
    assert canceled["payment"]["manual"] is True and "restocked" not in canceled
    problem(owner.act(f"/orders/{order_id}/payments", {"reference": "late"}), 409,
            "cannot be marked paid")


def test_refund_amounts_are_decimal_strings_or_numbers(client: TestClient,
                                                       demo_db_url: str) -> None:
    owner = staff(client, demo_db_url)
    order_id, lines = invoice_order(client)
    owner.ok(f"/orders/{order_id}/payments", {"reference": "BANK-1", "amount": 37.65}, 201)
    for body, status, words in [
        ({"amount": "abc"}, 400, ("amount",)),
        ({"amount": True}, 400, ("amount",)),
        ({"amount": "1.001"}, 400, ("3 decimal places",)),
        ({"amount": "NaN"}, 400, ("finite",)),
        ({"amount": "-1"}, 400, ("more than 0",)),
        ({"ammount": "1"}, 400, ("ammount",)),
        ({"lines": []}, 400, ("lines",)),
        ({"lines": [{"lineId": "nope", "quantity": 1}]}, 400, ("lineId",)),
        ({"lines": [{"lineId": lines["camp-mug"], "quantity": 3}]}, 400,
         ("2 of 2 are left",)),
        ({"restock": True, "amount": "1"}, 400, ("restock needs lines",)),
    ]:
        problem(owner.act(f"/orders/{order_id}/refunds", body), status, *words)
    assert [p["kind"] for p in payments(demo_db_url, order_id)] == ["payment"]
    done = owner.ok(f"/orders/{order_id}/refunds", {"amount": 1.1}, 201)
    assert done["refund"]["amount"] == "1.10"
    assert Decimal(done["refundable"]) == Decimal("36.55")


def test_a_gateway_that_refuses_or_does_not_answer_leaves_the_money_as_it_was(
        client: TestClient, demo_db_url: str) -> None:
    owner = staff(client, demo_db_url)
    order_id, _, payment_id = card_order(client, demo_db_url)
    # Captured at the gateway behind kasse's back: kasse's capture is refused there.
    behind = client.post(f"/testgateway/api/payments/{payment_id}/capture",
                         headers={"Authorization": f"Bearer kasse-demo:{SECRET}"})
    assert behind.status_code == 200, behind.text
    refused = problem(owner.act(f"/orders/{order_id}/capture"), 409,
                      "the payment gateway refused the capture")
    assert "only authorized payments can be captured" in refused["detail"]
    stored = storefront_order(client, order_id)
    assert stored["transactionInfo"]["paymentStatus"] == "Authorized"

    # The gateway out of reach: a 502, the refund recorded as failed and its amount free.
    data = read_config_file(DEMO_STORE_FILE).data
    card = next(m for m in data["paymentMethods"] if m["alias"] == "card")
    card["settings"]["GatewayUrl"] = "http://127.0.0.1:9"
    reimport(demo_db_url, data)
    time.sleep(1.1)  # the store's configuration is looked at again after a second
    problem(owner.act(f"/orders/{order_id}/cancel"), 502, "did not answer the void",
            "check the payment at the gateway")
    after = owner.ok(f"/orders/{order_id}/tags", {"add": ["checked"]})
    assert (after["paymentStatus"], after["canceledAt"]) == ("Authorized", None)
    assert [(p["kind"], p["status"]) for p in payments(demo_db_url, order_id)] == [
        ("capture", "failed"), ("void", "failed")]
    assert [e["action"] for e in audit(demo_db_url, order_id)] == [
        "order.capture_failed", "order.cancel_failed", "order.tags_changed"]


def test_placing_an_order_keeps_its_total_and_customer_for_the_lists(
        client: TestClient, demo_db_url: str) -> None:
    order_id, _ = invoice_order(client)
    row = order_row(demo_db_url, order_id)
    assert (row["total_price"], row["captured_amount"], row["refunded_amount"]) == (
        Decimal("37.65"), None, 0)  # an invoice is not paid yet
    assert (row["customer_name"], row["customer_email"]) == ("erika mustermann",
                                                             "erika@example.com")
    assert row["fulfilment_status"] == "unfulfilled"
