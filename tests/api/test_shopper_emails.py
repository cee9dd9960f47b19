"""The shopper's emails through the app: an order placed over the Storefront API reaches a
real SMTP server (aiosmtpd on loopback) once, as text and HTML, in the order's language,
with the store's amounts; names cannot add headers; a server that is down gets the
message once it is back; staff see every attempt and resend on demand."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from kasse.api.app import create_app
from tests.api.conftest import make_settings
from tests.conftest import API_KEY
from tests.integration.hosted import free_port, wait_for
from tests.integration.mail_server import MailServer, Received
from tests.management import MANAGEMENT, bearer, issue_token

API = "/umbraco/commerce/storefront/api/v1"
NBSP = "\u00a0"
ADA = {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"}


def app_with_smtp(db_url: str, tmp_path: Path, port: int, **extra: Any) -> TestClient:
    settings = make_settings(db_url, tmp_path, smtp_host="127.0.0.1", smtp_port=port,
                             smtp_security="none", email_poll_seconds=0.1,
                             webhook_worker=False, **extra)
    return TestClient(create_app(settings), headers={"Api-Key": API_KEY, "Store": "demo"},
                      raise_server_exceptions=False)


def place_order(api: TestClient, *, language: str, customer: dict[str, str] | None = None,
                country: str = "DE", currency: str = "EUR", items: tuple[tuple[str, int], ...] = (
                    ("trail-backpack", 1), ("trail-map", 2))) -> dict[str, Any]:
    """An invoice order through the inline checkout; returns the placed order."""
    order_id = api.post(f"{API}/orders", json={}).json()["id"]
    for reference, quantity in items:
        added = api.post(f"{API}/order/{order_id}",
                         json={"productReference": reference, "quantity": quantity})
        assert added.status_code == 200, added.text
    changed = api.patch(f"{API}/order/{order_id}", json={
        "language": language, "currency": currency, "customer": customer or ADA,
        "billingAddress": {"line1": "Hauptstr. 1", "city": "Berlin", "zipCode": "10115",
                           "country": country},
        "shippingAddress": {"sameAsBilling": True},
        "shippingMethod": "standard", "paymentMethod": "invoicing"})
    assert changed.status_code == 200, changed.text
    assert api.get(f"{API}/checkout/{order_id}/initialize").status_code == 200
    amount = changed.json()["transactionAmount"]["value"]["value"]
    confirmed = api.post(f"{API}/checkout/{order_id}/confirm", json={
        "amount": amount, "transactionId": f"INV-{order_id[:8]}",
        "paymentStatus": "Authorized"})
    assert confirmed.status_code == 200, confirmed.text
    order: dict[str, Any] = api.get(f"{API}/order/{order_id}").json()
    return order


def parts(received: Received) -> tuple[str, str]:
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    return text.get_content(), html.get_content()


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer().running() as server:
        yield server


def test_a_placed_order_is_confirmed_once_in_german_with_the_stores_amounts(
        demo_db_url: str, tmp_path: Path, mail: MailServer) -> None:
    with app_with_smtp(demo_db_url, tmp_path, mail.port) as api:
        order = place_order(api, language="de-DE")
        (received,) = mail.wait_for(1)
        time.sleep(0.6)  # several more worker rounds: nothing more is sent
        assert len(mail.messages()) == 1

    assert received.mail_from == "shop@outfitters.example"
    assert received.rcpt_tos == ["ada@example.com"]
    message = received.message
    number = order["orderNumber"]
    assert message["Subject"] == f"Ihre Bestellung {number} bei Kasse Outfitters"
    assert message["From"] == "Kasse Outfitters <shop@outfitters.example>"
    assert message["To"] == "Ada Lovelace <ada@example.com>"
    assert message["Reply-To"] == "help@outfitters.example"
    assert message["Content-Language"] == "de"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@outfitters.example>")
    text, html = parts(received)
    # de-DE writes euros as 1.234,50 €. Prices include 19 % (the map 7 %):
    #   1 × backpack 89,95 + 2 × map 12,90 = 25,80 → subtotal 115,75; shipping 4,95;
    #   total 115,75 + 4,95 = 120,70
    for figure in ("89,95 €", "25,80 €", "115,75 €", "4,95 €", "120,70 €"):
        figure = figure.replace(" ", NBSP)  # de-DE puts a no-break space before the €
        assert figure in text and figure in html, (figure, text.replace("\r\n", "|"))
    # tax: 89,95 − 89,95/1,19 = 14,36; 12,90 − 12,90/1,07 = 0,84 per map, 1,68;
    #   4,95 − 4,95/1,19 = 0,79 → 14,36 + 1,68 + 0,79 = 16,83
    assert f"Enthaltene MwSt.: 16,83{NBSP}€" in text
    assert "Trail Backpack 30 L" in text and "2 × Alps Trail Map (MAP-ALPS)" in text
    assert "Rechnungsadresse" in text and "Hauptstr. 1" in text and "10115 Berlin" in text
    # the store's invoice instructions, in German, with the amount and the number
    assert (f"Bitte überweisen Sie 120,70{NBSP}€ innerhalb von 14 Tagen an Kasse Outfitters, "
            f"IBAN DE89 3704 0044 0532 0130 00, mit Ihrer Bestellnummer {number}") in text
    assert "Vielen Dank für Ihre Bestellung, Ada!" in html
    assert API_KEY not in received.raw.decode()


def test_english_is_the_fallback_and_pounds_are_written_the_british_way(
        demo_db_url: str, tmp_path: Path, mail: MailServer) -> None:
    with app_with_smtp(demo_db_url, tmp_path, mail.port) as api:
        order = place_order(api, language="fr-FR", country="GB", currency="GBP",
                            items=(("trail-backpack", 1),))
        (received,) = mail.wait_for(1)
    text, html = parts(received)
    assert received.message["Subject"] == (f"Your order {order['orderNumber']} at "
                                           "Kasse Outfitters")
    assert received.message["Content-Language"] == "en"  # no French: the store's default
    # en-GB: £79.00 backpack + £3.95 shipping = £82.95; 20 % included: 82.95/6 = 13.825,
    #   by line: 79.00/6 = 13.17 (13.1667) and 3.95/6 = 0.66 (0.6583) → £13.83
    for figure in ("£79.00", "£3.95", "£82.95"):
        assert figure in text and figure in html, (figure, text.replace("\r\n", "|"))
    assert "Including tax: £13.83" in text
    assert "Thank you for your order, Ada!" in text


def test_a_hostile_name_adds_no_header_and_no_markup(demo_db_url: str, tmp_path: Path,
                                                      mail: MailServer) -> None:
    hostile = {"firstName": "Eve\r\nBcc: victim@evil.example",
               "lastName": "=?utf-8?q?Admin?= <script>alert(1)</script>",
               "email": "eve@example.com"}
    with app_with_smtp(demo_db_url, tmp_path, mail.port) as api:
        place_order(api, language="en", customer=hostile)
        (received,) = mail.wait_for(1)
    assert received.rcpt_tos == ["eve@example.com"]  # the envelope: nobody else
    head = received.raw.split(b"\r\n\r\n", 1)[0].decode()
    names = [line.split(":", 1)[0].lower() for line in head.split("\r\n")
             if line and not line[0].isspace()]
    assert "bcc" not in names and names.count("to") == 1
    message = received.message
    to = message["To"]
    assert to.addresses[0].addr_spec == "eve@example.com"
    assert "\n" not in to.addresses[0].display_name
    assert "=?" not in to.addresses[0].display_name  # shown as typed, never decoded
    _, html = parts(received)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_mail_server_that_is_down_gets_the_message_once_it_is_back(
        demo_db_url: str, tmp_path: Path) -> None:
    port = free_port()  # nothing listens yet
    owner = issue_token(demo_db_url, "support")
    with app_with_smtp(demo_db_url, tmp_path, port, email_retry_base_seconds=0.3) as api:
        order = place_order(api, language="en")
        url = f"{MANAGEMENT}/orders/{order['id']}/emails"

        def attempts() -> list[dict[str, Any]]:
            body = api.get(url, headers=bearer(owner)).json()
            return body["items"][0]["attempts"] if body["items"] else []

        failed = wait_for(lambda: attempts(), "a failed attempt")
        assert failed[0]["outcome"] == "temporary" and "connecting" in failed[0]["detail"]
        with MailServer(port).running() as mail:
            (received,) = mail.wait_for(1)
            time.sleep(0.8)
            assert len(mail.messages()) == 1
            (email,) = api.get(url, headers=bearer(owner)).json()["items"]
    assert received.rcpt_tos == ["ada@example.com"]
    assert email["status"] == "sent" and email["type"] == "confirmation"
    assert email["attempts"][-1]["outcome"] == "sent"
    assert email["attempts"][-1]["detail"].startswith("250")
    assert email["attemptCount"] == len(email["attempts"]) >= 2
    assert email["messageId"] == received.message["Message-ID"]


def test_staff_see_an_orders_emails_preview_them_and_resend_them(
        demo_db_url: str, tmp_path: Path, mail: MailServer) -> None:
    support = issue_token(demo_db_url, "support")
    manager = issue_token(demo_db_url, "manager")
    elsewhere = issue_token(demo_db_url, "owner", stores=[uuid4()])
    with app_with_smtp(demo_db_url, tmp_path, mail.port) as api:
        order = place_order(api, language="en")
        (first,) = mail.wait_for(1)
        url = f"{MANAGEMENT}/orders/{order['id']}/emails"
        (email,) = wait_for(lambda: [e for e in api.get(url, headers=bearer(support)).json()[
            "items"] if e["status"] == "sent"], "the message recorded as sent")
        assert (email["recipient"], email["language"]) == ("ada@example.com", "en")
        assert api.get(url, headers=bearer(elsewhere)).status_code == 404
        preview = api.get(f"{url}/preview", params={"type": "canceled", "language": "de"},
                          headers=bearer(support)).json()
        assert preview["subject"] == f"Ihre Bestellung {order['orderNumber']} wurde storniert"
        assert preview["eventFound"] is False and "<html" in preview["html"]

        resend = f"{MANAGEMENT}/emails/{email['id']}/resend"
        assert api.post(resend, headers=bearer(manager)).status_code == 400  # no key
        assert api.post(resend, headers=bearer(elsewhere, **{"Idempotency-Key": "k0"})
                        ).status_code == 404
        # Support reads; sending anything is for the roles that act.
        assert api.post(resend, headers=bearer(support, **{"Idempotency-Key": "k1"})
                        ).status_code == 403
        again = api.post(resend, headers=bearer(manager, **{"Idempotency-Key": "k1"}))
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "pending" and again.json()["resends"] == 1
        replay = api.post(resend, headers=bearer(manager, **{"Idempotency-Key": "k1"}))
        assert replay.headers.get("idempotent-replayed") == "true"
        _, second = mail.wait_for(2)
        time.sleep(0.5)
        assert len(mail.messages()) == 2  # the replay did not send a third
    # A copy of a message that arrived gets a Message-ID of its own (or the shopper's
    # mail program would take it for the one it has).
    assert second.message["Message-ID"] != first.message["Message-ID"]
    assert second.message["Subject"] == first.message["Subject"]


def test_staff_actions_reach_the_shopper_as_shipped_refunded_and_canceled_emails(
        demo_db_url: str, tmp_path: Path, mail: MailServer) -> None:
    """The real management actions, not made-up events: a shipment, a refund recorded by
    hand and a cancel each send their message once, with what the staff entered."""
    manager = issue_token(demo_db_url, "manager")

    def act(order_id: str, action: str, body: dict[str, Any]) -> None:
        done = api.post(f"{MANAGEMENT}/orders/{order_id}/{action}", json=body,
                        headers=bearer(manager, **{"Idempotency-Key": uuid4().hex}))
        assert done.status_code in (200, 201), done.text

    with app_with_smtp(demo_db_url, tmp_path, mail.port) as api:
        shipped = place_order(api, language="en")
        canceled = place_order(api, language="en")
        mail.wait_for(2)  # the two confirmations
        act(shipped["id"], "fulfilments", {"carrier": "DHL", "trackingNumber": "00340434"})
        act(shipped["id"], "payments", {"reference": "BANK-1"})
        act(shipped["id"], "refunds", {"amount": "5.00", "reason": "late delivery"})
        act(canceled["id"], "cancel", {"reason": "customer asked"})
        received = mail.wait_for(5)
        time.sleep(0.6)  # several more worker rounds: nothing more is sent
        assert len(mail.messages()) == 5
    subjects = sorted(r.message["Subject"] for r in received[2:])
    assert subjects == sorted([
        f"Your order {shipped['orderNumber']} is on its way",
        f"Refund for your order {shipped['orderNumber']}",
        f"Your order {canceled['orderNumber']} was canceled"])
    shipment = next(r for r in received[2:] if "on its way" in r.message["Subject"])
    text = shipment.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "DHL" in text and "00340434" in text
    assert all(r.rcpt_tos == ["ada@example.com"] for r in received[2:])
