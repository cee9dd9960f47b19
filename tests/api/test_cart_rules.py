"""The cart's rules and bad input: every refusal is a problem document that says what is
wrong, and leaves the order exactly as it was.

Expected prices are worked out by hand (prices include tax, unit rounding):
unit withoutTax = round_half_up(price / (1 + rate), 2), a line = unit x quantity.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import BASE

ORDERS = f"{BASE}/v1/orders"
PROBLEM_JSON = "application/problem+json"

Money = tuple[Decimal, Decimal, Decimal]
"""(withoutTax, tax, withTax)"""


def m(without_tax: str, tax: str, with_tax: str) -> Money:
    return Decimal(without_tax), Decimal(tax), Decimal(with_tax)


# Trail Backpack 89.95 in DE (19 %): 89.95 / 1.19 = 75.5882… -> 75.59; tax 14.36
BACKPACK_DE_1 = m("75.59", "14.36", "89.95")
# Trail Backpack GBP 79.00 in GB (20 %): 79.00 / 1.20 = 65.8333… -> 65.83; tax 13.17
BACKPACK_GB_1 = m("65.83", "13.17", "79.00")

# A bundle: Carbon Trekking Poles 119.00 (DE 19 %): 119.00 / 1.19 = 100.00; tax 19.00
POLES_DE = m("100.00", "19.00", "119.00")
# First Aid Kit 34.50: 34.50 / 1.19 = 28.9915… -> 28.99; tax 5.51
FIRST_AID_DE = m("28.99", "5.51", "34.50")
# Steel Water Bottle 24.90: 24.90 / 1.19 = 20.9243… -> 20.92; tax 3.98 (per bottle)
BOTTLES_DE_2 = m("41.84", "7.96", "49.80")  # 2 x (20.92, 3.98, 24.90)
BOTTLES_DE_1 = m("20.92", "3.98", "24.90")
BOTTLES_DE_3 = m("62.76", "11.94", "74.70")  # 3 x (20.92, 3.98, 24.90)
# bundle unit = poles + items (per bundle):
BUNDLE_POLES_AID = m("128.99", "24.51", "153.50")  # 100.00+28.99, 19.00+5.51, 119.00+34.50
# + 2 bottles: 128.99+41.84 = 170.83; 24.51+7.96 = 32.47; 153.50+49.80 = 203.30
BUNDLE_POLES_AID_2_BOTTLES = m("170.83", "32.47", "203.30")
# 1 bottle instead: 128.99+20.92 = 149.91; 24.51+3.98 = 28.49; 153.50+24.90 = 178.40
BUNDLE_POLES_AID_1_BOTTLE = m("149.91", "28.49", "178.40")
# first aid kit removed: 100.00+20.92 = 120.92; 19.00+3.98 = 22.98; 119.00+24.90 = 143.90
BUNDLE_POLES_1_BOTTLE = m("120.92", "22.98", "143.90")
# 3 bottles: 100.00+62.76 = 162.76; 19.00+11.94 = 30.94; 119.00+74.70 = 193.70
BUNDLE_POLES_3_BOTTLES = m("162.76", "30.94", "193.70")
# two such bundles: 2 x (162.76, 30.94, 193.70)
TWO_BUNDLES_POLES_3_BOTTLES = m("325.52", "61.88", "387.40")


# --- helpers ---------------------------------------------------------------------------------


def dec(value: Any) -> Decimal:
    assert isinstance(value, int | float) and not isinstance(value, bool), value
    return Decimal(str(value))


def value_of(adjusted: dict[str, Any]) -> Money:
    price = adjusted["value"]
    return dec(price["withoutTax"]), dec(price["tax"]), dec(price["withTax"])


def ok(response: httpx.Response) -> dict[str, Any]:
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code == 200, f"{where}: {response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    return body


def assert_problem(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    """A problem document whose ``detail`` names what is wrong (each fragment, any case)."""
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, f"{where}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM_JSON), where
    doc: dict[str, Any] = response.json()
    assert doc["status"] == status, where
    detail = doc["detail"]
    assert isinstance(detail, str) and detail.strip(), where
    assert "Traceback" not in response.text
    for fragment in fragments:
        assert fragment.lower() in detail.lower(), f"{where}: {fragment!r} not in {detail!r}"
    return doc


def order_url(order_id: str) -> str:
    return f"{BASE}/v1/order/{order_id}"


def create(client: TestClient, **headers: str) -> dict[str, Any]:
    return ok(client.post(ORDERS, json={}, headers=headers))


def add(client: TestClient, order_id: str, product: str, quantity: Any,
        variant: str | None = None, **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {"productReference": product, "quantity": quantity, **extra}
    if variant is not None:
        body["productVariantReference"] = variant
    response: httpx.Response = client.post(order_url(order_id), json=body)
    return response


def get(client: TestClient, order_id: str) -> dict[str, Any]:
    return ok(client.get(order_url(order_id)))


@pytest.fixture
def cart(client: TestClient) -> dict[str, Any]:
    """An order with one Trail Backpack and a Rain Jacket L (2 of the 3 in stock)."""
    order_id = create(client)["id"]
    ok(add(client, order_id, "trail-backpack", 1))
    return ok(add(client, order_id, "rain-jacket", 2, "rain-jacket-l"))


def refused(client: TestClient, cart: dict[str, Any], response: httpx.Response, status: int,
            *fragments: str) -> dict[str, Any]:
    """The request failed as a problem and the order reads back exactly as before."""
    doc = assert_problem(response, status, *fragments)
    assert get(client, cart["id"]) == cart, "a refused request changed the order"
    return doc


def line_id(order: dict[str, Any], sku: str) -> str:
    ids = [line["id"] for line in order["orderLines"] if line["sku"] == sku]
    assert len(ids) == 1, sku
    return str(ids[0])


# --- products and quantities -----------------------------------------------------------------


def test_unknown_product_is_404(client: TestClient, cart: dict[str, Any]) -> None:
    refused(client, cart, add(client, cart["id"], "no-such-product", 1), 404,
            "no-such-product")


def test_unknown_variant_is_404(client: TestClient, cart: dict[str, Any]) -> None:
    refused(client, cart, add(client, cart["id"], "merino-tee", 1, "merino-tee-xxl-pink"), 404,
            "merino-tee-xxl-pink")


def test_a_product_with_variants_needs_one(client: TestClient, cart: dict[str, Any]) -> None:
    refused(client, cart, add(client, cart["id"], "merino-tee", 1), 400,
            "merino-tee", "productVariantReference")


@pytest.mark.parametrize("quantity", [0, -1, -0.5])
def test_quantity_must_be_positive_when_adding(client: TestClient, cart: dict[str, Any],
                                               quantity: Any) -> None:
    refused(client, cart, add(client, cart["id"], "trail-backpack", quantity), 400,
            "quantity", "more than 0")


@pytest.mark.parametrize("change", [{"quantity": 0}, {"quantity": -2},
                                    {"quantityDecrement": 1}, {"quantityIncrement": -1}])
def test_quantity_must_stay_positive_when_changing(client: TestClient, cart: dict[str, Any],
                                                   change: dict[str, Any]) -> None:
    item = f"{order_url(cart['id'])}/item/{line_id(cart, 'BAG-TRAIL-30')}"
    refused(client, cart, client.patch(item, json=change), 400, "more than 0")


def test_quantity_above_stock_names_what_is_available(client: TestClient,
                                                      cart: dict[str, Any]) -> None:
    # Rain Jacket L has 3 in stock and the cart already holds 2
    doc = refused(client, cart, add(client, cart["id"], "rain-jacket", 2, "rain-jacket-l"), 400,
                  "only 3", "Rain Jacket L")
    assert "4" in doc["detail"]  # what the order would need: 2 + 2
    jacket = f"{order_url(cart['id'])}/item/{line_id(cart, 'JKT-RAIN-L')}"
    refused(client, cart, client.patch(jacket, json={"quantity": 4}), 400, "only 3")
    refused(client, cart, client.patch(jacket, json={"quantityIncrement": 2}), 400, "only 3")
    # several lines at once: all or nothing
    refused(client, cart, client.patch(f"{order_url(cart['id'])}/items", json=[
        {"id": line_id(cart, "BAG-TRAIL-30"), "quantity": 5},
        {"id": line_id(cart, "JKT-RAIN-L"), "quantity": 9},
    ]), 400, "only 3")
    # up to the stock is fine
    order = ok(client.patch(jacket, json={"quantityIncrement": 1}))
    assert [Decimal(str(line["quantity"])) for line in order["orderLines"]] == [1, 3]


def test_out_of_stock_items_cannot_be_added(client: TestClient, cart: dict[str, Any]) -> None:
    refused(client, cart, add(client, cart["id"], "headlamp", 1), 400,
            "only 0", "Headlamp 300 lm")
    refused(client, cart, add(client, cart["id"], "merino-tee", 1, "merino-tee-l-black"), 400,
            "only 0", "Merino T-Shirt L Black")


# --- shipping and payment --------------------------------------------------------------------


def test_shipping_method_must_ship_to_the_country(client: TestClient) -> None:
    order_id = create(client)["id"]
    ok(add(client, order_id, "trail-backpack", 1))
    before = ok(client.patch(order_url(order_id), json={
        "billingAddress": {"country": "FR"}, "shippingAddress": {"sameAsBilling": True}}))
    assert before["shippingInfo"]["country"]["code"] == "FR"
    before = get(client, order_id)
    response = client.patch(order_url(order_id), json={"shippingMethod": "courier"})
    assert_problem(response, 400, "courier", "FR")
    assert get(client, order_id) == before


def test_unknown_shipping_option_is_400(client: TestClient, cart: dict[str, Any]) -> None:
    url = order_url(cart["id"])
    refused(client, cart, client.patch(url, json={"shippingMethod": "courier",
                                                  "shippingOption": "midnight"}), 400,
            "courier", "midnight")
    refused(client, cart, client.patch(url, json={"shippingMethod": "standard",
                                                  "shippingOption": "morning"}), 400,
            "standard", "morning")
    refused(client, cart, client.patch(url, json={"shippingMethod": "teleport"}), 400,
            "teleport")


def test_unknown_payment_method_is_400(client: TestClient, cart: dict[str, Any]) -> None:
    refused(client, cart, client.patch(order_url(cart["id"]),
                                       json={"paymentMethod": "bitcoin"}), 400, "bitcoin")


def test_a_bad_part_fails_the_whole_update(client: TestClient, cart: dict[str, Any]) -> None:
    refused(client, cart, client.patch(order_url(cart["id"]), json={
        "customer": {"firstName": "Erika"}, "billingAddress": {"city": "Berlin"},
        "shippingMethod": "standard", "paymentMethod": "bitcoin"}), 400, "bitcoin")


def test_redeeming_an_unknown_code_is_400(client: TestClient, cart: dict[str, Any]) -> None:
    refused(client, cart, client.patch(order_url(cart["id"]), json={
        "customer": {"firstName": "Erika"}, "redeem": ["NOPE-123"]}), 400, "NOPE-123")


# --- orders that are not there, and bad query syntax -----------------------------------------


def test_unknown_order_ids_are_404(client: TestClient) -> None:
    for order_id in [str(uuid.uuid4()), "not-a-uuid"]:
        url = order_url(order_id)
        assert_problem(client.get(url), 404, order_id)
        assert_problem(client.post(url, json={"productReference": "trail-backpack",
                                              "quantity": 1}), 404)
        assert_problem(client.patch(url, json={"paymentMethod": "card"}), 404)
        assert_problem(client.delete(url), 404)
        assert_problem(client.patch(f"{url}/items", json=[
            {"id": str(uuid.uuid4()), "quantity": 1}]), 404)


def test_unknown_line_is_404(client: TestClient, cart: dict[str, Any]) -> None:
    url = order_url(cart["id"])
    missing = str(uuid.uuid4())
    refused(client, cart, client.patch(f"{url}/item/{missing}", json={"quantity": 1}), 404,
            missing)
    refused(client, cart, client.delete(f"{url}/item/{missing}"), 404, missing)
    refused(client, cart, client.delete(f"{url}/item/not-a-uuid"), 404)


def test_malformed_expand_and_fields_are_400(client: TestClient,
                                              cart: dict[str, Any]) -> None:
    url = order_url(cart["id"])
    # the detail names the parameter and the bracket at fault
    assert_problem(client.get(url, params={"expand": "orderLines[sku"}), 400, "expand", "'['")
    assert_problem(client.get(url, params={"fields": "orderLines]"}), 400, "fields", "']'")
    # on a change, the bad query refuses the change too
    refused(client, cart, client.patch(url, json={"paymentMethod": "card"},
                                       params={"expand": "[sku]"}), 400, "expand")


# --- session headers on create ---------------------------------------------------------------


def test_unknown_currency_header_is_400(client: TestClient) -> None:
    response = client.post(ORDERS, json={}, headers={"Currency": "XYZ"})
    assert_problem(response, 400, "Currency", "XYZ")
    # nothing was created: the next cart still gets the first number
    assert create(client)["cartNumber"] == "CART-00001"


def test_unknown_currency_in_body_is_400(client: TestClient) -> None:
    assert_problem(client.post(ORDERS, json={"currency": "XYZ"}), 400, "currency", "XYZ")
    assert create(client)["cartNumber"] == "CART-00001"


def test_accept_language_on_create(client: TestClient) -> None:
    anything = create(client, **{"Accept-Language": "*"})
    assert anything["languageIsoCode"] is None
    english = create(client, **{"Accept-Language": "en-GB,en;q=0.8"})
    assert english["languageIsoCode"] == "en-GB"
    assert get(client, english["id"])["languageIsoCode"] == "en-GB"


def test_session_headers_are_defaults_on_create(client: TestClient) -> None:
    order = create(client, Currency="GBP", **{"Billing-Country": "GB",
                                              "Customer-Reference": "cust-42"})
    assert order["currency"]["code"] == "GBP"
    assert order["paymentInfo"]["country"]["code"] == "GB"
    assert order["shippingInfo"]["country"]["code"] == "GB"
    assert order["customerInfo"]["customerReference"] == "cust-42"
    assert Decimal(str(order["taxRate"])) == Decimal("0.2")  # GB standard rate
    # lines take GBP prices taxed for GB
    order = ok(add(client, order["id"], "trail-backpack", 1))
    assert value_of(order["orderLines"][0]["totalPrice"]) == BACKPACK_GB_1
    assert value_of(order["totalPrice"]) == BACKPACK_GB_1
    # the body wins over the session headers
    order = ok(client.post(ORDERS, json={"currency": "EUR", "customerReference": "cust-7"},
                           headers={"Currency": "GBP", "Customer-Reference": "cust-42"}))
    assert order["currency"]["code"] == "EUR"
    assert order["customerInfo"]["customerReference"] == "cust-7"


def test_a_default_cart_is_euro_and_germany(client: TestClient) -> None:
    order = create(client)
    assert order["currency"]["code"] == "EUR"
    assert order["paymentInfo"]["country"]["code"] == "DE"
    order = ok(add(client, order["id"], "trail-backpack", 1))
    assert value_of(order["totalPrice"]) == BACKPACK_DE_1


# --- deleting an order -----------------------------------------------------------------------


def test_a_deleted_order_is_gone(client: TestClient, cart: dict[str, Any]) -> None:
    url = order_url(cart["id"])
    response = client.delete(url)
    assert ok(response) == {"id": cart["id"], "deleted": True}
    assert json.loads(response.headers["Umb-Notifications"])
    assert_problem(client.get(url), 404, cart["id"])
    assert_problem(client.delete(url), 404)
    assert_problem(add(client, cart["id"], "trail-backpack", 1), 404)


# --- bundles ---------------------------------------------------------------------------------


def test_bundle_items_are_added_changed_and_removed(client: TestClient) -> None:
    order_id = create(client)["id"]
    url = order_url(order_id)
    order = ok(add(client, order_id, "trekking-poles", 1, bundleId="kit"))
    bundle = order["orderLines"][0]
    assert bundle["bundleId"] == "kit"
    assert bundle["orderLines"] == []
    assert value_of(bundle["totalPrice"]) == POLES_DE

    # an item joins the bundle line and raises its price
    order = ok(client.post(f"{url}/bundle/kit", json={"productReference": "first-aid-kit",
                                                       "quantity": 1}))
    assert len(order["orderLines"]) == 1
    bundle = order["orderLines"][0]
    assert [item["sku"] for item in bundle["orderLines"]] == ["KIT-FIRSTAID"]
    aid = bundle["orderLines"][0]
    assert value_of(aid["totalPrice"]) == FIRST_AID_DE
    assert value_of(bundle["basePrice"]) == POLES_DE
    assert value_of(bundle["unitPrice"]) == BUNDLE_POLES_AID
    assert value_of(bundle["totalPrice"]) == BUNDLE_POLES_AID
    assert value_of(order["subtotalPrice"]) == BUNDLE_POLES_AID
    assert value_of(order["totalPrice"]) == BUNDLE_POLES_AID

    order = ok(client.post(f"{url}/bundle/kit", json={"productReference": "water-bottle",
                                                       "quantity": 2}))
    bundle = order["orderLines"][0]
    bottle = next(item for item in bundle["orderLines"] if item["sku"] == "BTL-STEEL-750")
    assert value_of(bottle["totalPrice"]) == BOTTLES_DE_2
    assert value_of(bundle["totalPrice"]) == BUNDLE_POLES_AID_2_BOTTLES
    # the bundle's items do not count as lines of their own
    assert Decimal(str(order["totalQuantity"])) == 1

    order = ok(client.patch(f"{url}/bundle/kit/item/{bottle['id']}", json={"quantity": 1}))
    bundle = order["orderLines"][0]
    assert value_of(bundle["orderLines"][1]["totalPrice"]) == BOTTLES_DE_1
    assert value_of(bundle["totalPrice"]) == BUNDLE_POLES_AID_1_BOTTLE

    order = ok(client.delete(f"{url}/bundle/kit/item/{aid['id']}"))
    bundle = order["orderLines"][0]
    assert [item["sku"] for item in bundle["orderLines"]] == ["BTL-STEEL-750"]
    assert value_of(bundle["totalPrice"]) == BUNDLE_POLES_1_BOTTLE

    order = ok(client.patch(f"{url}/bundle/kit/items", json=[{"id": bottle["id"],
                                                              "quantity": 3}]))
    bundle = order["orderLines"][0]
    assert value_of(bundle["totalPrice"]) == BUNDLE_POLES_3_BOTTLES
    order = ok(client.patch(f"{url}/item/{bundle['id']}", json={"quantity": 2}))
    assert value_of(order["orderLines"][0]["unitPrice"]) == BUNDLE_POLES_3_BOTTLES
    assert value_of(order["orderLines"][0]["totalPrice"]) == TWO_BUNDLES_POLES_3_BOTTLES
    assert value_of(order["totalPrice"]) == TWO_BUNDLES_POLES_3_BOTTLES

    # a top-level line is not an item of the bundle; an unknown bundle is not there
    before = get(client, order_id)
    assert_problem(client.patch(f"{url}/bundle/kit/item/{bundle['id']}",
                                json={"quantity": 1}), 404, "kit")
    assert_problem(client.delete(f"{url}/bundle/kit/item/{bundle['id']}"), 404, "kit")
    assert_problem(client.post(f"{url}/bundle/nope", json={"productReference": "camp-mug",
                                                           "quantity": 1}), 404, "nope")
    assert_problem(add(client, order_id, "camp-mug", 1, bundleId="kit"), 400, "kit")
    assert get(client, order_id) == before

    order = ok(client.delete(f"{url}/bundle/kit/items"))
    bundle = order["orderLines"][0]
    assert bundle["orderLines"] == []
    assert value_of(bundle["unitPrice"]) == POLES_DE
    # 2 x (100.00, 19.00, 119.00)
    assert value_of(order["totalPrice"]) == m("200.00", "38.00", "238.00")


def test_bundle_items_count_against_stock(client: TestClient) -> None:
    order_id = create(client)["id"]
    ok(add(client, order_id, "trekking-poles", 1, bundleId="kit"))
    # Rain Jacket L: 3 in stock
    ok(client.post(f"{order_url(order_id)}/bundle/kit", json={
        "productReference": "rain-jacket", "productVariantReference": "rain-jacket-l",
        "quantity": 2}))
    before = get(client, order_id)
    assert_problem(add(client, order_id, "rain-jacket", 2, "rain-jacket-l"), 400, "only 3")
    # two bundles would need 2 x 2 = 4 jackets
    bundle_id = before["orderLines"][0]["id"]
    assert_problem(client.patch(f"{order_url(order_id)}/item/{bundle_id}",
                                json={"quantity": 2}), 400, "only 3", "4")
    assert get(client, order_id) == before
    # one more jacket in the one bundle still fits
    order = ok(add(client, order_id, "rain-jacket", 1, "rain-jacket-l"))
    assert len(order["orderLines"]) == 2


# --- the customer's orders -------------------------------------------------------------------


def test_a_customer_without_finalized_orders_has_none(client: TestClient) -> None:
    order = create(client, **{"Customer-Reference": "cust-42"})
    ok(add(client, order["id"], "trail-backpack", 1))
    response = client.get(f"{BASE}/v1/customer/cust-42/orders")
    assert response.status_code == 200
    assert response.json() == []
    by_email = client.get(f"{BASE}/v1/customer/nobody@example.com/orders")
    assert by_email.status_code == 200
    assert by_email.json() == []


# --- notifications ---------------------------------------------------------------------------


def test_notifications_on_failed_changes_but_never_on_reads(client: TestClient,
                                                            cart: dict[str, Any]) -> None:
    response = add(client, cart["id"], "trail-backpack", 0)
    doc = assert_problem(response, 400)
    notices = json.loads(response.headers["Umb-Notifications"])
    assert isinstance(notices, list) and len(notices) == 1
    assert set(notices[0]) == {"message", "category", "type"}
    assert notices[0]["type"] == "Error"
    assert notices[0]["message"] == doc["detail"]

    assert "Umb-Notifications" not in client.get(order_url(cart["id"])).headers
    missing = client.get(order_url(str(uuid.uuid4())))
    assert missing.status_code == 404
    assert "Umb-Notifications" not in missing.headers
    bad_query = client.get(order_url(cart["id"]), params={"expand": "orderLines[sku"})
    assert bad_query.status_code == 400
    assert "Umb-Notifications" not in bad_query.headers
