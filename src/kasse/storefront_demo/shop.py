"""The shop's pages: the catalog, the currency, and the cart."""

from __future__ import annotations

from starlette.responses import Response

from kasse.storefront_demo.presenters import product_cards
from kasse.storefront_demo.visit import Visit, form, page

MAX_QUANTITY = 99
FAILED_PAYMENT = {
    "Cancelled": "Your payment was cancelled. Nothing was charged and your cart is still "
                 "here: you can pay again whenever you like.",
    "Error": "Your payment did not go through. Nothing was charged and your cart is still "
             "here: you can try again or choose another payment method.",
}


@page
async def catalog(visit: Visit) -> Response:
    currency = await visit.currency()
    products = await visit.api.products(currency)
    currencies = await visit.api.currencies()
    return await visit.page("catalog.html", products=product_cards(products),
                            currency=currency,
                            currencies=[str(c["code"]) for c in currencies])


@form(back="/")
async def choose_currency(visit: Visit) -> Response:
    code = visit.field("currency").upper()
    currencies = {str(c["code"]) for c in await visit.api.currencies()}
    if code not in currencies:
        visit.session.say("Please choose one of the listed currencies.")
        return visit.redirect("/")
    order = await visit.cart()
    if order is not None:
        # Prices follow the cart's currency; kasse refuses it when a product has no price.
        await visit.api.update_order(str(order["id"]), {"currency": code})
    visit.session.currency = code
    return visit.redirect("/")


def _quantity(text: str) -> int | None:
    try:
        quantity = int(text)
    except ValueError:
        return None
    return quantity if 0 <= quantity <= MAX_QUANTITY else None


@form(back="/")
async def add_to_cart(visit: Visit) -> Response:
    product = visit.field("product")
    variant = visit.field("variant") or None
    quantity = _quantity(visit.field("quantity", "1") or "1")
    if not product or not quantity:
        visit.session.say(f"Please choose a quantity from 1 to {MAX_QUANTITY}.")
        return visit.redirect("/")
    order = await visit.cart_or_new()
    await visit.api.add_product(str(order["id"]), product, variant, quantity)
    visit.session.say("Added to your cart.", "success")
    return visit.redirect("/cart")


@page
async def cart(visit: Visit) -> Response:
    view = await visit.cart_view()
    notice = FAILED_PAYMENT.get(view.payment_status or "") if view else None
    return await visit.page("cart.html", cart=view, notice=notice)


@form(back="/cart")
async def update_line(visit: Visit) -> Response:
    order = await visit.cart()
    quantity = _quantity(visit.field("quantity"))
    if order is None:
        return visit.redirect("/cart")
    if quantity is None:
        visit.session.say(f"Please enter a quantity from 0 to {MAX_QUANTITY}.")
        return visit.redirect("/cart")
    line = visit.field("line")
    if quantity == 0:
        await visit.api.remove_line(str(order["id"]), line)
    else:
        await visit.api.set_quantity(str(order["id"]), line, quantity)
    return visit.redirect("/cart")


@form(back="/cart")
async def remove_line(visit: Visit) -> Response:
    order = await visit.cart()
    if order is not None:
        await visit.api.remove_line(str(order["id"]), visit.field("line"))
    return visit.redirect("/cart")


@form(back="/cart")
async def redeem(visit: Visit) -> Response:
    """A discount code or gift card; kasse says why when it does not apply."""
    order = await visit.cart()
    code = visit.field("code")
    if order is None or not code:
        return visit.redirect("/cart")
    await visit.api.update_order(str(order["id"]), {"redeem": [code]})
    visit.session.say(f"{code.upper()} is applied to your cart.", "success")
    return visit.redirect("/cart")


@form(back="/cart")
async def unredeem(visit: Visit) -> Response:
    order = await visit.cart()
    if order is not None:
        await visit.api.update_order(str(order["id"]), {"unredeem": [visit.field("code")]})
    return visit.redirect("/cart")
