"""Who may call the API, and what every failure looks like: an RFC 9457 problem document."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.api.conftest import BASE
from tests.conftest import API_KEY, OLD_API_KEY

PROBLEM_JSON = "application/problem+json"
COUNTRIES = f"{BASE}/v1/countries"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """A problem document a client can show: JSON, never a page or a stack trace."""
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, f"{where}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM_JSON), where
    assert "Traceback" not in response.text, where
    assert "<html" not in response.text.lower(), where
    doc: dict[str, Any] = response.json()
    assert doc["status"] == status, where
    assert isinstance(doc["type"], str) and doc["type"], where
    assert isinstance(doc["title"], str) and doc["title"], where
    assert isinstance(doc["detail"], str) and doc["detail"].strip(), where
    return doc


# --- Api-Key --------------------------------------------------------------------------


def test_missing_api_key_is_401(client: TestClient) -> None:
    doc = assert_problem(client.get(COUNTRIES, headers={"Api-Key": ""}), 401)
    assert "Api-Key" in doc["detail"]
    assert doc["title"] == "Unauthorized"
    # also where no Store header is needed, and before the Store header is looked at
    assert_problem(client.get(f"{BASE}/v1/store/demo", headers={"Api-Key": ""}), 401)
    assert_problem(client.get(COUNTRIES, headers={"Api-Key": "", "Store": ""}), 401)


def test_wrong_api_keys_are_401(client: TestClient) -> None:
    near_misses = [
        "not-the-key",
        API_KEY[:-1] + ("0" if API_KEY[-1] != "0" else "1"),  # last character differs
        API_KEY[:-1],  # a prefix
        API_KEY + "0",  # a longer key
        API_KEY.upper(),
    ]
    missing = assert_problem(client.get(COUNTRIES, headers={"Api-Key": ""}), 401)
    for key in near_misses:
        response = client.get(COUNTRIES, headers={"Api-Key": key})
        doc = assert_problem(response, 401)
        assert key not in response.text, "the supplied key is echoed back"
        assert doc["type"] != missing["type"], "a wrong key reads like a missing one"
    assert_problem(client.get(f"{BASE}/v1/products", headers={"Api-Key": "x"}), 401)


def test_both_configured_keys_work_for_rotation(client: TestClient) -> None:
    for key in (API_KEY, OLD_API_KEY):
        response = client.get(COUNTRIES, headers={"Api-Key": key})
        assert response.status_code == 200, response.text
        assert [c["code"] for c in response.json()] == ["DE", "FR", "GB", "US"]


# --- Store ----------------------------------------------------------------------------


def test_missing_store_header_is_400(client: TestClient) -> None:
    for value in ("", "   "):
        doc = assert_problem(client.get(COUNTRIES, headers={"Store": value}), 400)
        assert "Store" in doc["detail"]


def test_unknown_store_is_404(client: TestClient) -> None:
    doc = assert_problem(client.get(COUNTRIES, headers={"Store": "elsewhere"}), 404)
    assert "elsewhere" in doc["detail"]
    assert_problem(client.get(COUNTRIES,
                              headers={"Store": "00000000-0000-0000-0000-000000000000"}), 404)


def test_store_header_by_id_or_alias_in_any_case(client: TestClient) -> None:
    store_id = client.get(f"{BASE}/v1/store/demo").json()["id"]
    expected = client.get(COUNTRIES).json()
    for store in (store_id, store_id.upper(), "DEMO"):
        response = client.get(COUNTRIES, headers={"Store": store})
        assert response.status_code == 200, response.text
        assert response.json() == expected


# --- routing --------------------------------------------------------------------------


def test_unknown_routes_are_json_404(client: TestClient) -> None:
    for path in (f"{BASE}/v1/nothing-here", f"{BASE}/v3/countries", "/", "/wp-login.php"):
        doc = assert_problem(client.get(path), 404)
        assert path in doc["detail"]


def test_wrong_method_is_json_405(client: TestClient) -> None:
    doc = assert_problem(client.post(COUNTRIES, json={}), 405)
    assert "POST" in doc["detail"]
    assert_problem(client.delete(f"{BASE}/v1/country/DE"), 405)
    assert_problem(client.put(f"{BASE}/v2/paymentmethod/card", json={}), 405)


def test_oversized_body_is_413(client: TestClient) -> None:
    two_megabytes = b"x" * (2 * 1024 * 1024)
    for path in (COUNTRIES, f"{BASE}/v1/nothing-here", "/"):
        doc = assert_problem(client.post(path, content=two_megabytes), 413)
        assert "1048576" in doc["detail"]
    assert_problem(client.put(f"{BASE}/v1/country/DE", content=two_megabytes,
                              headers={"Api-Key": ""}), 413)


# --- every failure is a problem document ------------------------------------------------


def test_every_client_error_is_a_problem_document(client: TestClient) -> None:
    """A sweep over the ways a storefront can get a request wrong."""
    country = f"{BASE}/v1/country"
    products = f"{BASE}/v1/products"
    cases: list[tuple[int, str, dict[str, Any], dict[str, str]]] = [
        (401, COUNTRIES, {}, {"Api-Key": ""}),
        (401, COUNTRIES, {}, {"Api-Key": "wrong"}),
        (400, COUNTRIES, {}, {"Store": ""}),
        (404, COUNTRIES, {}, {"Store": "nowhere"}),
        (404, f"{BASE}/v1/store/nowhere", {}, {}),
        (404, f"{country}/ZZ", {}, {}),
        (404, f"{country}/US/region/ZZ/paymentmethods", {}, {}),
        (404, f"{BASE}/v1/currency/XYZ", {}, {}),
        (404, f"{BASE}/v2/paymentmethod/nope", {}, {}),
        (404, f"{BASE}/v2/shippingmethod/nope", {}, {}),
        (404, products, {"productReference": "nope"}, {}),
        (404, products, {"productReference": "merino-tee:nope"}, {}),
        (400, products, {"productReference": ":"}, {}),
        (400, products, {"take": "0"}, {}),
        (400, products, {"take": "lots"}, {}),
        (400, products, {"CalculateAdjustedPrices": "maybe"}, {}),
        (400, products, {"AdjustedPriceCalculationQuantity": "NaN",
                         "productReference": "trail-backpack"}, {}),
        (400, COUNTRIES, {"filter": "sortBy:name"}, {}),
        (400, COUNTRIES, {"expand": "a[b"}, {}),
        (400, COUNTRIES, {"fields": "]"}, {}),
        (400, COUNTRIES, {}, {"Currency": "XYZ"}),
        (400, COUNTRIES, {}, {"Shipping-Country": "ZZ"}),
        (400, COUNTRIES, {}, {"Billing-Region": "CA"}),
        (400, COUNTRIES, {}, {"Tax-Class": "nope"}),
        (404, f"{BASE}/nope", {}, {}),
    ]
    for status, url, params, headers in cases:
        assert_problem(client.get(url, params=params, headers=headers), status)
