"""The inline checkout over HTTP: the storefront takes the payment itself, then confirms it.

The journey a real storefront walks: create a cart, add products, set the customer and
addresses, list the shipping methods and pick an option, list the payment methods and
pick one, ``initialize``, ``confirm``, read the finalized order. Then every way it can
go wrong, each showing the storefront developer a useful problem document and, where a
request is refused, re-reading the order to show that nothing changed.

Figures follow the demo store (prices include tax, ``unit`` rounding, EUR 2 decimals):
unit withoutTax = round_half_up(price / (1 + rate), 2), tax = price - withoutTax; fees
and shipping are priced like one unit in the standard class. DE standard 19 %, reduced
7 %; FR standard 20 %. Every expected figure is a constant with its arithmetic alongside;
nothing here calls the server's own pricing code.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.adapters.db.tables import stock_reservations
from kasse.adapters.db.types import from_scaled
from kasse.services.catalog import StoreDirectory
from tests.api.conftest import BASE
from tests.integration.hosted import DbReader

ORDERS = f"{BASE}/v1/orders"
PROBLEM_JSON = "application/problem+json"
SECRET = "demo-signing-secret-change-me"
ORDER_NUMBER = re.compile(r"^ORDER-\d{5}$")

Money = tuple[Decimal, Decimal, Decimal]
"""(withoutTax, tax, withTax)"""


def m(without_tax: str, tax: str, with_tax: str) -> Money:
    return Decimal(without_tax), Decimal(tax), Decimal(with_tax)


# --- hand-computed figures: EUR, destination DE -------------------------------------------

# Trail Backpack 89.95 (19 %): 89.95 / 1.19 = 75.5882… -> 75.59; tax 14.36; x2
BACKPACK_DE_2 = m("151.18", "28.72", "179.90")
# Alps Trail Map 12.90 (reduced 7 %): 12.90 / 1.07 = 12.0560… -> 12.06; tax 0.84; x3
MAP_DE_3 = m("36.18", "2.52", "38.70")
# 151.18+36.18 = 187.36; 28.72+2.52 = 31.24; 179.90+38.70 = 218.60
JOURNEY_SUBTOTAL = m("187.36", "31.24", "218.60")

# shipping rates to DE
STANDARD_DE = m("4.16", "0.79", "4.95")  # 4.95 / 1.19 = 4.1596… -> 4.16
EXPRESS_DE = m("10.50", "2.00", "12.50")  # 12.50 / 1.19 = 10.5042… -> 10.50
COURIER_DE = m("5.88", "1.12", "7.00")  # 7.00 / 1.19 = 5.8823… -> 5.88
COURIER_MORNING_DE = m("7.56", "1.44", "9.00")  # 9.00 / 1.19 = 7.5630… -> 7.56
COURIER_EVENING_DE = m("6.72", "1.28", "8.00")  # 8.00 / 1.19 = 6.7226… -> 6.72

# payment fees in DE
INVOICING_FEE = m("0", "0", "0")  # configured as EUR 0
CARD_FEE_DE = m("0.42", "0.08", "0.50")  # 0.50 / 1.19 = 0.4201… -> 0.42

# backpack x2 + map x3, courier morning, invoicing:
# 187.36+7.56+0 = 194.92; 31.24+1.44+0 = 32.68; 218.60+9.00+0 = 227.60
JOURNEY_TOTAL = m("194.92", "32.68", "227.60")

# --- EUR, destination FR --------------------------------------------------------------------

STANDARD_FR = m("4.13", "0.82", "4.95")  # 4.95 / 1.20 = 4.125 -> 4.13 (half up)
EXPRESS_FR = m("10.42", "2.08", "12.50")  # 12.50 / 1.20 = 10.4166… -> 10.42
CARD_FEE_FR = m("0.42", "0.08", "0.50")  # 0.50 / 1.20 = 0.4166… -> 0.42

# --- the small carts of the bad cases (DE, standard delivery) -------------------------------

# Rain Jacket M 159.00 + standard 4.95 + invoicing 0 = 163.95
JACKET_TOTAL = Decimal("163.95")
# Rain Jacket M 159.00 + standard 4.95 + card 0.50 = 164.45
JACKET_CARD_TOTAL = Decimal("164.45")
# with one Enamel Camp Mug 9.90 more: 163.95 + 9.90 = 173.85
JACKET_AND_MUG_TOTAL = Decimal("173.85")
# Trail Backpack 89.95 + Alps Trail Map 12.90 + standard 4.95 = 107.80;
# a second map: 107.80 + 12.90 = 120.70
SMALL_TOTAL = Decimal("107.80")
SMALL_TOTAL_TWO_MAPS = Decimal("120.70")
# Camp Mug x2 = 19.80 + standard 4.95 = 24.75
MUGS_TOTAL = Decimal("24.75")

CUSTOMER = {"firstName": "Erika", "lastName": "Mustermann", "email": "erika@example.com"}
BILLING_DE = {"line1": "Hauptstraße 5", "city": "Berlin", "zipCode": "10115", "country": "DE"}
BILLING_FR = {"line1": "12 rue de la Paix", "city": "Paris", "zipCode": "75002",
              "country": "FR"}


# --- helpers ---------------------------------------------------------------------------------


def dec(value: Any) -> Decimal:
    """A JSON number as an exact Decimal (via its shortest text form)."""
    assert isinstance(value, int | float) and not isinstance(value, bool), value
    return Decimal(str(value))


def money(price: dict[str, Any]) -> Money:
    return dec(price["withoutTax"]), dec(price["tax"]), dec(price["withTax"])


def num(value: Decimal) -> float:
    """A Decimal as the JSON number a storefront would send."""
    return float(value)


def ok(response: httpx.Response) -> Any:
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code == 200, f"{where}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/json"), where
    return response.json()


def problem(response: httpx.Response, status: int) -> str:
    """The problem document of a refused request; returns its ``detail``."""
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, f"{where}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM_JSON), where
    assert "Traceback" not in response.text, where
    doc = response.json()
    assert doc["status"] == status, where
    assert isinstance(doc["type"], str) and doc["type"], where
    assert isinstance(doc["title"], str) and doc["title"], where
    assert isinstance(doc["detail"], str) and doc["detail"].strip(), where
    detail: str = doc["detail"]
    return detail


def notices(response: httpx.Response) -> list[dict[str, str]]:
    raw = response.headers.get("Umb-Notifications")
    assert raw is not None, f"no Umb-Notifications on {response.request.url}"
    parsed = json.loads(raw)
    assert isinstance(parsed, list) and parsed
    for item in parsed:
        assert set(item) == {"message", "category", "type"}, item
    return parsed


def order_url(order_id: str) -> str:
    return f"{BASE}/v1/order/{order_id}"


def checkout_url(order_id: str, action: str) -> str:
    return f"{BASE}/v1/checkout/{order_id}/{action}"


def get_order(client: TestClient, order_id: str) -> dict[str, Any]:
    order: dict[str, Any] = ok(client.get(order_url(order_id)))
    return order


def create(client: TestClient) -> str:
    return str(ok(client.post(ORDERS, json={}))["id"])


def add(client: TestClient, order_id: str, product: str, quantity: int,
        variant: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"productReference": product, "quantity": quantity}
    if variant is not None:
        body["productVariantReference"] = variant
    order: dict[str, Any] = ok(client.post(order_url(order_id), json=body))
    return order


def patch(client: TestClient, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
    order: dict[str, Any] = ok(client.patch(order_url(order_id), json=body))
    return order


def cart(client: TestClient, *lines: tuple[str, int, str | None], payment: str = "invoicing",
         billing: dict[str, str] = BILLING_DE, shipping: str | None = "standard") -> str:
    """A cart with customer, billing address (shipped there), shipping and payment."""
    order_id = create(client)
    for product, quantity, variant in lines:
        add(client, order_id, product, quantity, variant)
    body: dict[str, Any] = {"customer": CUSTOMER, "billingAddress": billing,
                            "shippingAddress": {"sameAsBilling": True},
                            "paymentMethod": payment}
    if shipping is not None:
        body["shippingMethod"] = shipping
    patch(client, order_id, body)
    return order_id


def jacket_cart(client: TestClient, payment: str = "invoicing") -> str:
    """Rain Jacket M x1, DE, standard delivery: 163.95 with invoicing."""
    return cart(client, ("rain-jacket", 1, "rain-jacket-m"), payment=payment)


def initialize(client: TestClient, order_id: str) -> dict[str, Any]:
    body: dict[str, Any] = ok(client.get(checkout_url(order_id, "initialize")))
    return body


def confirm(client: TestClient, order_id: str, amount: Decimal | float | str,
            transaction_id: str = "tx-1", status: str = "Authorized",
            params: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
    value = num(amount) if isinstance(amount, Decimal) else amount
    body = {"amount": value, "transactionId": transaction_id, "paymentStatus": status,
            **extra}
    response: httpx.Response = client.post(checkout_url(order_id, "confirm"), json=body,
                                           params=params)
    return response


def by_alias(methods: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {method["alias"]: method for method in methods}


def stock_of(client: TestClient, reference: str) -> Decimal:
    products = ok(client.get(f"{BASE}/v1/products", params={"productReference": reference}))
    assert len(products) == 1, products
    return dec(products[0]["stock"])


def on_hand(db_url: str, item_reference: str) -> Decimal:
    """Stock on hand of a product or variant, read from the database."""
    async def read() -> Decimal:
        db = Database.from_url(db_url)
        try:
            async with db.read() as conn:
                for table in ("product_variants", "products"):
                    row = (await conn.execute(text(
                        f"SELECT stock FROM {table} WHERE reference = :r"),  # noqa: S608
                        {"r": item_reference})).first()
                    if row is not None:
                        return from_scaled(int(row[0]))
            raise AssertionError(f"no product or variant {item_reference}")
        finally:
            await db.dispose()

    return asyncio.run(read())


def expire_holds(db_url: str, order_id: str) -> None:
    """The order's stock reservations run out (as if its hold time had passed)."""
    async def expire() -> None:
        db = Database.from_url(db_url)
        try:
            async with db.transaction() as conn:
                await conn.execute(
                    update(stock_reservations)
                    .where(stock_reservations.c.order_id == UUID(order_id))
                    .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
        finally:
            await db.dispose()

    asyncio.run(expire())


def assert_open_and_payable(client: TestClient, order_id: str,
                            before: dict[str, Any] | None = None) -> dict[str, Any]:
    order = get_order(client, order_id)
    assert order["isFinalized"] is False
    assert order["finalizedDate"] is None
    if before is not None:
        assert order == before
    return order


async def _server_properties(db_url: str, order_id: str) -> dict[str, str]:
    """What the order keeps server-side, read through the repository."""
    db = Database.from_url(db_url)
    storage = SqlStorage(db)
    try:
        config = await StoreDirectory(storage).get("demo")
        async with storage.ordering(write=False) as unit:
            order = await unit.orders.get(config.store.id, UUID(order_id))
            assert order is not None
            return dict(order.server_properties)
    finally:
        await db.dispose()


# --- the journey -----------------------------------------------------------------------------


def test_the_whole_inline_journey(client: TestClient) -> None:
    backpack_stock = stock_of(client, "trail-backpack")
    map_stock = stock_of(client, "trail-map")
    assert (backpack_stock, map_stock) == (40, 60)

    # a cart, products, customer and addresses
    order_id = create(client)
    add(client, order_id, "trail-backpack", 2)
    add(client, order_id, "trail-map", 3)
    patch(client, order_id, {"customer": CUSTOMER, "billingAddress": BILLING_DE,
                             "shippingAddress": {"sameAsBilling": True}})

    # shipping methods to DE: courier with a base rate and one per option
    shipping = ok(client.get(checkout_url(order_id, "shippingmethods")))
    methods = by_alias(shipping)
    assert list(methods) == ["standard", "express", "courier"]
    for method in shipping:
        assert method["$type"] == "ShippingMethod"
        assert set(method) >= {"id", "alias", "name", "rates"}
    assert [(r["option"], money(r["value"])) for r in methods["standard"]["rates"]] == [
        (None, STANDARD_DE)]
    assert [(r["option"], money(r["value"])) for r in methods["express"]["rates"]] == [
        (None, EXPRESS_DE)]
    courier = methods["courier"]
    assert courier["name"] == "Local courier"
    assert [(r["option"], money(r["value"])) for r in courier["rates"]] == [
        (None, COURIER_DE),
        ({"id": "morning", "name": "Morning (8-12)"}, COURIER_MORNING_DE),
        ({"id": "evening", "name": "Evening (18-21)"}, COURIER_EVENING_DE),
    ]
    assert all(r["value"]["currency"]["code"] == "EUR" for r in courier["rates"])
    assert all(r["packageId"] is None for r in courier["rates"])
    patch(client, order_id, {"shippingMethod": courier["alias"],
                             "shippingOption": courier["rates"][1]["option"]["id"]})

    # payment methods: invoicing and card with their fee; zero-value is not for this order
    payment = ok(client.get(checkout_url(order_id, "paymentmethods")))
    methods = by_alias(payment)
    assert set(methods) == {"invoicing", "card"}
    assert methods["invoicing"]["$type"] == "PaymentMethod"
    assert methods["invoicing"]["paymentProviderAlias"] == "invoicing"
    assert money(methods["invoicing"]["fee"]) == INVOICING_FEE
    assert money(methods["card"]["fee"]) == CARD_FEE_DE
    assert methods["card"]["fee"]["currency"]["code"] == "EUR"
    assert methods["card"]["paymentProviderAlias"] == "testgateway"
    chosen = patch(client, order_id, {"paymentMethod": methods["invoicing"]["alias"]})
    assert chosen["shippingInfo"]["shippingMethod"]["alias"] == "courier"
    assert chosen["shippingInfo"]["shippingOption"] == {"id": "morning",
                                                        "name": "Morning (8-12)"}
    assert chosen["paymentInfo"]["paymentMethod"]["alias"] == "invoicing"
    assert money(chosen["subtotalPrice"]["value"]) == JOURNEY_SUBTOTAL
    assert money(chosen["shippingInfo"]["totalPrice"]["value"]) == COURIER_MORNING_DE
    assert money(chosen["paymentInfo"]["totalPrice"]["value"]) == INVOICING_FEE
    assert money(chosen["totalPrice"]["value"]) == JOURNEY_TOTAL
    assert dec(chosen["transactionAmount"]["value"]["value"]) == JOURNEY_TOTAL[2]
    assert chosen["orderNumber"] is None

    # initialize: order number, public settings, metadata definitions, urls
    response = client.get(checkout_url(order_id, "initialize"))
    ready = ok(response)
    assert set(ready) == {"orderNumber", "paymentMethod"}
    assert ready["orderNumber"] == "ORDER-00001"
    method = ready["paymentMethod"]
    assert set(method) == {"settings", "metaDataDefinitions", "urls"}
    assert method["settings"]["ContinueUrl"] == "/demo/confirmation"
    assert method["settings"]["CancelUrl"] == "/demo/cart"
    assert method["settings"]["ErrorUrl"] == "/demo/error"
    assert isinstance(method["metaDataDefinitions"], dict)
    urls = method["urls"]
    assert set(urls) == {"continue", "cancel", "error", "callback"}
    assert urls["continue"].endswith("/demo/confirmation")
    assert urls["cancel"].endswith("/demo/cart")
    assert urls["error"].endswith("/demo/error")
    assert urls["continue"].startswith("http")
    assert "/umbraco/commerce/payment/callback/invoicing/" in urls["callback"]
    assert order_id in urls["callback"]
    assert urls["callback"].startswith("http")

    prepared = get_order(client, order_id)
    assert prepared["orderNumber"] == "ORDER-00001"
    assert prepared["isFinalized"] is False
    assert prepared["transactionInfo"]["paymentStatus"] == "Initialized"

    # confirm with exactly the transaction amount
    response = confirm(client, order_id, JOURNEY_TOTAL[2], transaction_id="inv-2024-0001")
    confirmed = ok(response)
    assert set(confirmed) == {"orderNumber", "transactionInfo"}
    assert confirmed["orderNumber"] == "ORDER-00001"
    info = confirmed["transactionInfo"]
    assert info["paymentStatus"] == "Authorized"
    assert info["transactionId"] == "inv-2024-0001"
    assert dec(info["authorizedAmount"]["value"]) == JOURNEY_TOTAL[2]
    assert info["authorizedAmount"]["currency"]["code"] == "EUR"
    assert info["feeAmount"] is None
    placed = notices(response)
    assert any("ORDER-00001" in n["message"] for n in placed), placed

    # the finalized order
    order = get_order(client, order_id)
    assert order["isFinalized"] is True
    assert order["orderNumber"] == "ORDER-00001"
    assert order["finalizedDate"] is not None
    assert order["transactionInfo"] == info
    assert order["orderStatus"]["alias"] == "new"
    assert money(order["totalPrice"]["value"]) == JOURNEY_TOTAL
    assert order["shippingInfo"]["shippingOption"] == {"id": "morning",
                                                       "name": "Morning (8-12)"}

    # stock went down by what was bought
    assert stock_of(client, "trail-backpack") == backpack_stock - 2  # 40 - 2 = 38
    assert stock_of(client, "trail-map") == map_stock - 3  # 60 - 3 = 57

    # and the order can no longer be changed through the storefront API
    detail = problem(client.patch(order_url(order_id), json={"tags": ["late"]}), 400)
    assert "finalized" in detail
    assert get_order(client, order_id) == order


def test_shipping_to_france_has_no_courier(client: TestClient) -> None:
    order_id = cart(client, ("trail-backpack", 1, None), billing=BILLING_FR, shipping=None)
    shipping = by_alias(ok(client.get(checkout_url(order_id, "shippingmethods"))))
    assert list(shipping) == ["standard", "express"]
    assert [(r["option"], money(r["value"])) for r in shipping["standard"]["rates"]] == [
        (None, STANDARD_FR)]
    assert [(r["option"], money(r["value"])) for r in shipping["express"]["rates"]] == [
        (None, EXPRESS_FR)]
    payment = by_alias(ok(client.get(checkout_url(order_id, "paymentmethods"))))
    assert set(payment) == {"invoicing", "card"}
    assert money(payment["card"]["fee"]) == CARD_FEE_FR


# --- secrets ---------------------------------------------------------------------------------


# --- amounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("wrong", ["163.94", "163.96", "163.951", "163.949", "0", "1639.5"])
def test_an_amount_that_is_not_the_transaction_amount_is_refused(
        client: TestClient, demo_db_url: str, wrong: str) -> None:
    order_id = jacket_cart(client)
    initialize(client, order_id)
    before = get_order(client, order_id)
    assert dec(before["transactionAmount"]["value"]["value"]) == JACKET_TOTAL

    detail = problem(confirm(client, order_id, float(wrong)), 400)
    assert wrong in detail, detail
    assert "163.95" in detail, detail
    assert "EUR" in detail, detail
    assert_open_and_payable(client, order_id, before)
    # Nothing was taken: 5 on hand, of which the open checkout holds 1.
    assert on_hand(demo_db_url, "rain-jacket-m") == 5
    assert stock_of(client, "rain-jacket:rain-jacket-m") == 4

    # the right amount still pays
    confirmed = ok(confirm(client, order_id, JACKET_TOTAL))
    assert dec(confirmed["transactionInfo"]["authorizedAmount"]["value"]) == JACKET_TOTAL
    assert get_order(client, order_id)["isFinalized"] is True
    assert on_hand(demo_db_url, "rain-jacket-m") == 4  # 5 - 1
    assert stock_of(client, "rain-jacket:rain-jacket-m") == 4


def test_amounts_written_with_trailing_zeros_or_as_integers_are_accepted(
        client: TestClient) -> None:
    order_id = cart(client, ("camp-mug", 2, None))
    initialize(client, order_id)
    response = client.post(checkout_url(order_id, "confirm"), content=(
        b'{"amount": 24.750, "transactionId": "tx-1", "paymentStatus": "Authorized"}'),
        headers={"Content-Type": "application/json"})
    assert dec(ok(response)["transactionInfo"]["authorizedAmount"]["value"]) == MUGS_TOTAL


def test_a_negative_or_absurdly_precise_amount_is_refused(client: TestClient) -> None:
    order_id = jacket_cart(client)
    initialize(client, order_id)
    before = get_order(client, order_id)
    assert "amount" in problem(confirm(client, order_id, -163.95), 400)
    assert "amount" in problem(confirm(client, order_id, "163.950000001"), 400)
    assert "amount" in problem(confirm(client, order_id, "lots"), 400)
    response = client.post(checkout_url(order_id, "confirm"),
                           json={"transactionId": "tx-1", "paymentStatus": "Authorized"})
    assert "amount" in problem(response, 400)
    assert_open_and_payable(client, order_id, before)


# --- payment statuses ------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["Cancelled", "Error"])
def test_a_failed_payment_leaves_the_order_open_and_payable(
        client: TestClient, failure: str) -> None:
    order_id = jacket_cart(client)
    initialize(client, order_id)
    before = get_order(client, order_id)

    detail = problem(confirm(client, order_id, JACKET_TOTAL, status=failure), 400)
    assert failure in detail
    assert "open" in detail
    assert_open_and_payable(client, order_id, before)

    confirmed = ok(confirm(client, order_id, JACKET_TOTAL, transaction_id="tx-2"))
    assert confirmed["transactionInfo"]["paymentStatus"] == "Authorized"
    assert confirmed["transactionInfo"]["transactionId"] == "tx-2"
    assert get_order(client, order_id)["isFinalized"] is True


@pytest.mark.parametrize("status", ["Captured", "PendingExternalSystem"])
def test_captured_and_pending_payments_finalize(client: TestClient, status: str) -> None:
    order_id = jacket_cart(client)
    initialize(client, order_id)
    confirmed = ok(confirm(client, order_id, JACKET_TOTAL, status=status))
    assert confirmed["transactionInfo"]["paymentStatus"] == status
    order = get_order(client, order_id)
    assert order["isFinalized"] is True
    assert order["transactionInfo"]["paymentStatus"] == status


@pytest.mark.parametrize("status", ["Initialized", "Refunded", "PartiallyRefunded", "Paid",
                                    "", "authorised"])
def test_a_status_that_cannot_confirm_is_refused(client: TestClient, status: str) -> None:
    order_id = jacket_cart(client)
    initialize(client, order_id)
    before = get_order(client, order_id)
    detail = problem(confirm(client, order_id, JACKET_TOTAL, status=status), 400)
    assert "paymentStatus" in detail or status in detail, detail
    assert_open_and_payable(client, order_id, before)
    ok(confirm(client, order_id, JACKET_TOTAL, status="Authorized"))


# --- initialize before confirm ---------------------------------------------------------------


def test_confirm_needs_an_initialize_of_the_cart_as_it_is(client: TestClient) -> None:
    order_id = cart(client, ("trail-backpack", 1, None), ("trail-map", 1, None))
    before = get_order(client, order_id)
    assert dec(before["transactionAmount"]["value"]["value"]) == SMALL_TOTAL

    # never initialized
    detail = problem(confirm(client, order_id, SMALL_TOTAL), 400)
    assert "initialize" in detail
    assert_open_and_payable(client, order_id, before)
    assert before["orderNumber"] is None

    # initialized, then the cart changed
    first = initialize(client, order_id)
    add(client, order_id, "trail-map", 1)
    changed = get_order(client, order_id)
    assert dec(changed["transactionAmount"]["value"]["value"]) == SMALL_TOTAL_TWO_MAPS
    for amount in (SMALL_TOTAL, SMALL_TOTAL_TWO_MAPS):
        detail = problem(confirm(client, order_id, amount), 400)
        assert "initialize" in detail and "changed" in detail, detail
        assert_open_and_payable(client, order_id, changed)
    assert stock_of(client, "trail-map") == 60

    # a new initialize keeps the order number and pays the new amount
    second = initialize(client, order_id)
    assert second["orderNumber"] == first["orderNumber"]
    assert ORDER_NUMBER.match(second["orderNumber"])
    detail = problem(confirm(client, order_id, SMALL_TOTAL), 400)
    assert "107.8 EUR" in detail and "120.70 EUR" in detail, detail
    confirmed = ok(confirm(client, order_id, SMALL_TOTAL_TWO_MAPS))
    assert confirmed["orderNumber"] == first["orderNumber"]
    assert dec(confirmed["transactionInfo"]["authorizedAmount"]["value"]) == (
        SMALL_TOTAL_TWO_MAPS)
    assert stock_of(client, "trail-map") == 58  # 60 - 2


def test_changing_the_payment_or_shipping_method_needs_a_new_initialize(
        client: TestClient) -> None:
    order_id = jacket_cart(client)
    initialize(client, order_id)
    patch(client, order_id, {"paymentMethod": "card"})
    detail = problem(confirm(client, order_id, JACKET_CARD_TOTAL), 400)
    assert "initialize" in detail
    patch(client, order_id, {"paymentMethod": "invoicing", "shippingMethod": "express"})
    detail = problem(confirm(client, order_id, JACKET_TOTAL), 400)
    assert "initialize" in detail
    assert get_order(client, order_id)["isFinalized"] is False


# --- exactly once ----------------------------------------------------------------------------


def test_a_repeated_confirm_answers_like_the_first(client: TestClient) -> None:
    order_id = jacket_cart(client)
    initialize(client, order_id)
    first = confirm(client, order_id, JACKET_TOTAL, transaction_id="pay-42")
    again = confirm(client, order_id, JACKET_TOTAL, transaction_id="pay-42")
    assert ok(first) == ok(again)
    assert first.content == again.content
    assert notices(again)
    order = get_order(client, order_id)
    assert stock_of(client, "rain-jacket:rain-jacket-m") == 4  # one decrement: 5 - 1

    # the same transaction with other figures conflicts with what was recorded
    for different in (confirm(client, order_id, Decimal("1.00"), transaction_id="pay-42"),
                      confirm(client, order_id, JACKET_TOTAL, transaction_id="pay-42",
                              status="Captured")):
        assert "pay-42" in problem(different, 409)
    assert get_order(client, order_id) == order

    # another transaction for the finalized order is a conflict
    response = confirm(client, order_id, JACKET_TOTAL, transaction_id="pay-43")
    detail = problem(response, 409)
    assert order["orderNumber"] in detail
    assert "pay-43" not in get_order(client, order_id)["transactionInfo"]["transactionId"]
    assert get_order(client, order_id) == order
    assert stock_of(client, "rain-jacket:rain-jacket-m") == 4

    # and a finalized order cannot be initialized again
    detail = problem(client.get(checkout_url(order_id, "initialize")), 400)
    assert "finalized" in detail
    assert get_order(client, order_id) == order


@pytest.mark.parametrize("failure", ["Cancelled", "Error"])
def test_late_failure_news_does_not_reopen_a_finalized_order(
        client: TestClient, failure: str) -> None:
    order_id = jacket_cart(client)
    initialize(client, order_id)
    ok(confirm(client, order_id, JACKET_TOTAL, transaction_id="pay-1"))
    order = get_order(client, order_id)
    for transaction_id in ("pay-1", "pay-2"):
        response = confirm(client, order_id, JACKET_TOTAL, transaction_id=transaction_id,
                           status=failure)
        assert response.status_code in (400, 409), response.text
        detail = problem(response, response.status_code)
        assert get_order(client, order_id) == order
        # the storefront must not be told that a finalized order can be paid again
        assert "stays open" not in detail and "paid again" not in detail, detail
    assert order["isFinalized"] is True
    assert order["transactionInfo"]["paymentStatus"] == "Authorized"


# --- metadata and fee ------------------------------------------------------------------------


def test_metadata_is_kept_server_side_only(client: TestClient, demo_db_url: str) -> None:
    order_id = jacket_cart(client)
    initialize(client, order_id)
    response = confirm(client, order_id, JACKET_TOTAL, metaData={"cardBrand": "visa"})
    assert "visa" not in response.text
    order = get_order(client, order_id)
    assert order["isFinalized"] is True
    assert "cardBrand" not in order["properties"]
    assert "visa" not in json.dumps(order)
    mine = ok(client.get(f"{BASE}/v1/customer/{CUSTOMER['email']}/orders"))
    assert [o["id"] for o in mine] == [order_id]
    assert "visa" not in json.dumps(mine)
    assert order["properties"]["firstName"] == "Erika"
    assert asyncio.run(_server_properties(demo_db_url, order_id)).get("cardBrand") == "visa"


def test_a_negative_fee_is_refused(client: TestClient) -> None:
    order_id = jacket_cart(client)
    initialize(client, order_id)
    before = get_order(client, order_id)
    assert "fee" in problem(confirm(client, order_id, JACKET_TOTAL, fee=-0.35), 400)
    assert_open_and_payable(client, order_id, before)


# --- zero value ------------------------------------------------------------------------------


def test_zero_value_is_only_for_orders_with_nothing_to_pay(client: TestClient) -> None:
    order_id = jacket_cart(client, payment="zero-value")
    assert get_order(client, order_id)["paymentInfo"]["paymentMethod"]["alias"] == "zero-value"
    listed = by_alias(ok(client.get(checkout_url(order_id, "paymentmethods"))))
    assert "zero-value" not in listed
    before = get_order(client, order_id)

    detail = problem(client.get(checkout_url(order_id, "initialize")), 400)
    assert "zero-value" in detail and "nothing to pay" in detail, detail
    after = assert_open_and_payable(client, order_id, before)
    assert after["orderNumber"] is None

    patch(client, order_id, {"paymentMethod": "invoicing"})
    assert ORDER_NUMBER.match(initialize(client, order_id)["orderNumber"])


# --- validation ------------------------------------------------------------------------------


def test_initialize_needs_a_payment_method(client: TestClient) -> None:
    order_id = jacket_cart(client)
    before = patch(client, order_id, {"paymentMethod": None})
    assert before["paymentInfo"]["paymentMethod"] is None
    detail = problem(client.get(checkout_url(order_id, "initialize")), 400)
    assert "payment method" in detail
    after = get_order(client, order_id)
    assert after["orderNumber"] is None
    assert after["transactionInfo"] is None
    assert after == before


def test_initialize_needs_lines(client: TestClient) -> None:
    order_id = cart(client)
    before = get_order(client, order_id)
    assert before["orderLines"] == []
    detail = problem(client.get(checkout_url(order_id, "initialize")), 400)
    assert "lines" in detail
    assert get_order(client, order_id) == before


def test_initialize_refuses_a_product_that_sold_out(client: TestClient) -> None:
    # the second cart takes the last jacket L while there still are three
    late = cart(client, ("rain-jacket", 1, "rain-jacket-l"))
    early = cart(client, ("rain-jacket", 3, "rain-jacket-l"))
    # Rain Jacket L 159.00 x3 = 477.00 + standard 4.95 = 481.95
    initialize(client, early)
    ok(confirm(client, early, Decimal("481.95")))
    assert stock_of(client, "rain-jacket:rain-jacket-l") == 0  # 3 - 3

    before = get_order(client, late)
    detail = problem(client.get(checkout_url(late, "initialize")), 400)
    assert "Rain Jacket L" in detail, detail
    after = assert_open_and_payable(client, late, before)
    assert after["orderNumber"] is None
    assert stock_of(client, "rain-jacket:rain-jacket-l") == 0


@pytest.mark.parametrize("action", ["initialize", "paymentmethods", "shippingmethods"])
def test_unknown_orders_are_404(client: TestClient, action: str) -> None:
    for order_id in (str(uuid4()), "not-a-uuid"):
        problem(client.get(checkout_url(order_id, action)), 404)


def test_confirming_an_unknown_order_is_404(client: TestClient) -> None:
    problem(confirm(client, str(uuid4()), JACKET_TOTAL), 404)
    problem(confirm(client, "not-a-uuid", JACKET_TOTAL), 404)


def test_checkout_endpoints_need_the_api_key(client: TestClient) -> None:
    order_id = jacket_cart(client)
    before = get_order(client, order_id)
    for action in ("initialize", "paymentmethods", "shippingmethods"):
        detail = problem(client.get(checkout_url(order_id, action),
                                    headers={"Api-Key": ""}), 401)
        assert "Api-Key" in detail
    response = client.post(checkout_url(order_id, "confirm"), headers={"Api-Key": ""},
                           json={"amount": num(JACKET_TOTAL), "transactionId": "tx-1",
                                 "paymentStatus": "Authorized"})
    assert "Api-Key" in problem(response, 401)
    assert get_order(client, order_id) == before


def test_fields_trim_the_confirm_answer(client: TestClient) -> None:
    order_id = jacket_cart(client)
    ready = initialize(client, order_id)
    response = confirm(client, order_id, JACKET_TOTAL, params={"fields": "orderNumber"})
    assert ok(response) == {"orderNumber": ready["orderNumber"]}
    again = confirm(client, order_id, JACKET_TOTAL,
                    params={"fields": "transactionInfo[paymentStatus]"})
    assert ok(again) == {"transactionInfo": {"paymentStatus": "Authorized"}}


def test_a_transaction_id_is_required(client: TestClient) -> None:
    order_id = jacket_cart(client)
    initialize(client, order_id)
    before = get_order(client, order_id)
    assert "transactionId" in problem(confirm(client, order_id, JACKET_TOTAL,
                                              transaction_id="  "), 400)
    response = client.post(checkout_url(order_id, "confirm"),
                           json={"amount": num(JACKET_TOTAL), "paymentStatus": "Authorized"})
    assert "transactionId" in problem(response, 400)
    assert_open_and_payable(client, order_id, before)


def test_after_a_cart_change_the_old_initialize_is_not_a_way_round(
        client: TestClient) -> None:
    """A mug added after initialize: paying either amount needs a new initialize."""
    order_id = jacket_cart(client)
    initialize(client, order_id)
    add(client, order_id, "camp-mug", 1)
    problem(confirm(client, order_id, JACKET_AND_MUG_TOTAL), 400)
    initialize(client, order_id)
    ok(confirm(client, order_id, JACKET_AND_MUG_TOTAL))



# --- stock sold out between the check and the payment ------------------------------------


@pytest.mark.parametrize(("product", "variant", "stock"), [
    ("rain-jacket", "rain-jacket-l", 3),  # a variant's stock
    ("trail-map", None, 60),  # a product's own stock
])
def test_a_payment_for_stock_sold_meanwhile_places_the_order_and_reports_the_shortfall(
        client: TestClient, demo_db_url: str, product: str, variant: str | None,
        stock: int) -> None:
    reference = f"{product}:{variant}" if variant else product
    assert stock_of(client, reference) == stock
    # The second shopper starts paying first and holds 2 units ...
    first = cart(client, (product, stock, variant))
    second = cart(client, (product, 2, variant))
    initialize(client, second)
    assert stock_of(client, reference) == stock - 2
    assert "available" in problem(client.get(checkout_url(first, "initialize")), 400)
    # ... but takes longer than the hold: it runs out, and the first buys every unit.
    expire_holds(demo_db_url, second)
    initialize(client, first)
    first_amount = dec(get_order(client, first)["transactionAmount"]["value"]["value"])
    second_amount = dec(get_order(client, second)["transactionAmount"]["value"]["value"])
    ok(confirm(client, first, first_amount, transaction_id="tx-first"))
    assert stock_of(client, reference) == 0
    # The second payment arrives late: the money is taken, so the order is placed, and
    # the merchant is told what is missing.
    placed = ok(confirm(client, second, second_amount, transaction_id="tx-second"))
    assert placed["orderNumber"]
    assert stock_of(client, reference) == 0  # never below zero

    db = DbReader(demo_db_url)
    assert db.outbox(first, "order.stock_shortfall") == []
    (event,) = db.outbox(second, "order.stock_shortfall")
    payload = event["payload"]
    assert payload["orderNumber"] == placed["orderNumber"]
    (line,) = payload["lines"]
    assert Decimal(line["quantity"]) == 2
    assert line["sku"] == get_order(client, second)["orderLines"][0]["sku"]
    assert len(db.outbox(second)) == 1  # and it is an order.finalized like any other
