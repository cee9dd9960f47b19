"""The storefront journeys the bench drives, written as a storefront and a browser walk
them over HTTP. Each journey answers whether it finalized an order."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from uuid import uuid4

from bench.loadgen import CallFailed, Journey, Recorded, Shopper
from bench.stack import API, API_KEY

API_HEADERS = {"Api-Key": API_KEY, "Store": "demo"}
ORDERS = f"{API}/v1/orders"
CUSTOMER = {"firstName": "Erika", "lastName": "Mustermann", "email": "erika@example.com"}
BILLING = {"line1": "Hauptstrasse 5", "city": "Berlin", "zipCode": "10115", "country": "DE"}
APPROVED_CARD = "4242424242424242"


def _order(order_id: str, suffix: str = "") -> str:
    return f"{API}/v1/order/{order_id}{suffix}"


def _checkout(order_id: str, action: str) -> str:
    return f"{API}/v1/checkout/{order_id}/{action}"


async def _api(shopper: Shopper, name: str, method: str, url: str, body: Any = None
               ) -> Any:
    response = await shopper.call(name, method, url, headers=API_HEADERS, json=body)
    return response.json()


async def _cart(shopper: Shopper, products: tuple[tuple[str, int], ...]) -> dict[str, Any]:
    order: dict[str, Any] = await _api(shopper, "create cart", "POST", ORDERS, {})
    for number, (reference, quantity) in enumerate(products, start=1):
        order = await _api(shopper, f"add product {number}", "POST", _order(order["id"]),
                           {"productReference": reference, "quantity": quantity})
    return order


# --- catalog browse ------------------------------------------------------------------------


async def browse(shopper: Shopper) -> bool:
    await _api(shopper, "list products", "GET", f"{API}/v1/products")
    await _api(shopper, "product by reference", "GET",
               f"{API}/v1/products?productReference=trail-backpack")
    await _api(shopper, "list countries", "GET", f"{API}/v1/countries")
    return False


# --- cart ----------------------------------------------------------------------------------

THREE_PRODUCTS = (("trail-backpack", 1), ("trail-map", 2), ("camp-mug", 1))


async def cart(shopper: Shopper) -> bool:
    order = await _cart(shopper, THREE_PRODUCTS)
    line_id = order["orderLines"][1]["id"]
    await _api(shopper, "change quantity", "PATCH", _order(order["id"], f"/item/{line_id}"),
               {"quantity": 3})
    await _api(shopper, "read cart $prices", "GET", _order(order["id"], "?expand=$prices"))
    return False


async def cart_read_setup(shopper: Shopper) -> bool:
    order = await _cart(shopper, THREE_PRODUCTS)
    shopper.state["order"] = order["id"]
    return False


async def cart_read(shopper: Shopper) -> bool:
    await _api(shopper, "read cart $prices", "GET",
               _order(shopper.state["order"], "?expand=$prices"))
    return False


# --- inline checkout -----------------------------------------------------------------------


async def inline_checkout(shopper: Shopper) -> bool:
    order = await _cart(shopper, (("trail-backpack", 2), ("trail-map", 3)))
    order_id = order["id"]
    await _api(shopper, "set customer", "PATCH", _order(order_id),
               {"customer": CUSTOMER, "billingAddress": BILLING,
                "shippingAddress": {"sameAsBilling": True}})
    shipping = await _api(shopper, "shipping methods", "GET", _checkout(order_id,
                                                                        "shippingmethods"))
    courier = next(m for m in shipping if m["alias"] == "courier")
    await _api(shopper, "set shipping", "PATCH", _order(order_id),
               {"shippingMethod": courier["alias"],
                "shippingOption": courier["rates"][1]["option"]["id"]})
    await _api(shopper, "payment methods", "GET", _checkout(order_id, "paymentmethods"))
    chosen = await _api(shopper, "set payment", "PATCH", _order(order_id),
                        {"paymentMethod": "invoicing"})
    await _api(shopper, "initialize", "GET", _checkout(order_id, "initialize"))
    amount = chosen["transactionAmount"]["value"]["value"]
    confirmed = await _api(shopper, "confirm", "POST", _checkout(order_id, "confirm"),
                           {"amount": amount, "fee": 0, "transactionId": uuid4().hex,
                            "paymentStatus": "Authorized", "metaData": {}})
    if not confirmed.get("orderNumber"):
        raise CallFailed("confirm", f"no order number in {confirmed}")
    return True


# --- hosted checkout -----------------------------------------------------------------------


class _Forms(HTMLParser):
    """The first form of a page: its action and the values of its named inputs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
        elif tag == "input" and self.action is not None and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")


def _form(page: str, where: str) -> tuple[str, dict[str, str]]:
    parser = _Forms()
    parser.feed(page)
    parser.close()
    if not parser.action:
        raise CallFailed(where, "the page has no form")
    return parser.action, parser.fields


async def hosted_checkout(shopper: Shopper) -> bool:
    order = await _cart(shopper, (("trail-backpack", 1),))
    order_id = order["id"]
    await _api(shopper, "set methods", "PATCH", _order(order_id),
               {"paymentMethod": "card", "shippingMethod": "standard"})
    token = (await shopper.call("token", "GET", _checkout(order_id, "token"),
                                headers={"Store": "demo"})).json()
    pay_page = await shopper.call("pay page", "GET", token["payUrl"])
    action, fields = _form(pay_page.text, "pay page")
    created = await shopper.call("gateway: create payment", "POST", action, data=fields,
                                 expect=303, on_server=False)
    card_url = created.headers["location"]
    card_page = await shopper.call("gateway: card page", "GET", card_url, on_server=False)
    submit_url, _ = _form(card_page.text, "gateway: card page")
    if submit_url.startswith("/"):
        submit_url = card_url.split("/pay/")[0] + submit_url
    done = await shopper.call(
        "gateway: pay", "POST", submit_url, expect=303, on_server=False,
        data={"card_number": APPROVED_CARD, "expiry": "12/39", "cvc": "123",
              "holder": "Erika Mustermann", "webhook": "normal", "action": "pay"})
    # Redirect mode: kasse sends the shopper on to the method's ContinueUrl.
    await shopper.call("completed page", "GET", done.headers["location"], expect=303)
    return True


WEBHOOK_CALL = "webhook (from the gateway)"


def webhook_call(method_id: str) -> Recorded:
    """A stand-in for the gateway's webhook in the baseline replay: same path, a body and
    an answer the size of the real ones."""
    body = json.dumps({
        "id": "evt_" + "0" * 32, "type": "payment.succeeded", "created": 1767225600,
        "data": {"payment_id": "pay_" + "0" * 32, "reference": "0" * 32,
                 "merchant": "kasse-demo", "status": "succeeded", "amount": "94.95",
                 "currency": "EUR", "fee": "0", "description": "Kasse Outfitters order "
                 "ORDER-00001"}}, separators=(",", ":")).encode()
    answer = json.dumps({"received": True, "outcome": "finalized"},
                        separators=(",", ":")).encode()
    return Recorded(
        name=WEBHOOK_CALL, method="POST",
        path=f"/umbraco/commerce/payment/callback/testgateway/{method_id}",
        request_headers={"content-type": "application/json",
                         "testgateway-signature": "t=1767225600,v1=" + "0" * 64},
        request_body=body, status=200,
        response_headers=[("content-type", "application/json")], response_body=answer)


@dataclass(frozen=True)
class Scenario:
    name: str
    journey: Journey
    setup: Journey | None = None
    finalizes: bool = False
    webhooks: bool = False
    """The gateway sends one webhook to kasse per journey."""


SCENARIOS = {s.name: s for s in (
    Scenario("browse", browse),
    Scenario("cart", cart),
    Scenario("cart-read", cart_read, setup=cart_read_setup),
    Scenario("inline-checkout", inline_checkout, finalizes=True),
    Scenario("hosted-checkout", hosted_checkout, finalizes=True, webhooks=True),
)}
