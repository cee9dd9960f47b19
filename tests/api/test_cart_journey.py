"""A shopper's whole cart journey over HTTP, with every total worked out by hand.

The demo store sets prices including tax and rounds every unit price (``unit`` rounding):

* unit withTax    = the configured price
* unit withoutTax = round_half_up(price / (1 + rate), 2)
* unit tax        = withTax - withoutTax
* a line          = unit x quantity on each side
* shipping and payment fees are priced like one unit (standard tax class: no own class)
* total           = subtotal + shipping + payment

Tax follows the shipping destination: DE standard 19 %, reduced 7 %;
FR standard 20 %, reduced 5.5 %.

Every expected figure below is a constant with its arithmetic in a comment; nothing here
calls the server's own pricing code.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.api.conftest import BASE

ORDERS = f"{BASE}/v1/orders"
FULL_EXPAND = "$prices,paymentInfo[country,paymentMethod],shippingInfo[country,shippingMethod]"
NOTICE_TYPES = {"Default", "Info", "Error", "Success", "Warning"}

Money = tuple[Decimal, Decimal, Decimal]
"""(withoutTax, tax, withTax)"""


def m(without_tax: str, tax: str, with_tax: str) -> Money:
    return Decimal(without_tax), Decimal(tax), Decimal(with_tax)


# --- hand-computed figures: EUR, destination DE --------------------------------------------

# Trail Backpack 89.95 (standard 19 %): 89.95 / 1.19 = 75.5882… -> 75.59; tax 89.95 - 75.59
BACKPACK_DE_1 = m("75.59", "14.36", "89.95")
BACKPACK_DE_2 = m("151.18", "28.72", "179.90")  # 2 x (75.59, 14.36, 89.95)
BACKPACK_DE_3 = m("226.77", "43.08", "269.85")  # 3 x (75.59, 14.36, 89.95)
# Merino T-Shirt M Green has its own price 52.00 (not the product's 49.00):
# 52.00 / 1.19 = 43.6974… -> 43.70; tax 52.00 - 43.70 = 8.30
GREEN_TEE_DE_1 = m("43.70", "8.30", "52.00")
GREEN_TEE_DE_2 = m("87.40", "16.60", "104.00")  # 2 x (43.70, 8.30, 52.00)
# Alps Trail Map 12.90 (reduced 7 %): 12.90 / 1.07 = 12.0560… -> 12.06; tax 0.84
MAP_DE_1 = m("12.06", "0.84", "12.90")
MAP_DE_3 = m("36.18", "2.52", "38.70")  # 3 x (12.06, 0.84, 12.90)
MAP_DE_5 = m("60.30", "4.20", "64.50")  # 5 x (12.06, 0.84, 12.90)
MAP_DE_4 = m("48.24", "3.36", "51.60")  # 4 x (12.06, 0.84, 12.90)
# Steel Water Bottle 24.90 (standard 19 %): 24.90 / 1.19 = 20.9243… -> 20.92; tax 3.98
BOTTLE_DE_2 = m("41.84", "7.96", "49.80")  # 2 x (20.92, 3.98, 24.90)
BOTTLE_DE_5 = m("104.60", "19.90", "124.50")  # 5 x (20.92, 3.98, 24.90)

# subtotals while the cart fills up
SUB_AFTER_GREEN_TEE = m("194.88", "37.02", "231.90")  # 151.18+43.70, 28.72+8.30, 179.90+52
SUB_AFTER_MAP = m("206.94", "37.86", "244.80")  # 194.88+12.06, 37.02+0.84, 231.90+12.90
SUB_AFTER_BOTTLE = m("248.78", "45.82", "294.60")  # 206.94+41.84, 37.86+7.96, 244.80+49.80
# backpack 2, green tee 2, map 4, bottle 5:
# 151.18+87.40+48.24+104.60 = 391.42; 28.72+16.60+3.36+19.90 = 68.58;
# 179.90+104.00+51.60+124.50 = 460.00
SUB_AFTER_BULK = m("391.42", "68.58", "460.00")
# backpack 2, green tee 2, map 4 (the bottle line deleted):
# 151.18+87.40+48.24 = 286.82; 28.72+16.60+3.36 = 48.68; 179.90+104.00+51.60 = 335.50
SUBTOTAL_DE = m("286.82", "48.68", "335.50")
TOTAL_QUANTITY = Decimal("8")  # 2 + 2 + 4

# Courier, option morning 9.00 (standard 19 %): 9.00 / 1.19 = 7.5630… -> 7.56; tax 1.44
COURIER_MORNING_DE = m("7.56", "1.44", "9.00")
# Card fee 0.50 (standard 19 %): 0.50 / 1.19 = 0.4201… -> 0.42; tax 0.08
CARD_FEE_DE = m("0.42", "0.08", "0.50")
# 286.82+7.56+0.42 = 294.80; 48.68+1.44+0.08 = 50.20; 335.50+9.00+0.50 = 345.00
TOTAL_DE = m("294.80", "50.20", "345.00")

# Standard delivery 4.95 (DE 19 %): 4.95 / 1.19 = 4.1596… -> 4.16; tax 0.79
STANDARD_DE = m("4.16", "0.79", "4.95")
# 286.82+4.16+0.42 = 291.40; 48.68+0.79+0.08 = 49.55; 335.50+4.95+0.50 = 340.95
TOTAL_DE_STANDARD = m("291.40", "49.55", "340.95")

# --- EUR, shipped to FR (standard 20 %, reduced 5.5 %) -------------------------------------

# 89.95 / 1.20 = 74.9583… -> 74.96; x2 = 149.92; tax 2 x 14.99 = 29.98
BACKPACK_FR_2 = m("149.92", "29.98", "179.90")
# 52.00 / 1.20 = 43.3333… -> 43.33; x2 = 86.66; tax 2 x 8.67 = 17.34
GREEN_TEE_FR_2 = m("86.66", "17.34", "104.00")
# 12.90 / 1.055 = 12.2274… -> 12.23; x4 = 48.92; tax 4 x 0.67 = 2.68
MAP_FR_4 = m("48.92", "2.68", "51.60")
# 149.92+86.66+48.92 = 285.50; 29.98+17.34+2.68 = 50.00; 179.90+104.00+51.60 = 335.50
SUBTOTAL_FR = m("285.50", "50.00", "335.50")
# Card fee 0.50 / 1.20 = 0.41666… -> 0.42; tax 0.08
CARD_FEE_FR = m("0.42", "0.08", "0.50")
# Standard delivery 4.95 / 1.20 = 4.125 -> 4.13 (half up); tax 0.82
STANDARD_FR = m("4.13", "0.82", "4.95")
# courier dropped (it ships to DE only), card kept:
# 285.50+0.42 = 285.92; 50.00+0.08 = 50.08; 335.50+0.50 = 336.00
TOTAL_FR_NO_SHIPPING = m("285.92", "50.08", "336.00")
# 285.50+4.13+0.42 = 290.05; 50.00+0.82+0.08 = 50.90; 335.50+4.95+0.50 = 340.95
TOTAL_FR = m("290.05", "50.90", "340.95")
# no payment method: 285.50+4.13 = 289.63; 50.00+0.82 = 50.82; 335.50+4.95 = 340.45
TOTAL_FR_NO_PAYMENT = m("289.63", "50.82", "340.45")

# --- USD, shipped to FR ----------------------------------------------------------------------

# Trail Backpack USD 99.00: 99.00 / 1.20 = 82.50; x2 = 165.00; tax 2 x 16.50 = 33.00
BACKPACK_USD_2 = m("165.00", "33.00", "198.00")
# Merino M Green USD 58.00: 58.00 / 1.20 = 48.3333… -> 48.33; x2 = 96.66; tax 2 x 9.67
GREEN_TEE_USD_2 = m("96.66", "19.34", "116.00")
# Alps Trail Map USD 14.00: 14.00 / 1.055 = 13.2701… -> 13.27; x4 = 53.08; tax 4 x 0.73
MAP_USD_4 = m("53.08", "2.92", "56.00")
# 165.00+96.66+53.08 = 314.74; 33.00+19.34+2.92 = 55.26; 198.00+116.00+56.00 = 370.00
SUBTOTAL_USD = m("314.74", "55.26", "370.00")
# Standard delivery USD 6.95: 6.95 / 1.20 = 5.7916… -> 5.79; tax 1.16
STANDARD_USD = m("5.79", "1.16", "6.95")
# Card fee USD 0.50: 0.50 / 1.20 -> 0.42; tax 0.08
CARD_FEE_USD = m("0.42", "0.08", "0.50")
# 314.74+5.79+0.42 = 320.95; 55.26+1.16+0.08 = 56.50; 370.00+6.95+0.50 = 377.45
TOTAL_USD = m("320.95", "56.50", "377.45")
# Trail Backpack USD 99.00 in DE (19 %): 99.00 / 1.19 = 83.1932… -> 83.19; x2 = 166.38;
# tax 2 x 15.81 = 31.62
BACKPACK_USD_DE_2 = m("166.38", "31.62", "198.00")
# without the card fee: 314.74+5.79 = 320.53; 55.26+1.16 = 56.42; 370.00+6.95 = 376.95
TOTAL_USD_NO_PAYMENT = m("320.53", "56.42", "376.95")

ZERO = m("0", "0", "0")

CUSTOMER = {"firstName": "Erika", "lastName": "Mustermann", "email": "erika@example.com",
            "telephone": "   ", "company": ""}
BILLING_DE = {"line1": "Hauptstraße 5", "line2": "", "city": "Berlin", "zipCode": "10115",
              "country": "DE"}


# --- helpers ---------------------------------------------------------------------------------


def dec(value: Any) -> Decimal:
    """A JSON number as an exact Decimal (via its shortest text form)."""
    assert isinstance(value, int | float) and not isinstance(value, bool), value
    return Decimal(str(value))


def money(price: dict[str, Any]) -> Money:
    return dec(price["withoutTax"]), dec(price["tax"]), dec(price["withTax"])


def value_of(adjusted: dict[str, Any]) -> Money:
    """The ``value`` of an adjusted price, as (withoutTax, tax, withTax)."""
    return money(adjusted["value"])


def ok(response: httpx.Response) -> dict[str, Any]:
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code == 200, f"{where}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/json"), where
    body: dict[str, Any] = response.json()
    return body


def notices(response: httpx.Response) -> list[dict[str, str]]:
    """The Umb-Notifications header: a JSON array of {message, category, type}."""
    raw = response.headers.get("Umb-Notifications")
    assert raw is not None, f"no Umb-Notifications on {response.request.method}"
    parsed = json.loads(raw)
    assert isinstance(parsed, list)
    for item in parsed:
        assert set(item) == {"message", "category", "type"}, item
        assert all(isinstance(v, str) and v for v in item.values()), item
        assert item["type"] in NOTICE_TYPES, item
    return parsed


def order_url(order_id: str) -> str:
    return f"{BASE}/v1/order/{order_id}"


def create(client: TestClient) -> dict[str, Any]:
    return ok(client.post(ORDERS, json={}))


def add(client: TestClient, order_id: str, product: str, quantity: int,
        variant: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"productReference": product, "quantity": quantity}
    if variant is not None:
        body["productVariantReference"] = variant
    response: httpx.Response = client.post(order_url(order_id), json=body)
    return response


def patch(client: TestClient, order_id: str, body: dict[str, Any],
          params: dict[str, str] | None = None) -> httpx.Response:
    response: httpx.Response = client.patch(order_url(order_id), json=body, params=params)
    return response


def get(client: TestClient, order_id: str, **params: str) -> dict[str, Any]:
    response = client.get(order_url(order_id), params=params)
    assert "Umb-Notifications" not in response.headers
    return ok(response)


def line_by_sku(order: dict[str, Any], sku: str) -> dict[str, Any]:
    found = [line for line in order["orderLines"] if line["sku"] == sku]
    assert len(found) == 1, f"{len(found)} lines with sku {sku}"
    line: dict[str, Any] = found[0]
    return line


def cart_with_three_lines(client: TestClient) -> str:
    """Backpack x2, Merino M Green x2, Alps Trail Map x4 (EUR, DE)."""
    order_id = str(create(client)["id"])
    ok(add(client, order_id, "trail-backpack", 2))
    ok(add(client, order_id, "merino-tee", 2, "merino-tee-m-green"))
    ok(add(client, order_id, "trail-map", 4))
    return order_id


def set_customer_and_addresses(client: TestClient, order_id: str) -> httpx.Response:
    return patch(client, order_id, {
        "customer": CUSTOMER,
        "billingAddress": BILLING_DE,
        "shippingAddress": {"sameAsBilling": True},
    })


def checkout_cart(client: TestClient) -> str:
    """The three-line cart with customer, DE addresses, courier (morning) and card."""
    order_id = cart_with_three_lines(client)
    ok(set_customer_and_addresses(client, order_id))
    ok(patch(client, order_id, {"shippingMethod": "courier", "shippingOption": "morning",
                                "paymentMethod": "card"}))
    return order_id


def assert_totals(order: dict[str, Any], subtotal: Money, shipping: Money, payment: Money,
                  total: Money) -> None:
    assert value_of(order["subtotalPrice"]) == subtotal
    assert value_of(order["shippingInfo"]["totalPrice"]) == shipping
    assert value_of(order["paymentInfo"]["totalPrice"]) == payment
    assert value_of(order["totalPrice"]) == total
    amount = order["transactionAmount"]["value"]
    assert dec(amount["value"]) == total[2]
    assert amount["currency"]["code"] == order["currency"]["code"]


# --- the journey -----------------------------------------------------------------------------


def test_a_new_cart_is_empty_and_announced(client: TestClient) -> None:
    response = client.post(ORDERS, json={})
    order = ok(response)
    assert order["cartNumber"] == "CART-00001"
    assert order["orderNumber"] is None
    assert order["isFinalized"] is False
    assert order["currency"] == {"$type": "CurrencyRef", "id": order["currency"]["id"],
                                 "code": "EUR"}
    assert order["orderLines"] == []
    assert dec(order["totalQuantity"]) == 0
    assert value_of(order["totalPrice"]) == ZERO
    assert dec(order["transactionAmount"]["value"]["value"]) == 0
    assert order["paymentInfo"]["country"]["code"] == "DE"  # the store's default country
    assert order["paymentInfo"]["paymentMethod"] is None
    assert order["shippingInfo"]["shippingMethod"] is None
    announced = notices(response)
    assert len(announced) == 1
    assert "CART-00001" in announced[0]["message"]
    assert announced[0]["type"] == "Success"

    assert ok(client.post(ORDERS, json={}))["cartNumber"] == "CART-00002"
    assert get(client, order["id"]) == order


def test_lines_are_added_merged_changed_and_removed(client: TestClient) -> None:
    order_id = create(client)["id"]

    response = add(client, order_id, "trail-backpack", 1)
    order = ok(response)
    assert "Trail Backpack 30 L" in notices(response)[0]["message"]
    assert len(order["orderLines"]) == 1
    assert value_of(order["subtotalPrice"]) == BACKPACK_DE_1

    # the same product again is merged into the one line
    order = ok(add(client, order_id, "trail-backpack", 1))
    assert len(order["orderLines"]) == 1
    backpack = order["orderLines"][0]
    assert backpack["sku"] == "BAG-TRAIL-30"
    assert dec(backpack["quantity"]) == 2
    assert money(backpack["unitPrice"]["value"]) == BACKPACK_DE_1
    assert money(backpack["basePrice"]["value"]) == BACKPACK_DE_1
    assert value_of(backpack["totalPrice"]) == BACKPACK_DE_2
    assert dec(backpack["taxRate"]) == Decimal("0.19")

    # a variant with its own price
    order = ok(add(client, order_id, "merino-tee", 1, "merino-tee-m-green"))
    tee = line_by_sku(order, "TEE-MERINO-M-GRN")
    assert tee["productReference"] == "merino-tee"
    assert tee["productVariantReference"] == "merino-tee-m-green"
    assert tee["name"] == "Merino T-Shirt M Green"
    attributes = {a["name"]["name"]: a["value"]["name"] for a in tee["attributes"]}
    assert attributes == {"Size": "M", "Colour": "Forest green"}
    assert value_of(tee["totalPrice"]) == GREEN_TEE_DE_1
    assert value_of(order["subtotalPrice"]) == SUB_AFTER_GREEN_TEE

    # a product in the reduced tax class
    order = ok(add(client, order_id, "trail-map", 1))
    trail_map = line_by_sku(order, "MAP-ALPS")
    assert trail_map["taxClass"]["$type"] == "TaxClassRef"
    assert trail_map["taxClass"]["alias"] == "reduced"
    assert dec(trail_map["taxRate"]) == Decimal("0.07")
    assert value_of(trail_map["totalPrice"]) == MAP_DE_1
    assert value_of(order["subtotalPrice"]) == SUB_AFTER_MAP

    order = ok(add(client, order_id, "water-bottle", 2))
    bottle = line_by_sku(order, "BTL-STEEL-750")
    assert value_of(bottle["totalPrice"]) == BOTTLE_DE_2
    assert value_of(order["subtotalPrice"]) == SUB_AFTER_BOTTLE
    assert len(order["orderLines"]) == 4

    # one line at a time: quantity, quantityIncrement, quantityDecrement
    item = f"{order_url(order_id)}/item/{trail_map['id']}"
    response = client.patch(item, json={"quantity": 3})
    order = ok(response)
    assert notices(response)
    assert value_of(line_by_sku(order, "MAP-ALPS")["totalPrice"]) == MAP_DE_3
    order = ok(client.patch(item, json={"quantityIncrement": 2}))
    assert dec(line_by_sku(order, "MAP-ALPS")["quantity"]) == 5
    assert value_of(line_by_sku(order, "MAP-ALPS")["totalPrice"]) == MAP_DE_5
    order = ok(client.patch(item, json={"quantityDecrement": 1}))
    assert dec(line_by_sku(order, "MAP-ALPS")["quantity"]) == 4
    assert value_of(line_by_sku(order, "MAP-ALPS")["totalPrice"]) == MAP_DE_4
    order = ok(client.patch(f"{order_url(order_id)}/item/{backpack['id']}",
                            json={"quantity": 3}))
    assert value_of(line_by_sku(order, "BAG-TRAIL-30")["totalPrice"]) == BACKPACK_DE_3

    # several lines at once
    order = ok(client.patch(f"{order_url(order_id)}/items", json=[
        {"id": backpack["id"], "quantityDecrement": 1},
        {"id": tee["id"], "quantityIncrement": 1},
        {"id": bottle["id"], "quantity": 5},
    ]))
    quantities = {line["sku"]: dec(line["quantity"]) for line in order["orderLines"]}
    assert quantities == {"BAG-TRAIL-30": 2, "TEE-MERINO-M-GRN": 2, "MAP-ALPS": 4,
                          "BTL-STEEL-750": 5}
    assert value_of(line_by_sku(order, "BAG-TRAIL-30")["totalPrice"]) == BACKPACK_DE_2
    assert value_of(line_by_sku(order, "TEE-MERINO-M-GRN")["totalPrice"]) == GREEN_TEE_DE_2
    assert value_of(line_by_sku(order, "BTL-STEEL-750")["totalPrice"]) == BOTTLE_DE_5
    assert value_of(order["subtotalPrice"]) == SUB_AFTER_BULK

    # delete one line
    response = client.delete(f"{order_url(order_id)}/item/{bottle['id']}")
    order = ok(response)
    assert any("Steel Water Bottle" in n["message"] for n in notices(response))
    assert [line["sku"] for line in order["orderLines"]] == ["BAG-TRAIL-30",
                                                             "TEE-MERINO-M-GRN", "MAP-ALPS"]
    assert dec(order["totalQuantity"]) == TOTAL_QUANTITY
    assert value_of(order["subtotalPrice"]) == SUBTOTAL_DE
    # no shipping or payment method yet: the total is the subtotal
    assert value_of(order["totalPrice"]) == SUBTOTAL_DE
    assert dec(order["transactionAmount"]["value"]["value"]) == SUBTOTAL_DE[2]
    assert get(client, order_id) == order


def test_customer_and_addresses_are_kept_as_order_properties(client: TestClient) -> None:
    order_id = cart_with_three_lines(client)
    response = set_customer_and_addresses(client, order_id)
    order = ok(response)
    assert notices(response)
    props = order["properties"]
    assert props["firstName"] == "Erika"
    assert props["lastName"] == "Mustermann"
    assert props["email"] == "erika@example.com"
    assert props["billingAddressLine1"] == "Hauptstraße 5"
    assert props["billingCity"] == "Berlin"
    assert props["billingZipCode"] == "10115"
    assert props["shippingSameAsBilling"] == "1"
    assert props["shippingAddressLine1"] == props["billingAddressLine1"]
    assert props["shippingCity"] == "Berlin"
    assert props["shippingZipCode"] == "10115"
    assert props["shippingFirstName"] == "Erika"
    assert props["shippingLastName"] == "Mustermann"
    # empty (or blank) values are not stored
    for absent in ["telephone", "billingCompany", "billingAddressLine2",
                   "shippingAddressLine2", "shippingCompany", "shippingTelephone"]:
        assert absent not in props, absent
    assert all(value.strip() for value in props.values()), props
    assert order["customerInfo"] == {"customerReference": None, "firstName": "Erika",
                                     "lastName": "Mustermann", "email": "erika@example.com"}
    assert order["paymentInfo"]["country"]["code"] == "DE"
    assert order["shippingInfo"]["country"]["code"] == "DE"
    # prices are unchanged: still shipped to DE
    assert value_of(order["subtotalPrice"]) == SUBTOTAL_DE
    assert get(client, order_id)["properties"] == props

    # shipping keeps following billing; an empty value removes what was stored
    order = ok(patch(client, order_id, {"billingAddress": {"city": "München",
                                                           "zipCode": "80331"},
                                        "customer": {"telephone": "030 1234567"}}))
    props = order["properties"]
    assert props["billingCity"] == props["shippingCity"] == "München"
    assert props["billingZipCode"] == props["shippingZipCode"] == "80331"
    assert props["billingAddressLine1"] == "Hauptstraße 5"  # not mentioned: unchanged
    assert props["telephone"] == props["shippingTelephone"] == "030 1234567"
    order = ok(patch(client, order_id, {"customer": {"telephone": ""}}))
    assert "telephone" not in order["properties"]
    assert "shippingTelephone" not in order["properties"]
    assert order["properties"]["firstName"] == "Erika"


def test_checkout_totals_and_price_shapes(client: TestClient) -> None:
    order_id = cart_with_three_lines(client)
    ok(set_customer_and_addresses(client, order_id))
    response = patch(client, order_id, {"shippingMethod": "courier",
                                        "shippingOption": "morning", "paymentMethod": "card"})
    chosen = ok(response)
    assert notices(response)
    assert chosen["shippingInfo"]["shippingMethod"]["$type"] == "ShippingMethodRef"
    assert chosen["shippingInfo"]["shippingMethod"]["alias"] == "courier"
    assert chosen["shippingInfo"]["shippingOption"] == {"id": "morning",
                                                        "name": "Morning (8-12)"}
    assert chosen["paymentInfo"]["paymentMethod"]["$type"] == "PaymentMethodRef"
    assert chosen["paymentInfo"]["paymentMethod"]["alias"] == "card"
    assert_totals(chosen, SUBTOTAL_DE, COURIER_MORNING_DE, CARD_FEE_DE, TOTAL_DE)

    order = get(client, order_id, expand=FULL_EXPAND)

    # expanded entities are full objects; the rest stay references
    payment, shipping = order["paymentInfo"], order["shippingInfo"]
    assert payment["country"]["$type"] == "Country"
    assert payment["country"]["code"] == "DE"
    assert payment["country"]["name"] == "Germany"
    assert payment["paymentMethod"]["$type"] == "PaymentMethod"
    assert payment["paymentMethod"]["alias"] == "card"
    assert payment["paymentMethod"]["paymentProviderAlias"] == "testgateway"
    assert shipping["country"]["$type"] == "Country"
    assert shipping["country"]["code"] == "DE"
    assert shipping["shippingMethod"]["$type"] == "ShippingMethod"
    assert shipping["shippingMethod"]["alias"] == "courier"
    assert shipping["shippingMethod"]["name"] == "Local courier"
    assert shipping["shippingOption"] == {"id": "morning", "name": "Morning (8-12)"}
    assert order["currency"]["$type"] == "CurrencyRef"
    assert order["currency"]["code"] == "EUR"
    assert order["store"]["$type"] == "StoreRef"
    assert order["orderStatus"]["$type"] == "OrderStatusRef"
    assert order["taxClass"]["$type"] == "TaxClassRef"
    assert order["orderLines"][0]["taxClass"]["$type"] == "TaxClassRef"

    # full price shapes
    for name in ["subtotalPrice", "totalPrice"]:
        price = order[name]
        assert set(price) == {"adjustments", "withoutAdjustments", "adjustment", "value",
                              "previousAdjustments", "withPreviousAdjustments",
                              "totalAdjustment"}, name
        assert price["adjustments"] == []
        assert money(price["withoutAdjustments"]) == value_of(price)
        assert money(price["withPreviousAdjustments"]) == value_of(price)
        for zero in ["adjustment", "previousAdjustments", "totalAdjustment"]:
            assert money(price[zero]) == ZERO, (name, zero)
        assert price["value"]["currency"]["$type"] == "CurrencyRef"
    for price in [shipping["totalPrice"], payment["totalPrice"]]:
        assert set(price) == {"adjustments", "withoutAdjustments", "adjustment", "value"}
        assert money(price["withoutAdjustments"]) == value_of(price)
        assert money(price["adjustment"]) == ZERO
    for line in order["orderLines"]:
        assert set(line["unitPrice"]) == {"adjustments", "withoutAdjustments", "adjustment",
                                          "value"}
        assert "previousAdjustments" in line["totalPrice"]
        assert "totalAdjustment" in line["totalPrice"]
    amount = order["transactionAmount"]
    assert set(amount) == {"adjustments", "withoutAdjustments", "adjustment", "value"}
    assert dec(amount["adjustment"]["value"]) == 0
    assert dec(amount["withoutAdjustments"]["value"]) == TOTAL_DE[2]

    # every figure
    assert value_of(line_by_sku(order, "BAG-TRAIL-30")["totalPrice"]) == BACKPACK_DE_2
    assert value_of(line_by_sku(order, "TEE-MERINO-M-GRN")["totalPrice"]) == GREEN_TEE_DE_2
    assert value_of(line_by_sku(order, "MAP-ALPS")["totalPrice"]) == MAP_DE_4
    assert dec(shipping["taxRate"]) == Decimal("0.19")
    assert dec(payment["taxRate"]) == Decimal("0.19")
    assert_totals(order, SUBTOTAL_DE, COURIER_MORNING_DE, CARD_FEE_DE, TOTAL_DE)
    assert order["transactionAmount"]["value"]["formatted"]["value"].startswith("345,00")

    # without expand a price is only its value
    plain = get(client, order_id)
    for price in [plain["subtotalPrice"], plain["totalPrice"], plain["transactionAmount"],
                  plain["shippingInfo"]["totalPrice"], plain["paymentInfo"]["totalPrice"],
                  plain["orderLines"][0]["unitPrice"], plain["orderLines"][0]["totalPrice"]]:
        assert set(price) == {"value"}
    assert plain["paymentInfo"]["country"]["$type"] == "CountryRef"
    assert plain["shippingInfo"]["shippingMethod"]["$type"] == "ShippingMethodRef"
    assert_totals(plain, SUBTOTAL_DE, COURIER_MORNING_DE, CARD_FEE_DE, TOTAL_DE)


def test_fields_trim_the_order_but_keep_ids(client: TestClient) -> None:
    order_id = cart_with_three_lines(client)
    trimmed = get(client, order_id, fields="totalQuantity,orderLines[sku,quantity]")
    assert set(trimmed) == {"id", "totalQuantity", "orderLines"}
    assert trimmed["id"] == order_id
    assert dec(trimmed["totalQuantity"]) == TOTAL_QUANTITY
    assert [set(line) for line in trimmed["orderLines"]] == [{"id", "sku", "quantity"}] * 3
    assert [(line["sku"], dec(line["quantity"])) for line in trimmed["orderLines"]] == [
        ("BAG-TRAIL-30", Decimal(2)), ("TEE-MERINO-M-GRN", Decimal(2)),
        ("MAP-ALPS", Decimal(4))]
    # a mutation answers in the same trimmed shape
    response = client.patch(f"{order_url(order_id)}/item/{trimmed['orderLines'][2]['id']}",
                            json={"quantity": 1},
                            params={"fields": "totalQuantity,orderLines[sku,quantity]"})
    after = ok(response)
    assert set(after) == {"id", "totalQuantity", "orderLines"}
    assert dec(after["totalQuantity"]) == 5  # 2 + 2 + 1


def test_a_separate_shipping_address_moves_the_destination(client: TestClient) -> None:
    order_id = checkout_cart(client)
    response = patch(client, order_id, {"shippingAddress": {
        "sameAsBilling": False, "line1": "12 rue de la Paix", "city": "Paris",
        "zipCode": "75002", "country": "FR",
        "contact": {"firstName": "Jean", "lastName": "Dupont", "company": ""}}})
    order = ok(response)
    warnings = [n for n in notices(response) if n["type"] == "Warning"]
    assert any("Local courier" in n["message"] for n in warnings), warnings

    props = order["properties"]
    assert props["shippingSameAsBilling"] == "0"
    assert props["shippingAddressLine1"] == "12 rue de la Paix"
    assert props["shippingCity"] == "Paris"
    assert props["shippingZipCode"] == "75002"
    assert props["shippingFirstName"] == "Jean"
    assert props["shippingLastName"] == "Dupont"
    assert "shippingCompany" not in props
    # billing is untouched
    assert props["billingAddressLine1"] == "Hauptstraße 5"
    assert props["billingCity"] == "Berlin"
    assert props["firstName"] == "Erika"
    assert order["paymentInfo"]["country"]["code"] == "DE"
    assert order["shippingInfo"]["country"]["code"] == "FR"

    # courier ships to DE only: it is gone; the card stays; tax is now French
    assert order["shippingInfo"]["shippingMethod"] is None
    assert order["shippingInfo"]["shippingOption"] is None
    assert order["paymentInfo"]["paymentMethod"]["alias"] == "card"
    assert dec(order["taxRate"]) == Decimal("0.2")
    assert dec(line_by_sku(order, "MAP-ALPS")["taxRate"]) == Decimal("0.055")
    assert value_of(line_by_sku(order, "BAG-TRAIL-30")["totalPrice"]) == BACKPACK_FR_2
    assert value_of(line_by_sku(order, "TEE-MERINO-M-GRN")["totalPrice"]) == GREEN_TEE_FR_2
    assert value_of(line_by_sku(order, "MAP-ALPS")["totalPrice"]) == MAP_FR_4
    assert_totals(order, SUBTOTAL_FR, ZERO, CARD_FEE_FR, TOTAL_FR_NO_SHIPPING)

    order = ok(patch(client, order_id, {"shippingMethod": "standard"}))
    assert order["shippingInfo"]["shippingMethod"]["alias"] == "standard"
    assert dec(order["shippingInfo"]["taxRate"]) == Decimal("0.2")
    assert_totals(order, SUBTOTAL_FR, STANDARD_FR, CARD_FEE_FR, TOTAL_FR)
    assert get(client, order_id) == order

    # back to the billing address: DE again, shipping properties copy billing's
    order = ok(patch(client, order_id, {"shippingAddress": {"sameAsBilling": True}}))
    props = order["properties"]
    assert props["shippingSameAsBilling"] == "1"
    assert props["shippingAddressLine1"] == props["billingAddressLine1"] == "Hauptstraße 5"
    assert props["shippingCity"] == "Berlin"
    assert props["shippingFirstName"] == "Erika"
    assert props["shippingLastName"] == "Mustermann"
    assert order["shippingInfo"]["country"]["code"] == "DE"
    assert order["shippingInfo"]["shippingMethod"]["alias"] == "standard"
    assert_totals(order, SUBTOTAL_DE, STANDARD_DE, CARD_FEE_DE, TOTAL_DE_STANDARD)


def test_currency_change_reprices_and_payment_can_be_cleared(client: TestClient) -> None:
    order_id = checkout_cart(client)
    ok(patch(client, order_id, {"shippingAddress": {"sameAsBilling": False, "country": "FR"},
                                "shippingMethod": "standard"}))

    response = patch(client, order_id, {"currency": "USD"})
    order = ok(response)
    assert any("USD" in n["message"] for n in notices(response))
    assert order["currency"]["code"] == "USD"
    backpack = line_by_sku(order, "BAG-TRAIL-30")
    assert backpack["unitPrice"]["value"]["currency"]["code"] == "USD"
    assert dec(backpack["unitPrice"]["value"]["withTax"]) == Decimal("99.00")
    assert dec(line_by_sku(order, "TEE-MERINO-M-GRN")["unitPrice"]["value"]["withTax"]) == (
        Decimal("58.00"))
    assert dec(line_by_sku(order, "MAP-ALPS")["unitPrice"]["value"]["withTax"]) == (
        Decimal("14.00"))
    assert value_of(backpack["totalPrice"]) == BACKPACK_USD_2
    assert value_of(line_by_sku(order, "TEE-MERINO-M-GRN")["totalPrice"]) == GREEN_TEE_USD_2
    assert value_of(line_by_sku(order, "MAP-ALPS")["totalPrice"]) == MAP_USD_4
    assert_totals(order, SUBTOTAL_USD, STANDARD_USD, CARD_FEE_USD, TOTAL_USD)
    assert order["transactionAmount"]["value"]["currency"]["code"] == "USD"

    # "paymentMethod": null removes the method and its fee
    response = patch(client, order_id, {"paymentMethod": None})
    order = ok(response)
    assert order["paymentInfo"]["paymentMethod"] is None
    assert_totals(order, SUBTOTAL_USD, STANDARD_USD, ZERO, TOTAL_USD_NO_PAYMENT)
    # leaving the field out keeps whatever is set
    order = ok(patch(client, order_id, {"shippingMethod": "standard"}))
    assert order["paymentInfo"]["paymentMethod"] is None
    assert_totals(order, SUBTOTAL_USD, STANDARD_USD, ZERO, TOTAL_USD_NO_PAYMENT)
    assert get(client, order_id) == order


def test_a_currency_without_a_shipping_price_drops_the_method(client: TestClient) -> None:
    order_id = checkout_cart(client)  # courier (EUR prices only), card, shipped to DE
    response = patch(client, order_id, {"currency": "USD"})
    order = ok(response)
    warnings = [n for n in notices(response) if n["type"] == "Warning"]
    assert any("Local courier" in n["message"] for n in warnings), warnings
    assert order["shippingInfo"]["shippingMethod"] is None
    assert order["shippingInfo"]["shippingOption"] is None
    assert value_of(line_by_sku(order, "BAG-TRAIL-30")["totalPrice"]) == BACKPACK_USD_DE_2
    # Merino M Green USD 58.00 in DE: 58.00 / 1.19 = 48.7394… -> 48.74; x2 = 97.48
    assert value_of(line_by_sku(order, "TEE-MERINO-M-GRN")["totalPrice"]) == (
        m("97.48", "18.52", "116.00"))
    # Alps Trail Map USD 14.00 in DE (7 %): 14.00 / 1.07 = 13.0841… -> 13.08; x4 = 52.32
    assert value_of(line_by_sku(order, "MAP-ALPS")["totalPrice"]) == (
        m("52.32", "3.68", "56.00"))
    # 166.38+97.48+52.32 = 316.18; 31.62+18.52+3.68 = 53.82; 198+116+56 = 370.00
    # + card 0.50 / 1.19 -> 0.42, tax 0.08: 316.60, 53.90, 370.50
    assert_totals(order, m("316.18", "53.82", "370.00"), ZERO, CARD_FEE_DE,
                  m("316.60", "53.90", "370.50"))


def test_line_prices_return_to_the_euro_catalog_after_a_round_trip(client: TestClient) -> None:
    order_id = cart_with_three_lines(client)
    ok(patch(client, order_id, {"shippingAddress": {"sameAsBilling": False, "country": "FR"},
                                "shippingMethod": "standard"}))
    usd = ok(patch(client, order_id, {"currency": "USD"}))
    assert dec(line_by_sku(usd, "BAG-TRAIL-30")["unitPrice"]["value"]["withTax"]) == (
        Decimal("99.00"))

    order = ok(patch(client, order_id, {"currency": "EUR"}))
    assert order["currency"]["code"] == "EUR"
    catalog = {"BAG-TRAIL-30": Decimal("89.95"), "TEE-MERINO-M-GRN": Decimal("52.00"),
               "MAP-ALPS": Decimal("12.90")}
    for line in order["orderLines"]:
        unit = line["unitPrice"]["value"]
        assert unit["currency"]["code"] == "EUR"
        assert dec(unit["withTax"]) == catalog[line["sku"]], line["sku"]
    assert value_of(line_by_sku(order, "BAG-TRAIL-30")["totalPrice"]) == BACKPACK_FR_2
    assert value_of(line_by_sku(order, "TEE-MERINO-M-GRN")["totalPrice"]) == GREEN_TEE_FR_2
    assert value_of(line_by_sku(order, "MAP-ALPS")["totalPrice"]) == MAP_FR_4
    assert_totals(order, SUBTOTAL_FR, STANDARD_FR, ZERO, TOTAL_FR_NO_PAYMENT)

    # later reads and unrelated changes keep the frozen prices
    again = ok(patch(client, order_id, {"tags": ["gift"]}))
    assert [dec(line["unitPrice"]["value"]["withTax"]) for line in again["orderLines"]] == [
        Decimal("89.95"), Decimal("52.00"), Decimal("12.90")]
    assert value_of(again["totalPrice"]) == TOTAL_FR_NO_PAYMENT
    assert get(client, order_id)["orderLines"] == again["orderLines"]
