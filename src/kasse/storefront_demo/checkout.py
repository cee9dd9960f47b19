"""The checkout: details, shipping and payment choice, the three ways to pay, the outcome.

Hosted payments get their token from kasse on the server side: **Framed** shows the pay
URL in an iframe and listens for its ``UC:{orderId}:{token}:{status}`` message;
**Redirect** sends the whole page to the pay URL, and the payment method's ContinueUrl,
CancelUrl or ErrorUrl (``/demo/confirmation``, ``/demo/cart``, ``/demo/error`` in the demo
store) bring the shopper back. **Inline** methods (pay by invoice) are initialized and
confirmed by the demo's server itself.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.responses import RedirectResponse, Response

from kasse.storefront_demo.presenters import (
    cart_view,
    current_payment_choice,
    current_shipping_choice,
    payment_choices,
    shipping_choices,
)
from kasse.storefront_demo.session import HostedCheckout
from kasse.storefront_demo.shop import FAILED_PAYMENT
from kasse.storefront_demo.storefront_api import Json
from kasse.storefront_demo.visit import Visit, form, page

REQUIRED = {"first_name": "first name", "last_name": "last name", "email": "email",
            "billing_line1": "street and number", "billing_city": "city",
            "billing_zip": "postcode", "billing_country": "country"}
SHIPPING_REQUIRED = {"shipping_first_name": "first name", "shipping_last_name": "last name",
                     "shipping_line1": "street and number", "shipping_city": "city",
                     "shipping_zip": "postcode", "shipping_country": "country"}


def _details(order: Json) -> dict[str, str]:
    """The form's values, read back from the order's properties (as storefronts do)."""
    p = order.get("properties") or {}
    billing = (order.get("paymentInfo") or {})
    shipping = (order.get("shippingInfo") or {})

    def code(entity: Json) -> str:
        return str((entity or {}).get("code") or "")

    return {
        "first_name": p.get("firstName", ""), "last_name": p.get("lastName", ""),
        "email": p.get("email", ""), "billing_line1": p.get("billingAddressLine1", ""),
        "billing_city": p.get("billingCity", ""), "billing_zip": p.get("billingZipCode", ""),
        "billing_country": code(billing.get("country")),
        "billing_region": code(billing.get("region")),
        "same_as_billing": "0" if p.get("shippingSameAsBilling") == "0" else "1",
        "shipping_first_name": p.get("shippingFirstName", ""),
        "shipping_last_name": p.get("shippingLastName", ""),
        "shipping_line1": p.get("shippingAddressLine1", ""),
        "shipping_city": p.get("shippingCity", ""),
        "shipping_zip": p.get("shippingZipCode", ""),
        "shipping_country": code(shipping.get("country")),
        "shipping_region": code(shipping.get("region")),
    }


@page
async def details(visit: Visit) -> Response:
    order = await visit.cart()
    if order is None or not order.get("orderLines"):
        return visit.redirect("/cart")
    countries = await visit.api.countries()
    return await visit.page("details.html", values=_details(order), countries=countries,
                            cart=cart_view(order))


def _address(visit: Visit, prefix: str) -> dict[str, Any]:
    return {
        "line1": visit.field(f"{prefix}_line1"), "city": visit.field(f"{prefix}_city"),
        "zipCode": visit.field(f"{prefix}_zip"), "country": visit.field(f"{prefix}_country"),
        # null clears a region chosen before (say for another country)
        "region": visit.field(f"{prefix}_region") or None,
    }


@form(back="/checkout")
async def save_details(visit: Visit) -> Response:
    order = await visit.cart()
    if order is None:
        return visit.redirect("/cart")
    same = visit.field("same_as_billing") == "1"
    required = {**REQUIRED, **({} if same else SHIPPING_REQUIRED)}
    missing = [label for name, label in required.items() if not visit.field(name)]
    if missing:
        visit.session.say("Please fill in: " + ", ".join(dict.fromkeys(missing)) + ".")
        return visit.redirect("/checkout")
    shipping: dict[str, Any] = {"sameAsBilling": same}
    if not same:
        shipping.update(_address(visit, "shipping"), contact={
            "firstName": visit.field("shipping_first_name"),
            "lastName": visit.field("shipping_last_name")})
    await visit.api.update_order(str(order["id"]), {
        "customer": {"firstName": visit.field("first_name"),
                     "lastName": visit.field("last_name"), "email": visit.field("email")},
        "billingAddress": _address(visit, "billing"),
        "shippingAddress": shipping,
    })
    return visit.redirect("/checkout/methods")


@page
async def methods(visit: Visit) -> Response:
    order = await visit.cart()
    if order is None or not order.get("orderLines"):
        return visit.redirect("/cart")
    if not (order.get("properties") or {}).get("billingAddressLine1"):
        return visit.redirect("/checkout")
    shipping = shipping_choices(await visit.api.shipping_methods(str(order["id"])))
    payment = payment_choices(await visit.api.payment_methods(str(order["id"])))
    chosen_shipping = current_shipping_choice(order) or (shipping[0].value if shipping else "")
    chosen_payment = current_payment_choice(order) or (payment[0].value if payment else "")
    return await visit.page("methods.html", shipping=shipping, payment=payment,
                            chosen_shipping=chosen_shipping, chosen_payment=chosen_payment,
                            cart=cart_view(order))


@form(back="/checkout/methods")
async def save_methods(visit: Visit) -> Response:
    order = await visit.cart()
    if order is None:
        return visit.redirect("/cart")
    shipping, payment = visit.field("shipping"), visit.field("payment")
    if not shipping or not payment:
        visit.session.say("Please choose a delivery and a payment method.")
        return visit.redirect("/checkout/methods")
    method, _, option = shipping.partition(":")
    changes: dict[str, Any] = {"shippingMethod": method, "paymentMethod": payment}
    if option:
        changes["shippingOption"] = option
    await visit.api.update_order(str(order["id"]), changes)
    return visit.redirect("/checkout/pay")


@page
async def review(visit: Visit) -> Response:
    view = await visit.cart_view()
    if view is None or view.empty:
        return visit.redirect("/cart")
    if view.shipping_method is None or view.payment_method is None:
        return visit.redirect("/checkout/methods")
    return await visit.page("review.html", cart=view,
                            notice=FAILED_PAYMENT.get(view.payment_status or ""),
                            gateway_hint=not visit.config.test_gateway)


@form(back="/checkout/pay")
async def pay(visit: Visit) -> Response:
    view = await visit.cart_view()
    if view is None or view.empty:
        return visit.redirect("/cart")
    mode = visit.field("mode")
    if mode == "inline" and view.pays_inline:
        return await _pay_inline(visit, view.id)
    if mode in ("framed", "redirect") and not view.pays_inline:
        issued = await visit.api.hosted_token(view.id, mode.capitalize(),
                                              visit.page_origin)
        if mode == "redirect":
            visit.session.hosted = None
            return RedirectResponse(str(issued["payUrl"]), status_code=303)
        visit.session.hosted = HostedCheckout(view.id, str(issued["token"]),
                                              str(issued["payUrl"]))
        return visit.redirect("/checkout/framed")
    visit.session.say("This payment method cannot be paid that way; please choose again.")
    return visit.redirect("/checkout/pay")


async def _pay_inline(visit: Visit, order_id: str) -> Response:
    initialized = await visit.api.initialize(order_id)
    order = await visit.api.order(order_id)
    amount = (order.get("transactionAmount") or {}).get("value", {}).get("value")
    if not isinstance(amount, Decimal | int):
        visit.session.say("kasse did not say how much to pay; please try again.")
        return visit.redirect("/checkout/pay")
    # The storefront takes the payment itself; an invoice needs nothing from the shopper.
    await visit.api.confirm(order_id, Decimal(amount),
                            f"invoice-{initialized['orderNumber']}", "Authorized")
    visit.placed(order_id)
    return visit.redirect("/confirmation")


@page
async def framed(visit: Visit) -> Response:
    view = await visit.cart_view()
    hosted = visit.session.hosted
    if view is None or hosted is None or hosted.order_id != view.id:
        return visit.redirect("/checkout/pay")
    if view.payment_status in FAILED_PAYMENT:
        # That checkout has ended (say the page was reloaded after a cancel): its token
        # cannot pay again, so the shopper starts a new one from the review page.
        visit.session.hosted = None
        return visit.redirect("/checkout/pay")
    return await visit.page("framed.html", cart=view, pay_url=hosted.pay_url, expected={
        "origin": visit.origin, "orderId": hosted.order_id, "token": hosted.token,
        "confirmation": visit.url("/confirmation")})


@page
async def confirmation(visit: Visit) -> Response:
    open_cart = await visit.cart()  # a paid cart becomes the placed order here
    if open_cart is not None:
        return await visit.page("pending.html", cart=cart_view(open_cart))
    placed_id = visit.session.placed_id
    if placed_id is None:
        return visit.redirect("/")
    order = await visit.api.order(placed_id)
    if not order.get("isFinalized"):
        return visit.redirect("/cart")
    return await visit.page("confirmation.html", order=cart_view(order))


@page
async def payment_error(visit: Visit) -> Response:
    view = await visit.cart_view()
    return await visit.page("payment_error.html", cart=view)
