"""Every way to pay in the demo storefront, in a real browser against a real kasse.

Each test shops like a person would (product list, cart, details form, delivery and
payment choice), pays one way, checks what the shopper sees, then checks the order the
way the shop's server would, through the Storefront API, and keeps a screenshot of the
last page in var/test-artifacts/browser/.
"""

from __future__ import annotations

from decimal import Decimal

from playwright.sync_api import Page, expect

from tests.browser.storefront import (
    ADA,
    APPROVE,
    DECLINE,
    Shopper,
    StorefrontApi,
    add_to_cart,
    card_form,
    choose_currency,
    choose_methods,
    enter_details,
    expect_confirmation,
    pay_by_card,
    pay_framed,
    screenshot,
    session,
    text,
)

# Trail backpack 89.95 + standard delivery 4.95 + card fee 0.50 (demo-store.yaml).
CARD_TOTAL_EUR = Decimal("95.40")


def test_framed_card_payment_is_approved(page: Page, api: StorefrontApi) -> None:
    add_to_cart(page, "trail-backpack")
    enter_details(page, ADA)
    choose_methods(page, "standard", "card")
    pay_framed(page)

    pay_by_card(card_form(page), APPROVE)

    number = expect_confirmation(page, "95,40 €")
    expect(page.locator("#payment-status")).to_have_text("Authorized")
    expect(page.locator("#cart-link .badge")).to_have_text("0")
    order_id = session(page)["placed_id"]
    api.assert_placed(order_id, number, CARD_TOTAL_EUR, ADA.email, "card")
    screenshot(page, "framed_card_payment_is_approved")


def test_framed_card_payment_is_declined_and_the_cart_stays(
        page: Page, api: StorefrontApi) -> None:
    add_to_cart(page, "trail-backpack")
    enter_details(page, ADA)
    choose_methods(page, "standard", "card")
    pay_framed(page)

    pay_by_card(card_form(page), DECLINE)

    expect(page.locator("#outcome-errored")).to_be_visible()
    expect(page.locator("#outcome-errored")).to_contain_text("did not go through")
    expect(page.locator("#pay-again")).to_be_visible()
    expect(page.locator("#checkout-frame")).to_be_hidden()
    expect(page.locator("#cart-link .badge")).to_have_text("1")
    state = session(page)
    assert "placed_id" not in state
    order = api.assert_open(state["cart_id"], "Error")
    assert order["orderNumber"]  # numbered when the token was issued; not placed
    screenshot(page, "framed_card_payment_is_declined")


def test_framed_payment_cancelled_then_paid_on_retry(page: Page, api: StorefrontApi) -> None:
    add_to_cart(page, "trail-backpack")
    enter_details(page, ADA)
    choose_methods(page, "standard", "card")
    pay_framed(page)
    first_token = session(page)["hosted"]["token"]

    card_form(page).get_by_role("button", name="Cancel").click()

    expect(page.locator("#outcome-canceled")).to_be_visible()
    expect(page.locator("#outcome-canceled")).to_contain_text("cart is still here")
    cart_id = session(page)["cart_id"]
    cancelled = api.assert_open(cart_id, "Cancelled")

    page.click("#pay-again")
    expect(page.locator("#retry")).to_be_hidden()  # a new page with a new checkout frame
    assert session(page)["hosted"]["token"] != first_token
    pay_by_card(card_form(page), APPROVE)

    number = expect_confirmation(page, "95,40 €")
    assert number == cancelled["orderNumber"]  # one order, one number
    api.assert_placed(cart_id, number, CARD_TOTAL_EUR, ADA.email, "card")
    screenshot(page, "framed_payment_cancelled_then_paid_on_retry")


def test_redirect_card_payment_returns_to_the_confirmation(
        page: Page, api: StorefrontApi) -> None:
    shopper = Shopper("Grace", "Hopper", "grace@example.com", "1 Kings Road", "SW3 4NX",
                      "London", "GB")
    choose_currency(page, "GBP")
    expect(page.locator('[data-product="trail-backpack"] .price')).to_have_text("£79.00")
    add_to_cart(page, "trail-backpack")
    enter_details(page, shopper)
    choose_methods(page, "standard", "card")
    page.click("#pay-redirect")

    page.wait_for_url("**/testgateway/pay/**")  # the gateway's own page, full window
    expect(page.get_by_text("83.35 GBP").first).to_be_visible()
    pay_by_card(page, APPROVE)

    # Backpack £79.00 + standard delivery £3.95 + card fee £0.40.
    number = expect_confirmation(page, "£83.35")
    order_id = session(page)["placed_id"]
    order = api.assert_placed(order_id, number, Decimal("83.35"), shopper.email, "card")
    assert order["currency"]["code"] == "GBP"
    screenshot(page, "redirect_card_payment_returns_to_the_confirmation")


def test_inline_invoice_places_the_order(page: Page, api: StorefrontApi) -> None:
    ship_to = Shopper("Charles", "Babbage", "", "12 Rue de Rivoli", "75001", "Paris", "FR")
    add_to_cart(page, "trail-map", quantity=2)
    add_to_cart(page, "camp-mug")
    enter_details(page, ADA, ship_to=ship_to)
    choose_methods(page, "standard", "invoicing")
    review = text(page.locator("main").inner_text())
    assert "Charles Babbage" in review and "75001 Paris" in review

    page.click("#pay-inline")

    # Maps 2 × 12.90 + mug 9.90 + standard delivery 4.95, no invoice fee.
    number = expect_confirmation(page, "40,65 €")
    expect(page.locator("#payment-status")).to_have_text("Authorized")
    order_id = session(page)["placed_id"]
    order = api.assert_placed(order_id, number, Decimal("40.65"), ADA.email, "invoicing")
    assert order["properties"]["shippingSameAsBilling"] == "0"
    assert order["properties"]["shippingCity"] == "Paris"
    assert order["shippingInfo"]["country"]["code"] == "FR"
    assert order["paymentInfo"]["country"]["code"] == "DE"
    assert order["transactionInfo"]["transactionId"] == f"invoice-{number}"
    screenshot(page, "inline_invoice_places_the_order")


def test_redirect_card_payment_declined_comes_back_to_the_error_page(
        page: Page, api: StorefrontApi) -> None:
    add_to_cart(page, "trail-backpack")
    enter_details(page, ADA)
    choose_methods(page, "standard", "card")
    page.click("#pay-redirect")
    page.wait_for_url("**/testgateway/pay/**")

    pay_by_card(page, DECLINE)

    # The card method's ErrorUrl in the demo store is /demo/error.
    page.wait_for_url("**/demo/error")
    expect(page.locator("#payment-error")).to_contain_text("your cart is still here")
    api.assert_open(session(page)["cart_id"], "Error")
    page.click("#try-again")
    page.wait_for_url("**/demo/checkout/pay")
    expect(page.locator("#payment-notice")).to_contain_text("did not go through")
    screenshot(page, "redirect_card_payment_declined_comes_back_to_the_error_page")
