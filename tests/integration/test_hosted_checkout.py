"""The hosted checkout end to end, over real HTTP: a shopper's browser, kasse and the test
gateway, each in its own process, with the gateway's webhooks reaching kasse on its own.

Every test pays for its own order(s) and checks what a shopper (the pages and where they
lead), a storefront (the order over the API) or an operator (the inbox of gateway events
and the outbox of order events in the database) would notice.

The demo store is imported with its ``card`` method pointed at the separate gateway, and
with a store name full of characters an HTML page must escape.

Totals (EUR, destination DE, prices include tax):
* Trail Backpack 89.95 + Standard delivery 4.95 + card fee 0.50 = 95.40
* the same paid by invoice (no fee): 89.95 + 4.95 = 94.90
* with an Enamel Camp Mug 9.90 added: 95.40 + 9.90 = 105.30
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import httpx
import pytest
from markupsafe import escape

from kasse.payments.testgateway.cards import DECLINE
from kasse.payments.testgateway.signing import WEBHOOK_SIGNATURE_HEADER, sign_fields, sign_webhook
from tests.conftest import _fresh
from tests.integration.hosted import (
    API,
    CALLBACK,
    SECRET,
    SHOP,
    STORE_NAME,
    Journey,
    Shopper,
    Stack,
    forms,
    query_of,
    raw_attribute_values,
    run_stack,
    wait_for,
    with_query,
)

CARD_TOTAL = Decimal("95.40")  # 89.95 + 4.95 + 0.50
INVOICE_TOTAL = Decimal("94.90")  # 89.95 + 4.95
WITH_MUG_TOTAL = Decimal("105.30")  # 95.40 + 9.90
CONFIRMATION, CART, ERROR = "/demo/confirmation", "/demo/cart", "/demo/error"


@pytest.fixture(scope="module")
def stack(_database_templates: dict[str, str],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("hosted")
    db_url = _fresh(_database_templates, folder, with_demo=True)
    with run_stack(db_url, folder) as running:
        yield running


@pytest.fixture
def shopper(stack: Stack) -> Iterator[Shopper]:
    person = Shopper(stack)
    try:
        yield person
    finally:
        person.close()


# --- helpers ---------------------------------------------------------------------------------


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """A problem document with ``status`` (never an HTML page or a stack trace)."""
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, f"{where}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), where
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"], body
    return body


def redirect(response: httpx.Response) -> str:
    assert response.status_code == 303, f"{response.status_code} {response.text[:500]}"
    location: str = response.headers["location"]
    return location


def assert_placed(shopper: Shopper, order_id: str, amount: Decimal,
                  status: str = "Authorized") -> dict[str, Any]:
    """Finalized, paid ``amount`` with ``status``, and announced exactly once."""
    order = shopper.order(order_id)
    assert order["isFinalized"] is True, order
    info = order["transactionInfo"]
    assert info["paymentStatus"] == status, info
    assert dec(info["authorizedAmount"]["value"]) == amount, info
    assert info["authorizedAmount"]["currency"]["code"] == "EUR"
    assert re.fullmatch(r"ORDER-\d+", order["orderNumber"]), order["orderNumber"]
    announced = shopper.stack.db.outbox(order_id)
    assert len(announced) == 1, announced
    payload = announced[0]["payload"]
    assert payload["orderNumber"] == order["orderNumber"]
    assert payload["transactionId"] == info["transactionId"]
    assert dec(payload["amount"]) == amount
    return order


def assert_open(shopper: Shopper, order_id: str, payment_status: str) -> dict[str, Any]:
    order = shopper.order(order_id)
    assert order["isFinalized"] is False, order
    assert order["transactionInfo"]["paymentStatus"] == payment_status, order
    assert shopper.stack.db.outbox(order_id) == []
    return order


def inbox_settled(shopper: Shopper, order_id: str, count: int) -> list[dict[str, Any]]:
    """Waits until ``count`` gateway events of the order are in the inbox."""
    def probe() -> list[dict[str, Any]] | None:
        rows = shopper.stack.db.inbox(order_id)
        return rows if len(rows) >= count else None

    rows = wait_for(probe, f"{count} webhook(s) of order {order_id} in the inbox")
    assert len(rows) == count, rows
    return rows


def deliveries(shopper: Shopper, payment_id: str, count: int) -> list[dict[str, Any]]:
    """Waits until the gateway has delivered ``count`` webhooks of the payment."""
    def probe() -> list[dict[str, Any]] | None:
        attempts = shopper.gateway_payment(payment_id)["webhook_attempts"]
        return attempts if len(attempts) >= count else None

    attempts = wait_for(probe, f"{count} webhook deliveries of {payment_id}")
    assert len(attempts) == count, attempts
    assert all(200 <= (a["status_code"] or 0) < 300 for a in attempts), attempts
    return attempts


def status_page(response: httpx.Response, order_id: str, token: str, status: str) -> str:
    """A Framed status page that tells the embedding shop, and only it, how it ended."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert f"frame-ancestors {SHOP}" in response.headers["content-security-policy"]
    page = response.text
    message = json.dumps(f"UC:{order_id}:{token}:{status}")
    assert f"window.parent.postMessage({message}, {json.dumps(SHOP)})" in page, page
    assert '"*"' not in page and "'*'" not in page
    return page


def callback_url(stack: Stack) -> str:
    return f"{stack.kasse}{CALLBACK}/testgateway/{stack.card_method_id}"


def gateway_event(reference: str, status: str = "authorized", amount: str = "95.40",
                  event_id: str | None = None, payment_id: str | None = None,
                  currency: str = "EUR") -> bytes:
    body = {"id": event_id or f"evt_{uuid4().hex[:24]}", "type": f"payment.{status}",
            "created": int(time.time()),
            "data": {"payment_id": payment_id or f"pay_{uuid4().hex[:24]}",
                     "reference": reference, "merchant": "kasse-demo", "amount": amount,
                     "currency": currency, "status": status, "fee": "0.00"}}
    return json.dumps(body, separators=(",", ":")).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json",
            WEBHOOK_SIGNATURE_HEADER: sign_webhook(secret, body, int(time.time()))}


# --- the happy paths -------------------------------------------------------------------------


def test_framed_card_payment_is_placed_once_and_tells_only_the_shop(
        stack: Stack, shopper: Shopper) -> None:
    order_id = shopper.cart()
    assert dec(shopper.order(order_id)["transactionAmount"]["value"]["value"]) == CARD_TOTAL
    stock_before = shopper.stock("trail-backpack")
    # A framed checkout must say which page embeds it.
    assert "Origin" in problem(shopper.token_response(order_id, "Framed"), 400)["detail"]

    issued = shopper.token_response(order_id, "Framed", SHOP)
    assert issued.status_code == 200, issued.text
    assert issued.headers["cache-control"] == "no-store"
    body = issued.json()
    assert set(body) == {"token", "orderNumber", "payUrl"}
    assert re.fullmatch(r"ORDER-\d+", body["orderNumber"]), body
    token = body["token"]
    assert body["payUrl"] == f"{stack.kasse}{API}/v1/checkout/{order_id}/pay/{token}"
    journey = Journey(order_id, token, body["payUrl"])

    page = shopper.pay_page(journey)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert f"frame-ancestors {SHOP}" in csp and "'none'" not in csp.split("frame-ancestors")[1]
    (form,) = forms(page.text)
    assert form.method.upper() == "POST" and form.action == f"{stack.gateway}/pay"
    assert '<form id="pay"' in page.text
    assert 'document.getElementById("pay").submit()' in page.text  # goes on by itself
    assert form.fields["amount"] == "95.40" and form.fields["currency"] == "EUR"
    assert form.fields["reference"] == stack.db.references(order_id)[0]
    assert form.fields["success_url"] == f"{journey.pay_url}/completed"
    assert form.fields["webhook_url"] == callback_url(stack)
    # The store name is full of markup characters: escaped in the page, intact in the form.
    description = f"{STORE_NAME} order {body['orderNumber']}"
    assert form.fields["description"] == description
    assert raw_attribute_values(page.text, "description") == [str(escape(description))]
    for name, value in form.fields.items():
        assert raw_attribute_values(page.text, name) == [str(escape(value))], name
    assert STORE_NAME not in page.text and "<Outfitters>" not in page.text
    assert sign_fields(SECRET, form.fields) == form.fields["signature"]

    created = shopper.browser.post(form.action, data=form.fields)
    card_url = redirect(created)
    back = shopper.submit(journey, card_url, webhook="late")
    assert back.startswith(f"{journey.pay_url}/completed?"), back
    landing = shopper.come_back(journey)
    status_page(landing, order_id, token, "completed")
    assert "Thank you" in landing.text and body["orderNumber"] in landing.text

    order = assert_placed(shopper, order_id, CARD_TOTAL)
    assert order["orderNumber"] == body["orderNumber"]
    assert order["transactionInfo"]["transactionId"] == journey.payment_id
    assert shopper.stock("trail-backpack") == stock_before - 1

    # The gateway's webhook comes a second later: recorded, and it changes nothing.
    (event,) = inbox_settled(shopper, order_id, 1)
    assert event["outcome"] == "already_finalized", event
    assert event["status"] == "Authorized" and event["provider_alias"] == "testgateway"
    deliveries(shopper, journey.payment_id, 1)
    assert_placed(shopper, order_id, CARD_TOTAL)
    assert shopper.stock("trail-backpack") == stock_before - 1


def test_redirect_card_payment_sends_the_shopper_to_the_continue_url(
        shopper: Shopper) -> None:
    order_id = shopper.cart()
    journey = shopper.token(order_id)
    page = shopper.pay_page(journey)
    assert page.status_code == 200, page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "postMessage" not in page.text
    card_url = shopper.to_gateway(journey)
    back = shopper.submit(journey, card_url)
    assert back.startswith(f"{journey.pay_url}/completed?"), back
    assert redirect(shopper.come_back(journey)) == CONFIRMATION
    (event,) = inbox_settled(shopper, order_id, 1)
    assert event["outcome"] in ("finalized", "already_finalized"), event
    assert_placed(shopper, order_id, CARD_TOTAL)


def test_a_declined_card_leaves_the_cart_payable(shopper: Shopper) -> None:
    order_id = shopper.cart()
    stock_before = shopper.stock("trail-backpack")
    declined = shopper.pay(order_id, card=DECLINE)
    assert urlsplit(declined.return_url).path == urlsplit(f"{declined.pay_url}/errored").path
    assert query_of(declined.return_url)["status"] == "declined"
    assert declined.landing is not None
    assert redirect(declined.landing) == ERROR
    (event,) = inbox_settled(shopper, order_id, 1)
    assert (event["status"], event["outcome"]) == ("Error", "payment_failed"), event
    first_number = assert_open(shopper, order_id, "Error")["orderNumber"]
    problem(shopper.pay_page(declined), 400)  # that attempt is over

    paid = shopper.pay(order_id)
    assert paid.landing is not None
    assert redirect(paid.landing) == CONFIRMATION
    inbox_settled(shopper, order_id, 2)
    order = assert_placed(shopper, order_id, CARD_TOTAL)
    assert order["orderNumber"] == first_number
    assert order["transactionInfo"]["transactionId"] == paid.payment_id
    assert shopper.stock("trail-backpack") == stock_before - 1


def test_cancel_is_not_a_dead_end(shopper: Shopper) -> None:
    order_id = shopper.cart()

    redirected = shopper.pay(order_id, action="cancel")
    assert urlsplit(redirected.return_url).path.endswith("/canceled")
    assert redirected.landing is not None
    assert redirect(redirected.landing) == CART
    inbox_settled(shopper, order_id, 1)
    assert_open(shopper, order_id, "Cancelled")

    framed = shopper.pay(order_id, action="cancel", mode="Framed", origin=SHOP)
    assert framed.landing is not None
    page = status_page(framed.landing, order_id, framed.token, "canceled")
    assert "Payment cancelled" in page
    events = inbox_settled(shopper, order_id, 2)
    assert {(e["status"], e["outcome"]) for e in events} == {("Cancelled", "payment_failed")}
    assert_open(shopper, order_id, "Cancelled")
    for old in (redirected, framed):
        assert "new token" in problem(shopper.pay_page(old), 400)["detail"]

    paid = shopper.pay(order_id, mode="Framed", origin=SHOP)
    assert paid.landing is not None
    status_page(paid.landing, order_id, paid.token, "completed")
    inbox_settled(shopper, order_id, 3)
    assert_placed(shopper, order_id, CARD_TOTAL)
    problem(shopper.pay_page(framed), 400)


# --- the gateway's webhooks ------------------------------------------------------------------


def test_a_late_webhook_changes_nothing(stack: Stack, shopper: Shopper) -> None:
    order_id = shopper.cart()
    journey = shopper.pay(order_id, webhook="late")
    assert journey.landing is not None
    assert redirect(journey.landing) == CONFIRMATION
    before = assert_placed(shopper, order_id, CARD_TOTAL)
    row_before = stack.db.order(order_id)

    (event,) = inbox_settled(shopper, order_id, 1)
    # "already_finalized" proves the shopper's return placed the order before the webhook.
    assert event["outcome"] == "already_finalized", event
    deliveries(shopper, journey.payment_id, 1)
    after = assert_placed(shopper, order_id, CARD_TOTAL)
    assert after["transactionInfo"] == before["transactionInfo"]
    row_after = stack.db.order(order_id)
    assert row_after["version"] == row_before["version"]
    assert row_after["updated_at"] == row_before["updated_at"]


def test_a_webhook_delivered_twice_is_processed_once(stack: Stack, shopper: Shopper) -> None:
    order_id = shopper.cart()
    stock_before = shopper.stock("trail-backpack")
    journey = shopper.pay(order_id, webhook="twice")
    assert journey.landing is not None
    assert redirect(journey.landing) == CONFIRMATION

    first, second = deliveries(shopper, journey.payment_id, 2)
    assert first["event_id"] == second["event_id"]
    (event,) = inbox_settled(shopper, order_id, 1)
    assert event["event_id"] == first["event_id"]
    assert stack.db.event(first["event_id"]) == [event]
    assert_placed(shopper, order_id, CARD_TOTAL)
    assert shopper.stock("trail-backpack") == stock_before - 1

    # The same event once more, replayed with a fresh signature: a duplicate, nothing done.
    body = gateway_event(event["reference"], event_id=first["event_id"],
                         payment_id=journey.payment_id)
    replay = httpx.post(callback_url(stack), content=body, headers=signed(body), timeout=15)
    assert replay.status_code == 200, replay.text
    assert replay.json() == {"received": True, "outcome": "duplicate"}
    assert len(stack.db.event(first["event_id"])) == 1
    assert_placed(shopper, order_id, CARD_TOTAL)
    assert shopper.stock("trail-backpack") == stock_before - 1


def test_a_webhook_before_the_return_places_the_order_and_the_return_says_completed(
        stack: Stack, shopper: Shopper) -> None:
    order_id = shopper.cart()
    journey = shopper.pay(order_id, webhook="before-return", mode="Framed", origin=SHOP,
                          come_back=False)
    # The gateway answered the shopper only after kasse took its webhook.
    (event,) = stack.db.inbox(order_id)
    assert (event["status"], event["outcome"]) == ("Authorized", "finalized"), event
    assert_placed(shopper, order_id, CARD_TOTAL)

    landing = shopper.come_back(journey)
    status_page(landing, order_id, journey.token, "completed")
    assert "Thank you" in landing.text
    assert_placed(shopper, order_id, CARD_TOTAL)
    assert len(stack.db.inbox(order_id)) == 1


def test_paid_means_ordered_even_if_the_shopper_never_comes_back(
        stack: Stack, shopper: Shopper) -> None:
    order_id = shopper.cart()
    stock_before = shopper.stock("trail-backpack")
    journey = shopper.pay(order_id, come_back=False)

    wait_for(lambda: shopper.order(order_id)["isFinalized"], "the webhook to place the order")
    (event,) = inbox_settled(shopper, order_id, 1)
    assert (event["status"], event["outcome"]) == ("Authorized", "finalized"), event
    order = assert_placed(shopper, order_id, CARD_TOTAL)
    assert order["transactionInfo"]["transactionId"] == journey.payment_id
    assert shopper.stock("trail-backpack") == stock_before - 1

    # Should the shopper come back after all, they are told it went through.
    assert redirect(shopper.come_back(journey)) == CONFIRMATION
    assert_placed(shopper, order_id, CARD_TOTAL)


def test_a_stale_failure_after_success_is_recorded_but_changes_nothing(
        shopper: Shopper) -> None:
    order_id = shopper.cart()
    journey = shopper.pay(order_id, webhook="out-of-order")
    assert journey.landing is not None
    assert redirect(journey.landing) == CONFIRMATION

    deliveries(shopper, journey.payment_id, 2)
    events = inbox_settled(shopper, order_id, 2)
    by_status = {e["status"]: e["outcome"] for e in events}
    assert set(by_status) == {"Authorized", "Error"}, events
    assert by_status["Authorized"] in ("finalized", "already_finalized")
    assert by_status["Error"] == "late_news_recorded"
    order = assert_placed(shopper, order_id, CARD_TOTAL)
    assert order["transactionInfo"]["transactionId"] == journey.payment_id


# --- tokens, returns and callbacks that must be refused --------------------------------------


def test_pay_pages_refuse_bad_old_and_foreign_tokens(stack: Stack, shopper: Shopper) -> None:
    order_id = shopper.cart()
    other_id = shopper.cart()
    journey = shopper.token(order_id)
    other = shopper.token(other_id)

    swapped = journey.token[:-1] + ("A" if journey.token[-1] != "A" else "B")
    tampered = Journey(order_id, swapped, journey.pay_url[:-len(journey.token)] + swapped)
    assert "token" in problem(shopper.pay_page(tampered), 400)["detail"]

    foreign = Journey(order_id, other.token, journey.pay_url.replace(journey.token, other.token))
    problem(shopper.pay_page(foreign), 400)

    unknown_url = journey.pay_url.replace(order_id, str(uuid4()))
    unknown = shopper.browser.get(unknown_url)
    assert 400 <= unknown.status_code < 500
    problem(unknown, unknown.status_code)

    # An expired token is refused; a new one works (Rule 4).
    (attempt,) = stack.db.attempts(order_id)
    stack.db.expire(attempt["id"])
    assert "expired" in problem(shopper.pay_page(journey), 400)["detail"]

    renewed = shopper.token(order_id)
    assert shopper.pay_page(renewed).status_code == 200

    # The cart changes after the token: paying the old one is refused (Rule 3).
    shopper.add(order_id, "camp-mug", 1)
    detail = problem(shopper.pay_page(renewed), 400)["detail"]
    assert "new token" in detail, detail
    paid = shopper.pay(order_id)
    assert paid.landing is not None
    assert redirect(paid.landing) == CONFIRMATION
    assert_placed(shopper, order_id, WITH_MUG_TOTAL)
    inbox_settled(shopper, order_id, 1)
    # Nobody paid the other order: its token still works.
    assert shopper.pay_page(other).status_code == 200


def test_a_tampered_return_is_refused_and_places_nothing(shopper: Shopper) -> None:
    order_id = shopper.cart()
    journey = shopper.pay(order_id, webhook="none", come_back=False)
    genuine = journey.return_url
    sig = query_of(genuine)["sig"]
    forged_sig = with_query(genuine, sig=("0" if sig[0] != "0" else "1") + sig[1:])
    problem(shopper.come_back(journey, forged_sig), 400)
    problem(shopper.come_back(journey, with_query(genuine, status="captured")), 400)
    assert_open(shopper, order_id, "Initialized")

    assert redirect(shopper.come_back(journey, genuine)) == CONFIRMATION
    assert_placed(shopper, order_id, CARD_TOTAL)

    # A declined payment's return dressed up as a success.
    declined_order = shopper.cart()
    declined = shopper.pay(declined_order, card=DECLINE, webhook="none", come_back=False)
    errored_path = urlsplit(declined.return_url).path
    assert errored_path.endswith("/errored")
    forged = with_query(declined.return_url.replace(errored_path, errored_path[:-7]
                                                     + "completed"), status="authorized")
    assert urlsplit(forged).path.endswith(f"{declined.token}/completed")
    problem(shopper.come_back(declined, forged), 400)
    assert_open(shopper, declined_order, "Initialized")
    assert shopper.stack.db.inbox(declined_order) == []


def test_callbacks_are_verified_before_anything_is_stored(stack: Stack) -> None:
    url = callback_url(stack)
    reference = uuid4().hex
    event_id = f"evt_{uuid4().hex[:24]}"
    body = gateway_event(reference, event_id=event_id)

    forged = httpx.post(url, content=body, headers=signed(body, "not-the-secret"), timeout=15)
    assert "signature" in problem(forged, 401)["detail"]
    unsigned = httpx.post(url, content=body, headers={"Content-Type": "application/json"},
                          timeout=15)
    problem(unsigned, 401)
    altered = body.replace(b'"95.40"', b'"0.01"')
    problem(httpx.post(url, content=altered, headers=signed(body), timeout=15), 401)
    assert stack.db.event(event_id) == []

    genuine = httpx.post(url, content=body, headers=signed(body), timeout=15)
    assert genuine.status_code == 200, genuine.text
    assert genuine.json() == {"received": True, "outcome": "unknown_reference"}
    (row,) = stack.db.event(event_id)
    assert (row["provider_alias"], row["reference"], row["outcome"]) == (
        "testgateway", reference, "unknown_reference")


def test_invoicing_goes_straight_back_to_kasse_and_is_placed(
        stack: Stack, shopper: Shopper) -> None:
    order_id = shopper.cart(payment="invoicing")
    journey = shopper.token(order_id)
    form = shopper.hand_over(journey)
    assert form.action == f"{journey.pay_url}/completed", form.action
    landing = shopper.browser.post(form.action, data=form.fields)
    assert redirect(landing) == CONFIRMATION
    order = assert_placed(shopper, order_id, INVOICE_TOTAL)
    assert order["transactionInfo"]["transactionId"].startswith("invoice-")
    assert stack.db.inbox(order_id) == []


def test_a_new_token_does_not_break_a_payment_already_under_way(shopper: Shopper) -> None:
    order_id = shopper.cart()
    first = shopper.token(order_id)
    card_url = shopper.to_gateway(first)
    second = shopper.token(order_id)  # the shop page was reloaded meanwhile
    assert second.token != first.token

    shopper.submit(first, card_url)
    assert redirect(shopper.come_back(first)) == CONFIRMATION
    (event,) = inbox_settled(shopper, order_id, 1)
    assert event["outcome"] in ("finalized", "already_finalized"), event
    order = assert_placed(shopper, order_id, CARD_TOTAL)
    assert order["transactionInfo"]["transactionId"] == first.payment_id
    assert "already paid" in problem(shopper.pay_page(second), 400)["detail"]


def test_a_paid_order_paid_again_is_reported_for_refund(shopper: Shopper) -> None:
    """Two tabs, two tokens, two approvals: one order, and the second payment is reported
    (once) so the shop can refund it."""
    order_id = shopper.cart()
    first = shopper.token(order_id)
    first_card = shopper.to_gateway(first)
    second = shopper.token(order_id)
    second_card = shopper.to_gateway(second)

    shopper.submit(first, first_card, webhook="none")
    assert redirect(shopper.come_back(first)) == CONFIRMATION
    shopper.submit(second, second_card)  # its webhook arrives as well
    shopper.come_back(second)

    order = assert_placed(shopper, order_id, CARD_TOTAL)
    assert order["transactionInfo"]["transactionId"] == first.payment_id
    reported = wait_for(lambda: shopper.stack.db.outbox(order_id, "payment.not_applied") or None,
                        "the second payment to be reported")
    assert len(reported) == 1
    assert reported[0]["payload"]["transactionId"] == second.payment_id


def test_old_news_does_not_mark_a_payment_under_way_as_failed(shopper: Shopper) -> None:
    order_id = shopper.cart()
    declined = shopper.pay(order_id, card=DECLINE, webhook="late", come_back=False)
    retry = shopper.token(order_id)  # the shopper tries again at once
    assert shopper.order(order_id)["transactionInfo"]["paymentStatus"] == "Initialized"

    (event,) = inbox_settled(shopper, order_id, 1)  # the first card's late decline
    assert event["outcome"] == "payment_failed"
    assert shopper.order(order_id)["transactionInfo"]["paymentStatus"] == "Initialized"

    shopper.submit(retry, shopper.to_gateway(retry))
    shopper.come_back(retry)
    assert_placed(shopper, order_id, CARD_TOTAL)
    assert declined.payment_id != retry.payment_id


# --- payments that cannot be applied ---------------------------------------------------------


def assert_given_back(shopper: Shopper, order_id: str, journey: Journey,
                      amount: Decimal) -> None:
    """Reported once as not applied (order, transaction, amount), voided at the gateway,
    and the order left open and payable."""
    reported = wait_for(lambda: shopper.stack.db.outbox(order_id, "payment.not_applied")
                        or None, "the payment to be reported as not applied")
    assert len(reported) == 1, reported
    payload = reported[0]["payload"]
    assert payload["orderId"] == order_id
    assert payload["transactionId"] == journey.payment_id
    assert dec(payload["amount"]) == amount and payload["currency"] == "EUR"
    assert "changed" in payload["reason"], payload
    given = wait_for(lambda: shopper.stack.db.outbox(
        order_id, "payment.not_applied_given_back") or None, "the payment to be voided")
    assert len(given) == 1 and given[0]["payload"]["paymentStatus"] == "Cancelled", given
    assert shopper.gateway_payment(journey.payment_id)["status"] == "cancelled"
    assert shopper.order(order_id)["isFinalized"] is False
    assert shopper.stack.db.outbox(order_id) == []  # no order.finalized


@pytest.mark.parametrize("mode", ["Redirect", "Framed"])
def test_a_payment_for_a_cart_changed_meanwhile_is_reported_once_and_given_back(
        shopper: Shopper, mode: str) -> None:
    """The shopper reaches the gateway's card page, the cart changes in another tab, and
    the old amount is approved: no order for the wrong amount, the money is reported and
    voided, and the shopper lands on the error route, not on a raw JSON error."""
    order_id = shopper.cart()
    journey = shopper.token(order_id, mode, SHOP if mode == "Framed" else None)
    card_url = shopper.to_gateway(journey)
    shopper.add(order_id, "camp-mug", 1)
    shopper.submit(journey, card_url)  # its webhook reaches kasse too
    landing = shopper.come_back(journey)
    if mode == "Redirect":
        assert redirect(landing) == ERROR
    else:
        status_page(landing, order_id, journey.token, "errored")

    assert_given_back(shopper, order_id, journey, CARD_TOTAL)
    events = inbox_settled(shopper, order_id, 2)  # the approval, then the void's news
    assert {e["outcome"] for e in events} <= {
        "not_applied_order_changed", "payment_failed", "late_news_recorded"}, events
    again = shopper.pay(order_id)  # cancel is not a dead end: a new token pays the new cart
    assert again.landing is not None and redirect(again.landing) == CONFIRMATION
    assert_placed(shopper, order_id, WITH_MUG_TOTAL)
    assert len(shopper.stack.db.outbox(order_id, "payment.not_applied")) == 1


def test_a_webhook_for_a_cart_changed_meanwhile_is_reported_even_if_the_shopper_never_returns(
        shopper: Shopper) -> None:
    order_id = shopper.cart()
    journey = shopper.token(order_id)
    card_url = shopper.to_gateway(journey)
    shopper.add(order_id, "camp-mug", 1)
    shopper.submit(journey, card_url)  # the tab is closed: only the webhook tells kasse
    assert_given_back(shopper, order_id, journey, CARD_TOTAL)


def test_a_payment_in_another_currency_is_not_applied(stack: Stack, shopper: Shopper) -> None:
    """A signed webhook saying JPY with the EUR figure does not place an EUR order."""
    order_id = shopper.cart()
    journey = shopper.token(order_id)
    shopper.hand_over(journey)
    (attempt,) = stack.db.attempts(order_id)
    body = gateway_event(attempt["id"].hex, currency="JPY")
    answer = httpx.post(callback_url(stack), content=body, headers=signed(body), timeout=15)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "not_applied_amount_mismatch"
    assert shopper.order(order_id)["isFinalized"] is False
    (reported,) = stack.db.outbox(order_id, "payment.not_applied")
    assert "JPY" in reported["payload"]["reason"]
    assert stack.db.outbox(order_id) == []


def test_an_expired_token_does_not_place_an_invoice_order(stack: Stack,
                                                          shopper: Shopper) -> None:
    order_id = shopper.cart(payment="invoicing")
    journey = shopper.token(order_id)
    form = shopper.hand_over(journey)
    (attempt,) = stack.db.attempts(order_id)
    stack.db.expire(attempt["id"])
    assert "expired" in problem(shopper.pay_page(journey), 400)["detail"]
    landing = shopper.browser.post(form.action, data=form.fields)
    assert "expired" in problem(landing, 400)["detail"]
    assert_open(shopper, order_id, "Initialized")
    placed = shopper.browser.post(shopper.hand_over(shopper.token(order_id)).action)
    assert redirect(placed) == CONFIRMATION
    assert_placed(shopper, order_id, INVOICE_TOTAL)
