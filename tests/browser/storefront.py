"""What a shopper does in the demo storefront, step by step, and what the shop's server
can look up afterwards through the Storefront API."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import FrameLocator, Page, expect

from tests.conftest import API_KEY

API = "/umbraco/commerce/storefront/api"
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "browser"
APPROVE = "4242 4242 4242 4242"
DECLINE = "4000 0000 0000 0002"


def screenshot(page: Page, name: str) -> Path:
    """Saves the page as ``var/test-artifacts/browser/<name>.png`` (kept after the run)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0
    return path


def text(value: str) -> str:
    """Text as a reader sees it: currency formats use non-breaking spaces."""
    return " ".join(value.replace("\u00a0", " ").split())


@dataclass(frozen=True)
class Shopper:
    first_name: str
    last_name: str
    email: str
    line1: str
    zip_code: str
    city: str
    country: str


ADA = Shopper("Ada", "Lovelace", "ada@example.com", "Hauptstr. 1", "10115", "Berlin", "DE")


def add_to_cart(page: Page, product: str, quantity: int = 1) -> None:
    page.goto("/demo/")
    card = page.locator(f'[data-product="{product}"]')
    card.get_by_label("Quantity").fill(str(quantity))
    card.get_by_role("button", name="Add to cart").click()
    page.wait_for_url("**/demo/cart")


def choose_currency(page: Page, code: str) -> None:
    page.goto("/demo/")
    page.select_option("#currency", code)
    # The form comes back to the same address, so wait for the new page itself.
    with page.expect_navigation():
        page.get_by_role("button", name="Change").click()
    expect(page.locator("#currency")).to_have_value(code)


def enter_details(page: Page, shopper: Shopper, ship_to: Shopper | None = None) -> None:
    """From the cart through the details form, to the delivery and payment choice."""
    page.goto("/demo/cart")
    page.click("#checkout")
    page.wait_for_url("**/demo/checkout")
    page.fill("#first_name", shopper.first_name)
    page.fill("#last_name", shopper.last_name)
    page.fill("#email", shopper.email)
    page.fill("#billing_line1", shopper.line1)
    page.fill("#billing_zip", shopper.zip_code)
    page.fill("#billing_city", shopper.city)
    page.select_option("#billing_country", shopper.country)
    if ship_to is not None:
        page.uncheck("#same_as_billing")
        page.fill("#shipping_first_name", ship_to.first_name)
        page.fill("#shipping_last_name", ship_to.last_name)
        page.fill("#shipping_line1", ship_to.line1)
        page.fill("#shipping_zip", ship_to.zip_code)
        page.fill("#shipping_city", ship_to.city)
        page.select_option("#shipping_country", ship_to.country)
    page.click("#to-methods")
    page.wait_for_url("**/demo/checkout/methods")


def choose_methods(page: Page, shipping: str, payment: str) -> None:
    page.check(f'input[name="shipping"][value="{shipping}"]')
    page.check(f'input[name="payment"][value="{payment}"]')
    page.click("#to-review")
    page.wait_for_url("**/demo/checkout/pay")


def pay_framed(page: Page) -> None:
    page.click("#pay-framed")
    page.wait_for_url("**/demo/checkout/framed")


def card_form(page: Page) -> FrameLocator:
    """The test gateway's card page inside the demo's checkout frame."""
    frame = page.frame_locator("#checkout-frame")
    expect(frame.locator("#card_number")).to_be_visible()
    return frame


def pay_by_card(target: Page | FrameLocator, card: str) -> None:
    target.locator("#card_number").fill(card)
    target.locator('button[name="action"][value="pay"]').click()


def expect_confirmation(page: Page, total: str) -> str:
    """The confirmation page as the shopper sees it; returns the order number shown."""
    page.wait_for_url("**/demo/confirmation")
    expect(page.get_by_role("heading", name="Thank you for your order!")).to_be_visible()
    number = page.locator("#order-number")
    expect(number).to_have_text(re.compile(r"^ORDER-\d+$"))
    assert text(page.locator("#order-total").inner_text()) == total
    return number.inner_text()


def session(page: Page) -> dict[str, Any]:
    """The demo's session cookie, read (not verified) the way a curious shopper could."""
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "kasse_demo"]
    payload = cookie["value"].split(".")[0]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload)
                                                                           % 4)))
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    return data


class StorefrontApi:
    """The shop's server side: the Storefront API with the key, over real HTTP."""

    def __init__(self, kasse_url: str) -> None:
        self.http = httpx.Client(base_url=kasse_url + API, timeout=15,
                                 headers={"Api-Key": API_KEY, "Store": "demo"})

    def order(self, order_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/order/{order_id}",
                                 params={"expand": "paymentInfo[paymentMethod]"})
        assert response.status_code == 200, response.text
        order: dict[str, Any] = json.loads(response.content, parse_float=Decimal)
        return order

    def customer_orders(self, email: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/v1/customer/{email}/orders")
        assert response.status_code == 200, response.text
        orders: list[dict[str, Any]] = response.json()
        return orders

    def assert_placed(self, order_id: str, number: str, total: Decimal, email: str,
                      payment_method: str) -> dict[str, Any]:
        order = self.order(order_id)
        assert order["isFinalized"] is True, order
        assert order["orderNumber"] == number
        assert order["totalPrice"]["value"]["withTax"] == total
        assert order["transactionAmount"]["value"]["value"] == total
        assert order["transactionInfo"]["paymentStatus"] == "Authorized", order
        assert order["paymentInfo"]["paymentMethod"]["alias"] == payment_method
        assert order_id in [o["id"] for o in self.customer_orders(email)]
        return order

    def assert_open(self, order_id: str, payment_status: str) -> dict[str, Any]:
        order = self.order(order_id)
        assert order["isFinalized"] is False, order
        assert order["transactionInfo"]["paymentStatus"] == payment_status, order
        return order

    def close(self) -> None:
        self.http.close()
