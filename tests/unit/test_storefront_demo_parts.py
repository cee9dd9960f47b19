"""The demo storefront's parts that need no server: session cookie, JSON, presenters."""

from __future__ import annotations

import json
from decimal import Decimal

from kasse.storefront_demo.presenters import cart_view, product_cards
from kasse.storefront_demo.session import (
    CLOCK_SKEW,
    MAX_AGE,
    DemoSession,
    HostedCheckout,
    SessionCodec,
)
from kasse.storefront_demo.storefront_api import encode_json


def test_session_survives_the_cookie_and_tampering_starts_a_new_one() -> None:
    codec = SessionCodec(b"secret-one")
    session = DemoSession(cart_id="c1", currency="GBP",
                          hosted=HostedCheckout("c1", "tok", "http://shop/pay"))
    session.say("Added", "success")
    value = codec.dump(session)
    assert codec.load(value) == session

    payload, signed = value.split(".", 1)
    assert codec.load(f"{payload}x.{signed}").cart_id is None
    assert codec.load(f"{payload}.{signed[:-2]}AA").cart_id is None
    assert SessionCodec(b"secret-two").load(value).cart_id is None
    for junk in (None, "", "no-dot", "a.b.c", "!!!.###"):
        fresh = codec.load(junk)
        assert fresh.cart_id is None and len(fresh.csrf) >= 16


ISSUED = 1_800_000_000.0


def _codec_at(seconds_after_issue: float) -> SessionCodec:
    return SessionCodec(b"secret-one", clock=lambda: ISSUED + seconds_after_issue)


def test_a_session_cookie_is_good_for_its_max_age_and_no_longer() -> None:
    """A copied cookie stops working when the browser would have dropped it."""
    cookie = _codec_at(0).dump(DemoSession(cart_id="c1"))
    assert _codec_at(0).load(cookie).cart_id == "c1"
    assert _codec_at(MAX_AGE).load(cookie).cart_id == "c1"
    assert _codec_at(MAX_AGE + 1).load(cookie).cart_id is None
    assert _codec_at(365 * 24 * 3600).load(cookie).cart_id is None
    # Servers' clocks may differ a little, not by more.
    assert _codec_at(-CLOCK_SKEW).load(cookie).cart_id == "c1"
    assert _codec_at(-CLOCK_SKEW - 1).load(cookie).cart_id is None


def test_an_old_cookie_cannot_be_given_a_fresh_date() -> None:
    old = _codec_at(0).dump(DemoSession(cart_id="c1"))
    fresh = _codec_at(MAX_AGE).dump(DemoSession(cart_id="c2"))
    payload, _date, signature = old.split(".")
    _payload, fresh_date, _signature = fresh.split(".")
    reader = _codec_at(MAX_AGE + 1)
    assert reader.load(old).cart_id is None
    assert reader.load(f"{payload}.{fresh_date}.{signature}").cart_id is None
    assert reader.load(fresh).cart_id == "c2"


def test_csrf_token_must_match_exactly() -> None:
    session = DemoSession()
    assert session.csrf_matches(session.csrf)
    for wrong in (None, "", session.csrf[:-1], session.csrf + "x", 42):
        assert not session.csrf_matches(wrong)
    assert DemoSession().csrf != session.csrf


def test_flash_is_shown_once() -> None:
    session = DemoSession()
    session.say("no stock")
    assert session.take_flash() == ("no stock", "error")
    assert session.take_flash() is None


def test_amounts_are_sent_as_exact_json_numbers() -> None:
    body = encode_json({"amount": Decimal("95.40"), "tiny": Decimal("0.000001"),
                        "text": 'a "quoted" <b>', "list": [Decimal("1E+2"), None, True]})
    assert body == (b'{"amount":95.40,"tiny":0.000001,"text":"a \\"quoted\\" <b>",'
                    b'"list":[100,null,true]}')
    assert json.loads(body, parse_float=Decimal)["amount"] == Decimal("95.40")


def _price(text: str) -> dict[str, object]:
    return {"withTax": 1, "formatted": {"withTax": text, "tax": "t", "value": text}}


def test_variants_are_choices_on_their_product_card() -> None:
    products = [
        {"productReference": "tee", "productVariantReference": None, "name": "Tee",
         "imageUrl": "/demo/static/tee.svg", "price": _price("49,00 €"), "stock": None,
         "properties": {"description": "Soft"}},
        {"productReference": "tee", "productVariantReference": "tee-s", "name": "Tee S",
         "price": _price("49,00 €"), "stock": 0,
         "attributes": [{"name": {"name": "Size"}, "value": {"name": "S"}}]},
        {"productReference": "tee", "productVariantReference": "tee-m", "name": "Tee M",
         "price": _price("52,00 €"), "stock": 3, "attributes": []},
        {"productReference": "lamp", "productVariantReference": None, "name": "lamp",
         "imageUrl": "https://elsewhere.example/lamp.png", "price": _price("9 €"), "stock": 0},
    ]
    tee, lamp = product_cards(products)
    assert (tee.name, tee.image, tee.description, tee.sold_out) == (
        "Tee", "/demo/static/tee.svg", "Soft", False)
    assert [(c.variant, c.label, c.price, c.sold_out) for c in tee.choices] == [
        ("tee-s", "Size: S", "49,00 €", True), ("tee-m", "Tee M", "52,00 €", False)]
    # Only the demo's own pictures are shown (the page's CSP allows no others).
    assert lamp.image is None and lamp.initial == "L" and lamp.sold_out


def test_cart_view_reads_lines_totals_and_addresses() -> None:
    order = {
        "id": "o1", "cartNumber": "CART-00001", "orderNumber": None, "isFinalized": False,
        "currency": {"code": "EUR"},
        "orderLines": [{"id": "l1", "name": "Map", "sku": "MAP", "quantity": Decimal("2"),
                        "unitPrice": {"value": _price("12,90 €")},
                        "totalPrice": {"value": _price("25,80 €")}}],
        "subtotalPrice": {"value": _price("25,80 €")},
        "totalPrice": {"value": _price("30,75 €")},
        "transactionAmount": {"value": {"value": 1, "formatted": {"value": "30,75 €"}}},
        "paymentInfo": {"country": {"code": "DE", "name": "Germany"},
                        "paymentMethod": {"alias": "invoicing", "name": "Pay by invoice",
                                          "paymentProviderAlias": "invoicing"},
                        "totalPrice": {"value": _price("0,00 €")}},
        "shippingInfo": {"country": {"code": "FR", "name": "France"},
                         "shippingMethod": {"alias": "courier", "name": "Courier"},
                         "shippingOption": {"id": "am", "name": "Morning"},
                         "totalPrice": {"value": _price("4,95 €")}},
        "transactionInfo": {"paymentStatus": "Cancelled"},
        "properties": {"firstName": "Ada", "lastName": "L", "email": "ada@example.com",
                       "billingAddressLine1": "Hauptstr. 1", "billingCity": "Berlin",
                       "billingZipCode": "10115", "shippingFirstName": "Charles",
                       "shippingAddressLine1": "Rue 1", "shippingCity": "Paris"},
    }
    view = cart_view(order)
    assert view.item_count == 2 and view.lines[0].total == "25,80 €"
    assert (view.subtotal, view.shipping, view.total, view.to_pay) == (
        "25,80 €", "4,95 €", "30,75 €", "30,75 €")
    assert view.shipping_method == "Courier (Morning)" and view.pays_inline
    assert view.payment_status == "Cancelled"
    assert view.billing is not None and view.billing.name == "Ada L"
    assert view.billing.lines == ["Hauptstr. 1", "10115 Berlin", "Germany"]
    assert view.shipping_address is not None
    assert view.shipping_address.lines == ["Rue 1", "Paris", "France"]
