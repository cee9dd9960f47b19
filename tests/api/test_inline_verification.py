"""Inline confirm is checked with the payment's gateway where the gateway can say.

The demo store's ``card`` method uses the test gateway that kasse serves itself
(``KASSE_TEST_GATEWAY``); the shopper's card payment is made at that gateway the way its
card page makes it, and the storefront then confirms it. A made-up transaction, another
order's payment, a wrong amount or status is refused with a 400 naming it; invoicing
stays trusted (its confirms are covered in test_inline_checkout).

Rain Jacket M x1 paid by card, DE, standard delivery: 159.00 + 4.95 + 0.50 = 164.45.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import checkout_attempts
from kasse.api.app import create_app
from kasse.payments.testgateway.cards import APPROVE
from kasse.payments.testgateway.signing import sign_fields
from tests.api.conftest import BASE, make_settings
from tests.api.test_inline_checkout import (
    CUSTOMER,
    JACKET_CARD_TOTAL,
    checkout_url,
    confirm,
    dec,
    get_order,
    initialize,
    jacket_cart,
    ok,
    problem,
)
from tests.conftest import API_KEY

SECRET = "demo-signing-secret-change-me"  # the demo store's test gateway secret


@pytest.fixture
def client(demo_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(make_settings(demo_db_url, tmp_path, test_gateway=True))
    with TestClient(app, headers={"Api-Key": API_KEY, "Store": "demo"},
                    raise_server_exceptions=False) as test_client:
        yield test_client


def reference_of(db_url: str, order_id: str) -> str:
    async def read() -> str:
        db = Database.from_url(db_url)
        try:
            async with db.read() as conn:
                row = (await conn.execute(
                    select(checkout_attempts.c.id)
                    .where(checkout_attempts.c.order_id == UUID(order_id))
                    .order_by(checkout_attempts.c.created_at.desc()))).first()
                assert row is not None
                return str(row[0].hex)
        finally:
            await db.dispose()

    return asyncio.run(read())


def pay_at_gateway(client: TestClient, reference: str, amount: Decimal) -> str:
    """The shopper's card approved at the test gateway for ``reference``; its payment id."""
    fields = {"merchant": "kasse-demo", "reference": reference, "amount": f"{amount:f}",
              "currency": "EUR", "description": "inline card payment",
              "success_url": "https://shop.test/done", "cancel_url": "https://shop.test/cancel",
              "error_url": "https://shop.test/error",
              "webhook_url": "http://127.0.0.1:9/no-webhooks"}
    fields["signature"] = sign_fields(SECRET, fields)
    created = client.post("/testgateway/pay", data=fields, follow_redirects=False)
    assert created.status_code == 303, created.text
    card_page = httpx.URL(created.headers["location"]).path
    paid = client.post(f"{card_page}/submit", follow_redirects=False, data={
        "card_number": APPROVE, "expiry": "12/39", "cvc": "123", "holder": "Erika M",
        "webhook": "none", "action": "pay"})
    assert paid.status_code == 303, paid.text
    payment_id = httpx.URL(paid.headers["location"]).params["payment_id"]
    return str(payment_id)


def confirm_card(client: TestClient, order_id: str, transaction: str,
                 status: str = "Authorized", amount: Decimal = JACKET_CARD_TOTAL
                 ) -> httpx.Response:
    response: httpx.Response = client.post(
        f"{BASE}/v1/checkout/{order_id}/confirm",
        json={"amount": float(amount), "transactionId": transaction,
              "paymentStatus": status})
    return response


def refused(response: httpx.Response, *words: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    for word in words:
        assert word in body["detail"], body
    return body


def test_a_card_confirm_is_checked_with_the_test_gateway(client: TestClient,
                                                         demo_db_url: str) -> None:
    other_id = jacket_cart(client, payment="card")
    initialize(client, other_id)
    others_payment = pay_at_gateway(client, reference_of(demo_db_url, other_id),
                                    JACKET_CARD_TOTAL)

    order_id = jacket_cart(client, payment="card")
    initialize(client, order_id)
    payment = pay_at_gateway(client, reference_of(demo_db_url, order_id), JACKET_CARD_TOTAL)

    refused(confirm_card(client, order_id, "pay_made_up", "Captured"), "knows no transaction",
            "pay_made_up")
    refused(confirm_card(client, order_id, others_payment), others_payment,
            "does not belong to this order")
    refused(confirm_card(client, order_id, payment, amount=JACKET_CARD_TOTAL - 1), payment,
            "does not match")
    refused(confirm_card(client, order_id, payment, "Captured"), payment, "Authorized")
    order = client.get(f"{BASE}/v1/order/{order_id}").json()
    assert order["isFinalized"] is False

    placed = confirm_card(client, order_id, payment)
    assert placed.status_code == 200, placed.text
    info = placed.json()["transactionInfo"]
    assert info["transactionId"] == payment and info["paymentStatus"] == "Authorized"
    again = confirm_card(client, order_id, payment)  # a repeat answers like the first
    assert again.status_code == 200, again.text


def test_a_payment_of_another_amount_is_refused_although_it_belongs_to_the_order(
        client: TestClient, demo_db_url: str) -> None:
    order_id = jacket_cart(client, payment="card")
    initialize(client, order_id)
    cheaper = pay_at_gateway(client, reference_of(demo_db_url, order_id), Decimal("1.00"))
    refused(confirm_card(client, order_id, cheaper), cheaper, "1.00")
    # Claiming the order's amount does not help: the gateway holds 1.00.
    refused(confirm_card(client, order_id, cheaper, amount=Decimal("1.00")), "does not match",
            "164.45")
    assert client.get(f"{BASE}/v1/order/{order_id}").json()["isFinalized"] is False


# --- moved here: confirms of the card method need a payment the gateway holds ---------------


def test_a_secret_setting_never_leaves_the_server(client: TestClient, demo_db_url: str
                                                  ) -> None:
    bodies: list[tuple[str, str]] = []

    def record(response: httpx.Response) -> None:
        response.read()
        bodies.append((f"{response.request.method} {response.request.url}", response.text))

    client.event_hooks["response"].append(record)

    order_id = jacket_cart(client, payment="card")
    get_order(client, order_id)
    ok(client.get(checkout_url(order_id, "paymentmethods")))
    ok(client.get(checkout_url(order_id, "paymentmethods"), params={"expand": "$all"}))
    ok(client.get(checkout_url(order_id, "shippingmethods")))
    for version in ("v1", "v2"):
        ok(client.get(f"{BASE}/{version}/paymentmethods"))
        ok(client.get(f"{BASE}/{version}/paymentmethod/card"))
        ok(client.get(f"{BASE}/{version}/paymentmethod/card", params={"expand": "$all"}))
    ok(client.get(f"{BASE}/v1/country/DE/paymentmethods"))
    ok(client.get(f"{BASE}/v1/store/demo"))

    ready = initialize(client, order_id)
    settings = ready["paymentMethod"]["settings"]
    assert "SigningSecret" not in settings
    assert settings["MerchantId"] == "kasse-demo"
    assert settings["ContinueUrl"] == "/demo/confirmation"
    assert ready["paymentMethod"]["metaDataDefinitions"] == {
        "testGatewayPaymentId": "Test gateway payment id"}
    assert "/umbraco/commerce/payment/callback/testgateway/" in (
        ready["paymentMethod"]["urls"]["callback"])
    assert order_id in ready["paymentMethod"]["urls"]["callback"]
    initialize(client, order_id)  # a second initialize answers the same way

    # the hosted flow of the same method shows no secret either
    hosted = ok(client.get(checkout_url(order_id, "token"), headers={"Api-Key": ""}))
    page = client.get(hosted["payUrl"], headers={"Api-Key": "", "Store": ""})
    assert page.status_code == 200, page.text

    get_order(client, order_id)
    initialize(client, order_id)
    paid = pay_at_gateway(client, reference_of(demo_db_url, order_id), JACKET_CARD_TOTAL)
    problem(confirm(client, order_id, "164.44", transaction_id=paid), 400)
    ok(confirm(client, order_id, JACKET_CARD_TOTAL, transaction_id=paid, fee=0.3))
    ok(confirm(client, order_id, JACKET_CARD_TOTAL, transaction_id=paid, fee=0.3))
    problem(confirm(client, order_id, JACKET_CARD_TOTAL, transaction_id="tx-other"), 409)
    finalized = get_order(client, order_id)
    assert finalized["isFinalized"] is True
    ok(client.get(f"{BASE}/v1/customer/{CUSTOMER['email']}/orders"))

    assert len(bodies) >= 20
    for where, text in bodies:
        assert SECRET not in text, f"the signing secret leaks through {where}"
        assert "SigningSecret" not in text, f"the secret setting's name shows in {where}"


def test_the_fee_is_stored_as_the_transaction_fee(client: TestClient, demo_db_url: str
                                                  ) -> None:
    order_id = jacket_cart(client, payment="card")
    initialize(client, order_id)
    paid = pay_at_gateway(client, reference_of(demo_db_url, order_id), JACKET_CARD_TOTAL)
    confirmed = ok(confirm(client, order_id, JACKET_CARD_TOTAL, transaction_id=paid,
                           fee=0.35))
    fee = confirmed["transactionInfo"]["feeAmount"]
    assert dec(fee["value"]) == Decimal("0.35")
    assert fee["currency"]["code"] == "EUR"
    assert dec(confirmed["transactionInfo"]["authorizedAmount"]["value"]) == JACKET_CARD_TOTAL
    order = get_order(client, order_id)
    assert order["transactionInfo"] == confirmed["transactionInfo"]
    # the gateway's fee is the merchant's cost: it does not change what the shopper paid
    assert dec(order["transactionAmount"]["value"]["value"]) == JACKET_CARD_TOTAL
