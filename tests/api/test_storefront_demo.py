"""The demo storefront's server side (/demo), through HTTP into the app.

The demo must keep the ``Api-Key`` on the server, refuse forms without the session's
CSRF token, escape what it shows, and say clearly when there is no demo store.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from kasse.adapters.config_file import parse_yaml
from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.api.app import create_app
from kasse.bootstrap import secret_key
from kasse.demo import DEMO_STORE_FILE
from kasse.payments.testgateway import GatewayConfig, create_gateway_app
from kasse.services.store_import import import_store
from kasse.storefront_demo.session import MAX_AGE, SessionCodec
from tests.api.conftest import make_settings
from tests.conftest import API_KEY, OLD_API_KEY

SHOP = "http://shop.test"
HOSTILE = '<script>alert("x")</script>'


def browser(db_url: str, tmp_path: Path) -> TestClient:
    """A browser on the demo: no Api-Key, cookies kept, redirects followed."""
    app = create_app(make_settings(db_url, tmp_path, test_gateway=True))
    return TestClient(app, base_url=SHOP, raise_server_exceptions=True)


@pytest.fixture
def shop(demo_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with browser(demo_db_url, tmp_path) as client:
        yield client


def csrf(page: httpx.Response) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def session_data(client: TestClient) -> dict[str, object]:
    payload = client.cookies["kasse_demo"].split(".")[0]
    data: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * (
        -len(payload) % 4)))
    return data


def assert_no_key(response: httpx.Response) -> None:
    for hop in [*response.history, response]:
        seen = hop.text + "\n".join(f"{k}: {v}" for k, v in hop.headers.items())
        for key in (API_KEY, OLD_API_KEY):
            assert key not in seen, hop.url


def checkout(shop: TestClient, payment: str) -> tuple[str, list[httpx.Response]]:
    """A cart with a backpack, details and methods chosen; returns the review page's token."""
    pages = [shop.get("/demo/")]
    token = csrf(pages[0])
    pages.append(shop.post("/demo/cart/add", data={
        "csrf": token, "product": "trail-backpack", "quantity": "2"}))
    pages.append(shop.get("/demo/checkout"))
    pages.append(shop.post("/demo/checkout", data={
        "csrf": token, "first_name": "Ada", "last_name": "Lovelace",
        "email": "ada@example.com", "billing_line1": "Hauptstr. 1", "billing_zip": "10115",
        "billing_city": "Berlin", "billing_country": "DE", "same_as_billing": "1"}))
    pages.append(shop.post("/demo/checkout/methods", data={
        "csrf": token, "shipping": "courier:morning", "payment": payment}))
    for page in pages:
        assert page.status_code == 200, page.text
    assert pages[-1].url.path == "/demo/checkout/pay"
    return token, pages


def test_no_page_of_the_demo_shows_the_api_key(shop: TestClient) -> None:
    token, pages = checkout(shop, "card")
    assert "Local courier (Morning (8-12))" in pages[-1].text
    framed = shop.post("/demo/checkout/pay", data={"csrf": token, "mode": "framed"})
    assert framed.status_code == 200 and framed.url.path == "/demo/checkout/framed"
    hosted = session_data(shop)["hosted"]
    assert isinstance(hosted, dict)
    # The framed page embeds kasse's pay page and listens for its message, from its origin.
    assert f'src="{hosted["pay_url"]}"' in framed.text
    assert hosted["pay_url"].startswith(f"{SHOP}/umbraco/commerce/storefront/api/v1/checkout/")
    assert f'"origin": "{SHOP}"' in framed.text and hosted["token"] in framed.text
    assert f"frame-src {SHOP}" in framed.headers["content-security-policy"]
    pay_page = shop.get(hosted["pay_url"])
    assert pay_page.status_code == 200 and f"frame-ancestors {SHOP}" in pay_page.headers[
        "content-security-policy"]
    redirect = shop.post("/demo/checkout/pay", data={"csrf": token, "mode": "redirect"},
                         follow_redirects=False)
    assert redirect.status_code == 303
    assert redirect.headers["location"].startswith(f"{SHOP}/umbraco/commerce/storefront/")
    pages += [framed, pay_page, redirect, shop.get("/demo/error"), shop.get("/demo/cart"),
              shop.get("/demo/confirmation"), shop.get("/demo/nowhere")]
    # And the inline way, to its confirmation page.
    shop.post("/demo/checkout/methods", data={
        "csrf": token, "shipping": "standard", "payment": "invoicing"})
    placed = shop.post("/demo/checkout/pay", data={"csrf": token, "mode": "inline"})
    assert placed.url.path == "/demo/confirmation"
    assert re.search(r'id="order-number">ORDER-\d+<', placed.text), placed.text
    pages.append(placed)
    for page in pages:
        assert_no_key(page)


def test_forms_without_the_session_csrf_token_are_refused(
        shop: TestClient, demo_db_url: str, tmp_path: Path) -> None:
    catalog = shop.get("/demo/")
    token = csrf(catalog)
    add = {"product": "trail-backpack", "quantity": "1"}
    for sent in ({}, {"csrf": ""}, {"csrf": token[:-2] + "xx"}):
        refused = shop.post("/demo/cart/add", data={**add, **sent})
        assert refused.status_code == 403, sent
        assert "expired" in refused.text
    assert "cart_id" not in session_data(shop)
    # A token from another shopper's session does not count either.
    with browser(demo_db_url, tmp_path / "other") as other:
        other_token = csrf(other.get("/demo/"))
    assert shop.post("/demo/cart/add", data={**add, "csrf": other_token}).status_code == 403
    # Without a session cookie at all, nothing is accepted.
    shop.cookies.clear()
    assert shop.post("/demo/cart/add", data={**add, "csrf": token}).status_code == 403
    assert "kasse_demo" not in shop.cookies  # a refused form starts no session
    accepted = shop.post("/demo/cart/add", data={**add, "csrf": csrf(shop.get("/demo/"))})
    assert accepted.status_code == 200 and accepted.url.path == "/demo/cart"
    assert "Trail Backpack 30 L" in accepted.text


def test_a_tampered_session_cookie_is_a_new_session(shop: TestClient) -> None:
    checkout(shop, "card")
    value = shop.cookies["kasse_demo"]
    payload, signed = value.split(".", 1)
    data = session_data(shop)
    data["cart_id"] = "00000000-0000-0000-0000-000000000001"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    shop.cookies.set("kasse_demo", f"{forged}.{signed}", domain="shop.test",
                     path="/demo")
    cart = shop.get("/demo/cart")
    assert "Your cart is empty" in cart.text
    assert session_data(shop).get("cart_id") is None


def test_a_session_cookie_older_than_its_max_age_is_a_new_session(
        demo_db_url: str, tmp_path: Path) -> None:
    """The cookie's Max-Age is a week; a copy kept longer must not open the cart."""
    settings = make_settings(demo_db_url, tmp_path, test_gateway=True)
    with TestClient(create_app(settings), base_url=SHOP) as shop:
        checkout(shop, "card")
        session = SessionCodec(secret_key(settings)).load(shop.cookies["kasse_demo"])
        assert session.cart_id is not None

        def resigned(age: float) -> None:  # as if the cookie was issued age seconds ago
            codec = SessionCodec(secret_key(settings), clock=lambda: time.time() - age)
            shop.cookies.set("kasse_demo", codec.dump(session), domain="shop.test",
                             path="/demo")

        resigned(MAX_AGE - 60)
        assert "Trail Backpack 30 L" in shop.get("/demo/cart").text
        assert session_data(shop)["cart_id"] == session.cart_id  # and renewed
        resigned(MAX_AGE + 60)
        assert "Your cart is empty" in shop.get("/demo/cart").text
        assert session_data(shop).get("cart_id") is None


def test_pages_and_cookie_carry_strict_security_headers(shop: TestClient) -> None:
    page = shop.get("/demo/")
    csp = page.headers["content-security-policy"]
    assert re.search(r"script-src 'nonce-[\w-]+';", csp), csp
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/demo" in cookie
    assert shop.get("/demo/static/demo.css").status_code == 200
    paths = shop.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith(("/demo", "/testgateway"))]


async def _import_hostile_store(url: str) -> None:
    text = DEMO_STORE_FILE.read_text(encoding="utf-8")
    text = text.replace("name: Trail Backpack 30 L", f"name: '{HOSTILE}'", 1)
    text = text.replace("name: Kasse Outfitters", "name: 'Kasse <b>Outfitters</b>'", 1)
    db = Database.from_url(url)
    try:
        await import_store(SqlStorage(db), parse_yaml(text, "store.yaml").data)
    finally:
        await db.dispose()


def test_pages_escape_names_and_api_errors(empty_db_url: str, tmp_path: Path) -> None:
    asyncio.run(_import_hostile_store(empty_db_url))
    with browser(empty_db_url, tmp_path) as shop:
        catalog = shop.get("/demo/")
        assert catalog.status_code == 200
        assert HOSTILE not in catalog.text and "<b>Outfitters" not in catalog.text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in catalog.text
        assert "<script" not in catalog.text  # the catalog runs no script at all
        token = csrf(catalog)
        cart = shop.post("/demo/cart/add", data={
            "csrf": token, "product": "trail-backpack", "quantity": "1"})
        assert HOSTILE not in cart.text and "&lt;script&gt;" in cart.text
        # An API problem is shown to the shopper, escaped.
        refused = shop.post("/demo/cart/add", data={
            "csrf": token, "product": HOSTILE, "quantity": "1"})
        assert refused.url.path == "/demo/"
        assert 'class="flash error"' in refused.text and HOSTILE not in refused.text
        assert "&lt;script&gt;" in refused.text.split('class="flash error"')[1][:300]


def test_without_the_demo_store_the_demo_is_a_clear_404(
        empty_db_url: str, tmp_path: Path) -> None:
    with browser(empty_db_url, tmp_path) as shop:
        for path in ("/demo/", "/demo/cart", "/demo/checkout/pay"):
            page = shop.get(path)
            assert page.status_code == 404, path
            assert page.headers["content-type"].startswith("text/html")
            assert "The demo store is not loaded" in page.text and "kasse demo" in page.text
        assert shop.get("/demo", follow_redirects=False).status_code in (307, 308)


def test_only_the_mounted_test_gateway_may_be_framed_and_by_its_own_origin(
        shop: TestClient) -> None:
    mounted = shop.get("/testgateway/health")
    assert "frame-ancestors 'self'" in mounted.headers["content-security-policy"]
    with TestClient(create_gateway_app(GatewayConfig(merchants={}))) as standalone:
        alone = standalone.get("/health")
    assert "frame-ancestors 'none'" in alone.headers["content-security-policy"]


def test_cart_quantities_removal_and_currency(shop: TestClient) -> None:
    token = csrf(shop.get("/demo/"))
    cart = shop.post("/demo/cart/add", data={
        "csrf": token, "product": "trail-backpack", "quantity": "1"})
    line = re.search(r'data-line="([^"]+)"', cart.text)
    assert line is not None
    cart = shop.post("/demo/cart/update", data={"csrf": token, "line": line.group(1),
                                                "quantity": "3"})
    assert "269,85\u00a0€" in cart.text and 'value="3"' in cart.text
    # Prices follow the cart's currency, in the catalog and in the cart.
    catalog = shop.post("/demo/currency", data={"csrf": token, "currency": "GBP"})
    assert catalog.url.path == "/demo/" and "£79.00" in catalog.text
    assert "£237.00" in shop.get("/demo/cart").text
    # More than the stock (40): kasse's problem detail is shown, nothing changes.
    refused = shop.post("/demo/cart/update", data={"csrf": token, "line": line.group(1),
                                                   "quantity": "41"})
    assert 'class="flash error"' in refused.text and "£237.00" in refused.text
    cart = shop.post("/demo/cart/update", data={"csrf": token, "line": line.group(1),
                                                "quantity": "0"})
    assert "Your cart is empty" in cart.text
    cart = shop.post("/demo/cart/add", data={
        "csrf": token, "product": "merino-tee", "variant": "merino-tee-m-green",
        "quantity": "2"})
    assert "Size: M, Colour: Forest green" in cart.text and "£94.00" in cart.text
    line = re.search(r'data-line="([^"]+)"', cart.text)
    assert line is not None
    cart = shop.post("/demo/cart/remove", data={"csrf": token, "line": line.group(1)})
    assert "Your cart is empty" in cart.text


def test_codes_are_redeemed_and_a_refusal_says_why(shop: TestClient) -> None:
    token = csrf(shop.get("/demo/"))
    shop.post("/demo/cart/add", data={"csrf": token, "product": "trail-backpack",
                                      "quantity": "1"})
    cart = shop.post("/demo/cart/redeem", data={"csrf": token, "code": "welcome10"})
    assert "WELCOME10 is applied" in cart.text
    assert "<td>Welcome, 10 % off</td><td>-9,00\u00a0€</td>" in cart.text
    assert 'id="order-total">80,95\u00a0€<' in cart.text
    cart = shop.post("/demo/cart/redeem", data={"csrf": token, "code": "GIFT-DEMO-25"})
    assert "<td>Gift card GIFT-DEMO-25</td><td>-25,00\u00a0€</td>" in cart.text
    assert re.search(r'id="order-to-pay">55,95\u00a0€<', cart.text), cart.text
    refused = shop.post("/demo/cart/redeem", data={"csrf": token, "code": "NOPE<b>"})
    assert "no discount or gift card with code &#39;NOPE&lt;B&gt;&#39;" in refused.text
    assert "NOPE<B>" not in refused.text
    cart = shop.post("/demo/cart/unredeem", data={"csrf": token, "code": "WELCOME10"})
    assert "Welcome, 10 % off" not in cart.text and "Gift card GIFT-DEMO-25" in cart.text
    assert 'id="order-total">89,95\u00a0€<' in cart.text
