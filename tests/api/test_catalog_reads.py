"""Every catalog read endpoint against the demo store (src/kasse/demo/demo-store.yaml).

Amounts are read from the JSON as ``Decimal`` so that money is compared exactly. Every
response passes through ``get``, which also checks that the card payment method's secret
setting never leaves the server.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.api.conftest import BASE

SECRET = "demo-signing-secret-change-me"
NBSP = "\u00a0"
PROBLEM_JSON = "application/problem+json"
D = Decimal
CATALOG_ORDER = [
    "trail-backpack", "merino-tee", "rain-jacket", "water-bottle", "trail-map", "guide-book",
    "headlamp", "trekking-poles", "wool-socks", "camp-mug", "energy-bar", "first-aid-kit",
    "gift-card-50",
]


def get(client: TestClient, path: str, params: Any = None,
        headers: dict[str, str] | None = None, status: int = 200) -> httpx.Response:
    response = client.get(BASE + path, params=params, headers=headers)
    assert SECRET not in response.text, f"{path} leaks the payment method secret"
    assert response.status_code == status, f"{path}: {response.status_code} {response.text}"
    return response


def body(response: httpx.Response) -> Any:
    """The JSON body with every non-integer number as an exact Decimal."""
    return json.loads(response.text, parse_float=Decimal)


def read(client: TestClient, path: str, params: Any = None,
         headers: dict[str, str] | None = None) -> Any:
    response = get(client, path, params, headers)
    assert response.headers["content-type"].startswith("application/json")
    return body(response)


def problem(client: TestClient, path: str, status: int, params: Any = None,
            headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = get(client, path, params, headers, status=status)
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    doc = response.json()
    assert doc["status"] == status
    assert doc["type"] and doc["title"] and doc["detail"]
    return doc


def aliases(items: list[dict[str, Any]]) -> list[str]:
    return [item["alias"] for item in items]


def codes(items: list[dict[str, Any]]) -> list[str]:
    return [item["code"] for item in items]


def ids(client: TestClient, path: str) -> dict[str, str]:
    """alias/code -> id of the items listed at path."""
    return {item.get("alias") or item["code"]: item["id"] for item in read(client, path)}


def assert_price(price: dict[str, Any], currency: str, with_tax: str, without_tax: str,
                 tax: str) -> None:
    assert price["currency"]["$type"] == "CurrencyRef"
    assert price["currency"]["code"] == currency
    assert (price["withTax"], price["withoutTax"], price["tax"]) == (
        D(with_tax), D(without_tax), D(tax))


# --- store ------------------------------------------------------------------------


def test_store_by_alias_shows_refs_to_its_defaults(client: TestClient) -> None:
    store = read(client, "/v1/store/demo")
    country_ids = ids(client, "/v1/countries")
    currency_ids = ids(client, "/v1/currencies")

    assert store["$type"] == "Store"
    assert store["alias"] == "demo"
    assert store["name"] == "Kasse Outfitters"
    assert store["pricesIncludeTax"] is True
    assert store["defaultCountry"] == {"$type": "CountryRef", "id": country_ids["DE"],
                                       "code": "DE"}
    assert store["baseCurrency"] == {"$type": "CurrencyRef", "id": currency_ids["EUR"],
                                     "code": "EUR"}
    assert store["defaultTaxClass"]["$type"] == "TaxClassRef"
    assert store["defaultTaxClass"]["alias"] == "standard"


def test_store_by_id_is_the_same_store(client: TestClient) -> None:
    by_alias = read(client, "/v1/store/demo")
    assert read(client, f"/v1/store/{by_alias['id']}") == by_alias
    assert read(client, f"/v1/store/{by_alias['id'].upper()}") == by_alias
    assert read(client, "/v1/store/DEMO") == by_alias
    # The reference declares no Store header on this operation: the path names the store.
    assert read(client, "/v1/store/demo", headers={"Store": ""}) == by_alias


def test_store_expand_gives_full_objects(client: TestClient) -> None:
    store = read(client, "/v1/store/demo", {"expand": "defaultCountry,baseCurrency"})

    country = store["defaultCountry"]
    assert country["$type"] == "Country"
    assert (country["code"], country["name"]) == ("DE", "Germany")
    assert country["defaultCurrency"]["$type"] == "CurrencyRef"  # not asked to expand
    currency = store["baseCurrency"]
    assert currency["$type"] == "Currency"
    assert (currency["code"], currency["name"], currency["symbol"]) == ("EUR", "Euro", "€")
    assert store["defaultTaxClass"]["$type"] == "TaxClassRef"


def test_unknown_store_is_404(client: TestClient) -> None:
    doc = problem(client, "/v1/store/no-such-store", 404)
    assert "no-such-store" in doc["detail"]


# --- countries --------------------------------------------------------------------


def test_countries_in_store_order_with_defaults_and_regions(client: TestClient) -> None:
    countries = read(client, "/v1/countries")
    assert codes(countries) == ["DE", "FR", "GB", "US"]
    assert [c["name"] for c in countries] == ["Germany", "France", "United Kingdom",
                                              "United States"]
    by_code = {c["code"]: c for c in countries}
    assert by_code["DE"]["defaultCurrency"]["code"] == "EUR"
    assert by_code["GB"]["defaultCurrency"]["code"] == "GBP"
    assert by_code["DE"]["defaultPaymentMethod"]["alias"] == "invoicing"
    assert by_code["FR"]["defaultPaymentMethod"]["alias"] == "card"
    assert by_code["US"]["defaultShippingMethod"] == {
        "$type": "ShippingMethodRef", "id": ids(client, "/v2/shippingmethods")["standard"],
        "alias": "standard"}
    assert by_code["DE"]["regions"] == []
    regions = by_code["US"]["regions"]
    assert [r["$type"] for r in regions] == ["RegionRef"] * 3
    assert codes(regions) == ["CA", "NY", "TX"]
    assert all(r["id"] for r in regions)


def test_country_by_code_any_case_and_by_id(client: TestClient) -> None:
    us = read(client, "/v1/country/US")
    assert (us["code"], us["name"]) == ("US", "United States")
    assert read(client, "/v1/country/us") == us
    assert read(client, f"/v1/country/{us['id']}") == us
    assert "ZZ" in problem(client, "/v1/country/ZZ", 404)["detail"]
    problem(client, "/v1/country/00000000-0000-0000-0000-000000000000", 404)


def test_currencies_allowed_in_a_country(client: TestClient) -> None:
    assert codes(read(client, "/v1/country/DE/currencies")) == ["EUR"]
    assert codes(read(client, "/v1/country/US/currencies")) == ["USD"]
    assert codes(read(client, "/v1/country/gb/currencies")) == ["GBP"]
    problem(client, "/v1/country/ZZ/currencies", 404)


def test_payment_methods_allowed_in_a_country(client: TestClient) -> None:
    assert aliases(read(client, "/v1/country/DE/paymentmethods")) == [
        "invoicing", "card", "zero-value"]
    us = read(client, "/v1/country/US/paymentmethods")
    assert aliases(us) == ["card", "zero-value"]
    assert us[0]["paymentProviderAlias"] == "testgateway"
    problem(client, "/v1/country/ZZ/paymentmethods", 404)


def test_shipping_methods_allowed_in_a_country(client: TestClient) -> None:
    assert aliases(read(client, "/v1/country/DE/shippingmethods")) == [
        "standard", "express", "courier"]
    assert aliases(read(client, "/v1/country/GB/shippingmethods")) == ["standard", "express"]
    # express is allowed only in listed US regions, not in the US as a whole
    assert aliases(read(client, "/v1/country/US/shippingmethods")) == ["standard"]
    problem(client, "/v1/country/ZZ/shippingmethods", 404)


def test_methods_allowed_in_a_region(client: TestClient) -> None:
    assert aliases(read(client, "/v1/country/US/region/CA/shippingmethods")) == [
        "standard", "express"]
    assert aliases(read(client, "/v1/country/us/region/ny/shippingmethods")) == [
        "standard", "express"]
    assert aliases(read(client, "/v1/country/US/region/CA/paymentmethods")) == [
        "card", "zero-value"]
    region_id = read(client, "/v1/country/US")["regions"][0]["id"]
    assert aliases(read(client, f"/v1/country/US/region/{region_id}/shippingmethods")) == [
        "standard", "express"]


def test_unknown_region_or_country_of_a_region_is_404(client: TestClient) -> None:
    assert "XX" in problem(client, "/v1/country/US/region/XX/shippingmethods", 404)["detail"]
    problem(client, "/v1/country/US/region/XX/paymentmethods", 404)
    problem(client, "/v1/country/ZZ/region/CA/shippingmethods", 404)
    problem(client, "/v1/country/DE/region/CA/paymentmethods", 404)  # CA is a US region


# --- currencies -------------------------------------------------------------------


def test_currencies_with_their_culture(client: TestClient) -> None:
    currencies = read(client, "/v1/currencies")
    assert codes(currencies) == ["EUR", "USD", "GBP"]
    shown = [(c["name"], c["symbol"], c["culture"], c["decimalPlaces"]) for c in currencies]
    assert shown == [("Euro", "€", "de-DE", 2), ("US Dollar", "$", "en-US", 2),
                     ("Pound Sterling", "£", "en-GB", 2)]
    eur = currencies[0]
    assert (eur["decimalSeparator"], eur["groupSeparator"]) == (",", ".")
    assert [a["country"]["code"] for a in eur["allowedCountries"]] == ["DE", "FR"]
    assert eur["allowedCountries"][0]["country"]["$type"] == "CountryRef"


def test_currencies_filtered_by_country(client: TestClient) -> None:
    assert codes(read(client, "/v1/currencies", {"filter": "allowedInCountry:GB"})) == ["GBP"]
    assert codes(read(client, "/v1/currencies", {"filter": "allowedInCountry:fr"})) == ["EUR"]


def test_currency_by_code_and_by_id(client: TestClient) -> None:
    eur = read(client, "/v1/currency/EUR")
    assert (eur["code"], eur["name"], eur["symbol"]) == ("EUR", "Euro", "€")
    assert read(client, f"/v1/currency/{eur['id']}") == eur
    assert read(client, "/v1/currency/eur") == eur
    assert "XYZ" in problem(client, "/v1/currency/XYZ", 404)["detail"]


def test_bad_filters_are_400(client: TestClient) -> None:
    doc = problem(client, "/v1/currencies", 400, {"filter": "allowedInRegion:GB"})
    assert "allowedInRegion" in doc["detail"]
    problem(client, "/v1/currencies", 400, {"filter": "allowedInCountry:ZZ"})
    problem(client, "/v1/countries", 400, {"filter": "allowedInCountry:"})
    problem(client, "/v2/paymentmethods", 400, {"filter": "nonsense"})
    problem(client, "/v2/shippingmethods", 400, {"filter": "nonsense"})


# --- payment methods --------------------------------------------------------------

EUR_DE = {"Currency": "EUR", "Shipping-Country": "DE"}


def test_v1_payment_methods_carry_their_fee(client: TestClient) -> None:
    methods = read(client, "/v1/paymentmethods", headers=EUR_DE)
    assert aliases(methods) == ["invoicing", "card", "zero-value"]
    by_alias = {m["alias"]: m for m in methods}

    card = by_alias["card"]
    assert card["name"] == "Credit card (test gateway)"
    assert card["paymentProviderAlias"] == "testgateway"
    # prices include tax; the standard class at DE is 19 %
    assert_price(card["price"], "EUR", "0.50", "0.42", "0.08")
    assert card["price"]["formatted"]["withTax"] == f"0,50{NBSP}€"
    assert_price(by_alias["invoicing"]["price"], "EUR", "0", "0", "0")
    assert by_alias["zero-value"]["price"] is None  # no fee configured


def test_v1_payment_fee_follows_session_currency_and_country(client: TestClient) -> None:
    card = read(client, "/v1/paymentmethod/card",
                headers={"Currency": "GBP", "Shipping-Country": "GB"})
    assert_price(card["price"], "GBP", "0.40", "0.33", "0.07")  # 20 % at GB
    assert card["price"]["formatted"]["withTax"] == "£0.40"


def test_v2_payment_methods_have_no_price(client: TestClient) -> None:
    methods = read(client, "/v2/paymentmethods", headers=EUR_DE)
    assert aliases(methods) == ["invoicing", "card", "zero-value"]
    assert all("price" not in m for m in methods)
    assert methods[1]["paymentProviderAlias"] == "testgateway"


def test_single_payment_method_by_alias_and_id(client: TestClient) -> None:
    v1 = read(client, "/v1/paymentmethod/card", headers=EUR_DE)
    v2 = read(client, "/v2/paymentmethod/card", headers=EUR_DE)
    assert v1["alias"] == v2["alias"] == "card"
    assert v1["price"]["withTax"] == D("0.50")
    assert "price" not in v2
    assert read(client, f"/v1/paymentmethod/{v1['id']}", headers=EUR_DE) == v1
    assert read(client, f"/v2/paymentmethod/{v1['id']}", headers=EUR_DE) == v2
    assert v2 == {k: v for k, v in v1.items() if k != "price"}
    problem(client, "/v1/paymentmethod/bitcoin", 404)
    problem(client, "/v2/paymentmethod/bitcoin", 404)


def test_payment_methods_filtered_by_country(client: TestClient) -> None:
    for version in ("v1", "v2"):
        us = read(client, f"/{version}/paymentmethods", {"filter": "allowedInCountry:US"})
        assert aliases(us) == ["card", "zero-value"], version
        gb = read(client, f"/{version}/paymentmethods", {"filter": "allowedInCountry:GB"})
        assert aliases(gb) == ["invoicing", "card", "zero-value"], version


# --- shipping methods -------------------------------------------------------------


def test_v1_shipping_methods_carry_their_price(client: TestClient) -> None:
    methods = read(client, "/v1/shippingmethods", headers=EUR_DE)
    assert aliases(methods) == ["standard", "express", "courier"]
    by_alias = {m["alias"]: m for m in methods}
    assert_price(by_alias["standard"]["price"], "EUR", "4.95", "4.16", "0.79")
    assert by_alias["standard"]["price"]["formatted"]["withTax"] == f"4,95{NBSP}€"
    assert_price(by_alias["express"]["price"], "EUR", "12.50", "10.50", "2.00")
    assert by_alias["courier"]["price"]["withTax"] == D("7.00")


def test_shipping_price_defaults_to_the_store_country(client: TestClient) -> None:
    standard = read(client, "/v1/shippingmethod/standard")  # no session headers at all
    assert_price(standard["price"], "EUR", "4.95", "4.16", "0.79")
    courier = read(client, "/v1/shippingmethod/courier", headers={"Currency": "USD"})
    assert courier["price"] is None  # courier is priced in EUR only


def test_express_to_california_in_dollars(client: TestClient) -> None:
    headers = {"Currency": "USD", "Shipping-Country": "US", "Shipping-Region": "CA"}
    express = read(client, "/v1/shippingmethod/express", headers=headers)
    assert_price(express["price"], "USD", "19.00", "17.72", "1.28")  # 7.25 % in CA
    assert express["price"]["formatted"]["withTax"] == "$19.00"
    listed = {m["alias"]: m for m in read(client, "/v1/shippingmethods", headers=headers)}
    assert listed["express"]["price"] == express["price"]


def test_v2_shipping_methods_and_single_reads(client: TestClient) -> None:
    methods = read(client, "/v2/shippingmethods", headers=EUR_DE)
    assert aliases(methods) == ["standard", "express", "courier"]
    assert all("price" not in m for m in methods)

    v1 = read(client, "/v1/shippingmethod/express", headers=EUR_DE)
    v2 = read(client, "/v2/shippingmethod/express", headers=EUR_DE)
    assert v1["name"] == v2["name"] == "Express delivery"
    assert "price" not in v2 and v1["price"]["withTax"] == D("12.50")
    assert read(client, f"/v1/shippingmethod/{v1['id']}", headers=EUR_DE) == v1
    assert read(client, f"/v2/shippingmethod/{v1['id']}", headers=EUR_DE) == v2
    problem(client, "/v1/shippingmethod/teleport", 404)
    problem(client, "/v2/shippingmethod/teleport", 404)


def test_shipping_methods_filtered_by_country(client: TestClient) -> None:
    for version in ("v1", "v2"):
        gb = read(client, f"/{version}/shippingmethods", {"filter": "allowedInCountry:GB"})
        assert aliases(gb) == ["standard", "express"], version
        de = read(client, f"/{version}/shippingmethods", {"filter": "allowedInCountry:DE"})
        assert aliases(de) == ["standard", "express", "courier"], version


# --- secrets ----------------------------------------------------------------------


def test_no_endpoint_reveals_the_payment_secret(client: TestClient) -> None:
    everything = "store,defaultPaymentMethod,defaultShippingMethod,taxClass,defaultCountry"
    calls: list[tuple[str, dict[str, str]]] = [
        ("/v1/store/demo", {"expand": "defaultCountry[defaultPaymentMethod]"}),
        ("/v1/countries", {"expand": everything}),
        ("/v1/country/DE", {"expand": everything}),
        ("/v1/country/DE/currencies", {}),
        ("/v1/country/DE/paymentmethods", {"expand": everything}),
        ("/v1/country/DE/shippingmethods", {}),
        ("/v1/country/US/region/CA/paymentmethods", {"expand": everything}),
        ("/v1/country/US/region/CA/shippingmethods", {}),
        ("/v1/currencies", {"expand": "allowedCountries[country[defaultPaymentMethod]]"}),
        ("/v1/currency/EUR", {}),
        ("/v1/paymentmethods", {"expand": everything}),
        ("/v2/paymentmethods", {"expand": everything}),
        ("/v1/paymentmethod/card", {"expand": everything}),
        ("/v2/paymentmethod/card", {"expand": everything}),
        ("/v1/shippingmethods", {}),
        ("/v2/shippingmethods", {}),
        ("/v1/shippingmethod/standard", {}),
        ("/v2/shippingmethod/standard", {}),
        ("/v1/products", {"includeVariants": "true", "take": "100"}),
        ("/v1/products", {"productReference": "trail-backpack"}),
    ]
    for path, params in calls:
        response = client.get(BASE + path, params=params)
        assert response.status_code == 200, (path, response.text)
        assert SECRET not in response.text, path
        assert "SigningSecret" not in response.text, path
    card = client.get(BASE + "/v2/paymentmethod/card", params={"expand": everything}).json()
    assert card["paymentProviderAlias"] == "testgateway"  # the card method itself is served


# --- products ---------------------------------------------------------------------


def product(client: TestClient, reference: str, headers: dict[str, str] | None = None,
            **params: str) -> dict[str, Any]:
    items = read(client, "/v1/products", {"productReference": reference, **params}, headers)
    assert len(items) == 1
    item: dict[str, Any] = items[0]
    return item


def test_product_price_in_the_default_country(client: TestClient) -> None:
    backpack = product(client, "trail-backpack")
    assert backpack["productReference"] == "trail-backpack"
    assert backpack["productVariantReference"] is None
    assert (backpack["sku"], backpack["name"]) == ("BAG-TRAIL-30", "Trail Backpack 30 L")
    assert_price(backpack["price"], "EUR", "89.95", "75.59", "14.36")
    assert backpack["price"]["formatted"] == {"withTax": f"89,95{NBSP}€",
                                              "withoutTax": f"75,59{NBSP}€",
                                              "tax": f"14,36{NBSP}€"}
    assert backpack["stock"] == 40
    assert backpack["imageUrl"] == "/demo/static/trail-backpack.svg"
    assert backpack["properties"]["description"] == "Light daypack with rain cover"
    assert backpack["taxClass"]["alias"] == "standard"
    assert backpack["isGiftCard"] is False
    assert backpack["attributes"] == []


def test_product_variant_with_its_own_price_and_attributes(client: TestClient) -> None:
    tee = product(client, "merino-tee:merino-tee-m-green")
    assert tee["productReference"] == "merino-tee"
    assert tee["productVariantReference"] == "merino-tee-m-green"
    assert (tee["sku"], tee["name"]) == ("TEE-MERINO-M-GRN", "Merino T-Shirt M Green")
    assert tee["price"]["withTax"] == D("52.00")
    assert tee["price"]["withoutTax"] + tee["price"]["tax"] == D("52.00")
    assert tee["stock"] == 8
    shown = [(a["name"]["name"], a["value"]["name"]) for a in tee["attributes"]]
    assert shown == [("Size", "M"), ("Colour", "Forest green")]
    assert tee["imageUrl"] == "/demo/static/merino-tee.svg"  # inherited from the product

    # a variant without a price of its own costs what its product costs
    black = product(client, "merino-tee:merino-tee-l-black")
    assert black["price"]["withTax"] == D("49.00")
    assert black["stock"] == 0


def test_several_products_come_back_in_requested_order(client: TestClient) -> None:
    params = [("productReference", "water-bottle"), ("productReference", "trail-backpack"),
              ("productReference", "merino-tee:merino-tee-m-green"),
              ("productReference", "camp-mug")]
    items = read(client, "/v1/products", params)
    assert [i["sku"] for i in items] == ["BTL-STEEL-750", "BAG-TRAIL-30", "TEE-MERINO-M-GRN",
                                         "MUG-ENAMEL"]
    comma = read(client, "/v1/products", {"productReference": "camp-mug,water-bottle"})
    assert [i["sku"] for i in comma] == ["MUG-ENAMEL", "BTL-STEEL-750"]


def test_unknown_product_or_variant_is_404(client: TestClient) -> None:
    assert "hoverboard" in problem(client, "/v1/products", 404,
                                   {"productReference": "hoverboard"})["detail"]
    doc = problem(client, "/v1/products", 404, {"productReference": "merino-tee:merino-tee-xxl"})
    assert "merino-tee-xxl" in doc["detail"]
    problem(client, "/v1/products", 404, [("productReference", "trail-backpack"),
                                          ("productReference", "hoverboard")])
    problem(client, "/v1/products", 400, {"productReference": "trail-backpack:"})


def test_product_price_in_dollars_in_the_us(client: TestClient) -> None:
    backpack = product(client, "trail-backpack", {"Currency": "USD", "Shipping-Country": "US"})
    assert_price(backpack["price"], "USD", "99.00", "99.00", "0")  # US rate 0
    assert backpack["price"]["formatted"]["withTax"] == "$99.00"


def test_product_price_in_california_includes_sales_tax(client: TestClient) -> None:
    # no Currency header: the shipping country's default currency (USD) applies
    backpack = product(client, "trail-backpack", {"Shipping-Country": "US",
                                                  "Shipping-Region": "CA"})
    assert backpack["price"]["withTax"] == D("99.00")  # prices include tax in this store
    assert backpack["price"]["tax"] > 0
    assert_price(backpack["price"], "USD", "99.00", "92.31", "6.69")  # 7.25 %


def test_product_tax_follows_billing_country_without_shipping_country(client: TestClient
                                                                      ) -> None:
    backpack = product(client, "trail-backpack", {"Billing-Country": "FR"})
    assert_price(backpack["price"], "EUR", "89.95", "74.96", "14.99")  # 20 % at FR


def test_product_own_tax_class_and_exempt_gift_card(client: TestClient) -> None:
    trail_map = product(client, "trail-map")
    assert trail_map["taxClass"]["alias"] == "reduced"
    assert_price(trail_map["price"], "EUR", "12.90", "12.06", "0.84")  # 7 % at DE
    gift = product(client, "gift-card-50")
    assert gift["isGiftCard"] is True
    assert_price(gift["price"], "EUR", "50.00", "50.00", "0")


def test_session_tax_class_is_the_one_shown_on_the_product(client: TestClient) -> None:
    # trail-backpack has no tax class of its own; the Tax-Class header sets the session
    # default, and the price is taxed at the reduced 7 %. The product must then also name
    # the class its price was taxed with, not the store default.
    backpack = product(client, "trail-backpack", {"Tax-Class": "reduced"})
    assert_price(backpack["price"], "EUR", "89.95", "84.07", "5.88")
    assert backpack["taxClass"]["alias"] == "reduced"


def test_adjusted_prices_for_two_units(client: TestClient) -> None:
    backpack = product(client, "trail-backpack", CalculateAdjustedPrices="true",
                       AdjustedPriceCalculationQuantity="2")
    unit = backpack["price"]
    adjusted = backpack["priceWithAdjustments"]
    assert adjusted["quantity"] == 2
    assert adjusted["adjustedUnitPrice"]["value"]["withTax"] == unit["withTax"]
    line = adjusted["adjustedLineTotalPrice"]["value"]
    assert line["withTax"] == 2 * unit["withTax"] == D("179.90")
    assert line["withoutTax"] == 2 * unit["withoutTax"]
    assert line["formatted"]["withTax"] == f"179,90{NBSP}€"
    assert "priceWithAdjustments" not in product(client, "trail-backpack")
    for quantity in ("0", "-1"):
        problem(client, "/v1/products", 400, {"productReference": "trail-backpack",
                                              "CalculateAdjustedPrices": "true",
                                              "AdjustedPriceCalculationQuantity": quantity})


def test_adjusted_line_total_is_rounded_to_the_currency(client: TestClient) -> None:
    # A fractional quantity must either be refused or give amounts a shopper can pay:
    # no more decimals than the currency has (EUR: 2), and the figure matches its text.
    response = client.get(BASE + "/v1/products", params={
        "productReference": "trail-backpack", "CalculateAdjustedPrices": "true",
        "AdjustedPriceCalculationQuantity": "1.5"})
    if response.status_code == 400:  # refused: fine, if it says so properly
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert "AdjustedPriceCalculationQuantity" in response.json()["detail"]
        return
    assert response.status_code == 200, response.text
    line = body(response)[0]["priceWithAdjustments"]["adjustedLineTotalPrice"]["value"]
    for part in ("withoutTax", "tax", "withTax"):
        amount = D(line[part])
        assert amount == amount.quantize(D("0.01")), f"{part} = {amount}"
        assert line["formatted"][part] == f"{amount:.2f}".replace(".", ",") + f"{NBSP}€"


# --- catalog listing (kasse extension) ----------------------------------------------


def listing(client: TestClient, **params: str) -> tuple[list[dict[str, Any]], int]:
    response = get(client, "/v1/products", params)
    return body(response), int(response.headers["X-Total-Count"])


def test_catalog_pages(client: TestClient) -> None:
    first, total = listing(client, take="5")
    assert total == 13
    assert [p["productReference"] for p in first] == CATALOG_ORDER[:5]
    assert first[0]["price"]["withTax"] == D("89.95")

    last, total = listing(client, skip="10", take="5")
    assert total == 13
    assert [p["productReference"] for p in last] == CATALOG_ORDER[10:]

    everything, total = listing(client)
    assert [p["productReference"] for p in everything] == CATALOG_ORDER
    assert all(p["productVariantReference"] is None for p in everything)


def test_catalog_text_search(client: TestClient) -> None:
    found, total = listing(client, q="merino")
    assert total == 1
    assert [p["productReference"] for p in found] == ["merino-tee"]
    assert [p["sku"] for p in listing(client, q="MERINO")[0]] == ["TEE-MERINO"]
    assert [p["sku"] for p in listing(client, q="BOOK-HUTS")[0]] == ["BOOK-HUTS"]
    # LIKE wildcards are searched for literally
    assert listing(client, q="_") == ([], 0)
    assert listing(client, q="%") == ([], 0)


def test_catalog_with_variants_after_their_product(client: TestClient) -> None:
    items, total = listing(client, take="2", includeVariants="true")
    assert total == 13
    assert [(p["productReference"], p["productVariantReference"]) for p in items] == [
        ("trail-backpack", None),
        ("merino-tee", None),
        ("merino-tee", "merino-tee-s-black"),
        ("merino-tee", "merino-tee-m-black"),
        ("merino-tee", "merino-tee-m-green"),
        ("merino-tee", "merino-tee-l-black"),
    ]
    assert items[4]["price"]["withTax"] == D("52.00")


def test_bad_catalog_page_requests_are_400(client: TestClient) -> None:
    for params in ({"take": "0"}, {"take": "1000"}, {"take": "101"}, {"skip": "-1"},
                   {"take": "five"}, {"includeVariants": "perhaps"}, {"q": "x" * 201}):
        doc = problem(client, "/v1/products", 400, params)
        assert next(iter(params)) in doc["detail"], doc


def test_nul_characters_are_not_server_errors(client: TestClient) -> None:
    # A NUL byte is refused (400) or an unknown store / product (404), never a 500
    # (PostgreSQL refuses NUL in text parameters), and as search text never a match for
    # everything.
    wrong = []
    for path, params in [("/v1/store/%00", None), ("/v1/products", {"productReference": "\x00"})]:
        response = client.get(BASE + path, params=params)
        if response.status_code not in (400, 404) or not response.headers[
                "content-type"].startswith(PROBLEM_JSON):
            wrong.append(f"{path} {params}: {response.status_code}, expected a 400/404 problem")
    response = client.get(BASE + "/v1/products", params={"q": "\x00"})
    if response.status_code == 200:
        total = response.headers["X-Total-Count"]
        if total != "0":
            wrong.append(f"q=NUL matches {total} products, expected none")
    elif response.status_code != 400:
        wrong.append(f"q=NUL: {response.status_code}, expected 200 with no match or 400")
    assert not wrong, "\n".join(wrong)


# --- fields and expand ------------------------------------------------------------


def test_fields_limits_the_properties(client: TestClient) -> None:
    countries = read(client, "/v1/countries", {"fields": "code,name"})
    assert codes(countries) == ["DE", "FR", "GB", "US"]
    assert all(set(c) == {"$type", "id", "code", "name"} for c in countries)

    items = read(client, "/v1/products", {"productReference": "trail-backpack",
                                          "fields": "sku,price[withTax]"})
    assert items == [{"sku": "BAG-TRAIL-30", "price": {"withTax": D("89.95")}}]


def test_nested_expand(client: TestClient) -> None:
    countries = read(client, "/v1/countries", {"expand": "defaultCurrency[allowedCountries]"})
    de = countries[0]
    currency = de["defaultCurrency"]
    assert currency["$type"] == "Currency"
    assert (currency["code"], currency["symbol"]) == ("EUR", "€")
    assert [a["country"] for a in currency["allowedCountries"]] == [
        {"$type": "CountryRef", "id": countries[0]["id"], "code": "DE"},
        {"$type": "CountryRef", "id": countries[1]["id"], "code": "FR"}]
    assert de["defaultPaymentMethod"]["$type"] == "PaymentMethodRef"  # not expanded

    # each allowed country is an AllowedCountry whose `country` property is the reference
    deeper = read(client, "/v1/country/DE",
                  {"expand": "defaultCurrency[allowedCountries[country]]"})
    allowed = [a["country"] for a in deeper["defaultCurrency"]["allowedCountries"]]
    assert [(c["$type"], c["code"], c["name"]) for c in allowed] == [
        ("Country", "DE", "Germany"), ("Country", "FR", "France")]
    us = read(client, "/v1/country/US", {"expand": "regions"})
    assert [(r["$type"], r["name"]) for r in us["regions"]] == [
        ("Region", "California"), ("Region", "New York"), ("Region", "Texas")]
    assert us["regions"][2]["defaultShippingMethod"]["alias"] == "express"


def test_malformed_fields_or_expand_is_400(client: TestClient) -> None:
    for query in ({"expand": "a[b"}, {"expand": "a]"}, {"expand": "[a]"},
                  {"fields": "code[name"}, {"expand": "a[" * 9 + "b" + "]" * 9}):
        doc = problem(client, "/v1/countries", 400, query)
        assert next(iter(query)) in doc["detail"], doc


# --- session headers --------------------------------------------------------------


def test_unknown_session_header_values_are_400_naming_the_header(client: TestClient) -> None:
    doc = problem(client, "/v1/countries", 400, headers={"Currency": "XYZ"})
    assert "Currency" in doc["detail"] and "XYZ" in doc["detail"]
    problem(client, "/v1/products", 400, {"productReference": "trail-backpack"},
            headers={"Currency": "XYZ"})
    problem(client, "/v1/store/demo", 400, headers={"Currency": "XYZ"})
    doc = problem(client, "/v1/countries", 400, headers={"Shipping-Country": "ZZ"})
    assert "Shipping-Country" in doc["detail"]
    assert "Billing-Country" in problem(client, "/v1/countries", 400,
                                        headers={"Billing-Country": "ZZ"})["detail"]
    doc = problem(client, "/v1/countries", 400,
                  headers={"Shipping-Country": "DE", "Shipping-Region": "CA"})
    assert "Shipping-Region" in doc["detail"]
    doc = problem(client, "/v1/countries", 400, headers={"Shipping-Region": "CA"})
    assert "Shipping-Region" in doc["detail"]
    assert "Tax-Class" in problem(client, "/v1/countries", 400,
                                  headers={"Tax-Class": "luxury"})["detail"]


def test_session_headers_accept_codes_in_any_case_ids_and_languages(client: TestClient
                                                                     ) -> None:
    usd_id = ids(client, "/v1/currencies")["USD"]
    for currency in ("usd", usd_id):
        price = product(client, "trail-backpack", {"Currency": currency})["price"]
        assert (price["currency"]["code"], price["withTax"]) == ("USD", D("99.00"))
    assert codes(read(client, "/v1/countries", headers={"Accept-Language": "*"})) == [
        "DE", "FR", "GB", "US"]
    read(client, "/v1/countries", {"LanguageIsoCode": "de-DE"},
         headers={"Accept-Language": "en-GB,en;q=0.8"})


def test_a_countrys_methods_are_priced_for_that_country(client: TestClient) -> None:
    """Without session headers, /country/US/… shows US dollars and US (CA) tax."""
    methods = client.get(f"{BASE}/v1/country/US/region/CA/shippingmethods").json()
    express = next(m for m in methods if m["alias"] == "express")
    assert express["price"]["currency"]["code"] == "USD"
    assert express["price"]["withTax"] == 19.0
    assert express["price"]["tax"] == 1.28  # 19.00 includes 7.25 % California tax
    # An explicit session currency still wins.
    methods = client.get(f"{BASE}/v1/country/US/shippingmethods",
                         headers={"Currency": "EUR"}).json()
    standard = next(m for m in methods if m["alias"] == "standard")
    assert standard["price"]["currency"]["code"] == "EUR"
    assert standard["price"]["tax"] == 0  # US rate 0
