"""Text no one can print: lone UTF-16 surrogates and C1 control characters. Each is refused
with a 400 problem document naming the field, and nothing that was stored changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import BASE

SURROGATE = "\ud800"
"""A lone high surrogate; ``json.dumps`` writes it as the escape ``\\ud800``."""


def _cart(client: TestClient) -> tuple[str, str]:
    order_id: str = client.post(f"{BASE}/v1/orders", json={}).json()["id"]
    response = client.post(f"{BASE}/v1/order/{order_id}",
                           json={"productReference": "camp-mug", "quantity": 2})
    line_id: str = response.json()["orderLines"][0]["id"]
    client.patch(f"{BASE}/v1/order/{order_id}", json={
        "customer": {"firstName": "Ada", "email": "ada@example.com"},
        "paymentMethod": "invoicing", "shippingMethod": "standard"})
    return order_id, line_id


def _order(client: TestClient, order_id: str) -> dict[str, Any]:
    response = client.get(f"{BASE}/v1/order/{order_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _refused(response: Any) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 400 and body["detail"]
    assert "Traceback" not in response.text
    detail: str = body["detail"]
    return detail


# (method, path under the order, body with the text put in, the field the detail names)
Body = Callable[[str], Any]
REQUESTS: list[tuple[str, str, Body, str]] = [
    ("PATCH", "", lambda s: {"customer": {"firstName": s}}, "customer.firstName"),
    ("PATCH", "", lambda s: {"customer": {"email": f"a{s}@example.com"}}, "customer.email"),
    ("PATCH", "", lambda s: {"customer": {"company": s}}, "customer.company"),
    ("PATCH", "", lambda s: {"billingAddress": {"line1": s}}, "billingAddress.line1"),
    ("PATCH", "", lambda s: {"billingAddress": {"city": s}}, "billingAddress.city"),
    ("PATCH", "", lambda s: {"billingAddress": {"zipCode": s}}, "billingAddress.zipCode"),
    ("PATCH", "", lambda s: {"shippingAddress": {"sameAsBilling": False, "line2": s}},
     "shippingAddress.line2"),
    ("PATCH", "", lambda s: {"shippingAddress": {"sameAsBilling": False,
                                                 "contact": {"lastName": s}}},
     "shippingAddress.contact.lastName"),
    ("PATCH", "", lambda s: {"customerReference": f"cust-{s}"}, "customerReference"),
    ("PATCH", "", lambda s: {"properties": {"note": s}}, "properties.note"),
    ("PATCH", "", lambda s: {"properties": {f"k{s}": "x"}}, "properties"),
    ("PATCH", "", lambda s: {"redeem": [f"CODE{s}"]}, "redeem.0"),
    ("PATCH", "", lambda s: {"tags": ["vip", s]}, "tags.1"),
    ("PATCH", "", lambda s: {"language": s}, "language"),
    ("POST", "", lambda s: {"productReference": f"camp-mug{s}", "quantity": 1},
     "productReference"),
    ("POST", "", lambda s: {"productReference": "camp-mug", "quantity": 1,
                            "properties": {"engraving": s}}, "properties.engraving"),
    ("POST", "", lambda s: {"productReference": "camp-mug", "quantity": 1, "bundleId": s},
     "bundleId"),
    ("PATCH", "/items", lambda s: [{"id": "{line}", "properties": {"gift": s}}],
     "0.properties.gift"),
    ("PATCH", "/item/{line}", lambda s: {"properties": {"gift": s}}, "properties.gift"),
]


def _send(client: TestClient, method: str, path: str, text: str) -> Any:
    return client.request(method, path, content=text,
                          headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(("method", "path", "body", "field"), REQUESTS,
                         ids=[f"{m} {p or '/'} {f}" for m, p, _, f in REQUESTS])
def test_lone_surrogates_in_order_requests_are_400(client: TestClient, method: str, path: str,
                                                   body: Body, field: str) -> None:
    order_id, line_id = _cart(client)
    before = _order(client, order_id)
    text = json.dumps(body(SURROGATE)).replace("{line}", line_id)
    assert "\\ud800" in text  # the escape, as a client sends it
    url = f"{BASE}/v1/order/{order_id}{path.replace('{line}', line_id)}"
    detail = _refused(_send(client, method, url, text))
    assert field in detail
    assert _order(client, order_id) == before


@pytest.mark.parametrize("raw", [
    b'{"customer": {"firstName": "A\xed\xa0\x80"}}',  # U+D800 in UTF-8's shape
    '{"customer": {"firstName": "A\ud800"}}'.encode("utf-16-le", "surrogatepass"),
], ids=["utf-8-shaped", "utf-16"])
def test_a_surrogate_sent_as_raw_bytes_is_400(client: TestClient, raw: bytes) -> None:
    order_id, _ = _cart(client)
    before = _order(client, order_id)
    response = client.patch(f"{BASE}/v1/order/{order_id}", content=raw,
                            headers={"Content-Type": "application/json"})
    assert "customer.firstName" in _refused(response)
    assert _order(client, order_id) == before


def test_surrogate_pairs_are_kept(client: TestClient) -> None:
    order_id, _ = _cart(client)
    text = '{"customer": {"firstName": "Ada \\ud83d\\ude00"}}'  # an escaped emoji
    response = _send(client, "PATCH", f"{BASE}/v1/order/{order_id}", text)
    assert response.status_code == 200, response.text
    assert _order(client, order_id)["customerInfo"]["firstName"] == "Ada \U0001F600"


def test_a_new_order_with_a_lone_surrogate_is_400(client: TestClient) -> None:
    text = json.dumps({"customerReference": f"cust-{SURROGATE}"})
    detail = _refused(_send(client, "POST", f"{BASE}/v1/orders", text))
    assert "customerReference" in detail


@pytest.mark.parametrize(("extra", "field"), [
    ({"transactionId": f"tx-{SURROGATE}"}, "transactionId"),
    ({"metaData": {"card": SURROGATE}}, "metaData.card"),
])
def test_a_confirmation_with_a_lone_surrogate_is_400(client: TestClient, extra: dict[str, Any],
                                                     field: str) -> None:
    order_id, _ = _cart(client)
    assert client.get(f"{BASE}/v1/checkout/{order_id}/initialize").status_code == 200
    before = _order(client, order_id)
    body = {"amount": before["transactionAmount"]["value"]["value"], "transactionId": "tx-1",
            "paymentStatus": "Authorized", **extra}
    detail = _refused(_send(client, "POST", f"{BASE}/v1/checkout/{order_id}/confirm",
                            json.dumps(body)))
    assert field in detail
    after = _order(client, order_id)
    assert after == before and not after["isFinalized"]


# --- C1 control characters (U+0080 to U+009F) -----------------------------------------

C1_REQUESTS: list[tuple[str, str, Body, str]] = [
    ("PATCH", "", lambda c: {"customer": {"firstName": f"Ada{c}"}}, "customer.firstName"),
    ("PATCH", "", lambda c: {"customer": {"lastName": c}}, "customer.lastName"),
    ("PATCH", "", lambda c: {"customer": {"email": f"a{c}@example.com"}}, "customer.email"),
    ("PATCH", "", lambda c: {"billingAddress": {"city": f"Ber{c}lin"}}, "billingAddress.city"),
    ("PATCH", "", lambda c: {"shippingAddress": {"sameAsBilling": False,
                                                 "contact": {"firstName": c}}},
     "shippingAddress.contact.firstName"),
    ("PATCH", "", lambda c: {"customerReference": f"cust{c}1"}, "customerReference"),
    ("PATCH", "", lambda c: {"properties": {"note": f"line one{c}line two"}},
     "properties.note"),
    ("PATCH", "", lambda c: {"properties": {f"bad{c}name": "x"}}, "properties"),
    ("PATCH", "", lambda c: {"tags": [f"vip{c}"]}, "tags"),
    ("POST", "", lambda c: {"productReference": "camp-mug", "quantity": 1,
                            "properties": {"engraving": c}}, "properties.engraving"),
    ("POST", "", lambda c: {"productReference": "camp-mug", "quantity": 1,
                            "bundleId": f"b{c}"}, "bundleId"),
    ("PATCH", "/item/{line}", lambda c: {"properties": {"gift": c}}, "properties.gift"),
]


@pytest.mark.parametrize("control", ["\x80", "\x85", "\x9b", "\x9f"])
@pytest.mark.parametrize(("method", "path", "body", "field"), C1_REQUESTS,
                         ids=[f"{m} {p or '/'} {f}" for m, p, _, f in C1_REQUESTS])
def test_c1_control_characters_are_refused(client: TestClient, method: str, path: str,
                                           body: Body, field: str, control: str) -> None:
    order_id, line_id = _cart(client)
    before = _order(client, order_id)
    url = f"{BASE}/v1/order/{order_id}{path.replace('{line}', line_id)}"
    detail = _refused(client.request(method, url, json=body(control)))
    assert field in detail
    assert _order(client, order_id) == before


def test_c1_control_characters_in_a_new_orders_customer_reference_are_refused(
        client: TestClient) -> None:
    detail = _refused(client.post(f"{BASE}/v1/orders", json={"customerReference": "c\x85"}))
    assert "customerReference" in detail


@pytest.mark.parametrize("value", [b"cust\x85", b"cust\xc2\x9b1"],
                         ids=["latin-1", "utf-8"])
def test_c1_control_characters_in_the_customer_reference_header_are_refused(
        client: TestClient, value: bytes) -> None:
    response = client.post(f"{BASE}/v1/orders", json={},
                           headers={"Customer-Reference": value})  # type: ignore[dict-item]
    assert "Customer-Reference" in _refused(response)


def test_printable_text_next_to_the_c1_range_is_kept(client: TestClient) -> None:
    order_id, _ = _cart(client)
    name = "Ada\u00a0Lovelace \u00bfD\u00e9j\u00e0?"  # no-break space, ¿, é, à: U+00A0 up
    response = client.patch(f"{BASE}/v1/order/{order_id}", json={
        "customer": {"firstName": name}, "customerReference": "cust-\u00e9",
        "properties": {"note": "one\ntwo\tthree"}, "tags": ["\u00fcber"]})
    assert response.status_code == 200, response.text
    order = _order(client, order_id)
    assert order["customerInfo"]["firstName"] == name
    assert order["customerInfo"]["customerReference"] == "cust-\u00e9"
    assert order["properties"]["note"] == "one\ntwo\tthree"
    assert order["tags"] == ["\u00fcber"]


@pytest.mark.parametrize("transaction_id", ["tx\x01", "tx\x85", "tx\x9f-1", "tx\n1"])
def test_a_transaction_id_with_control_characters_is_refused(client: TestClient,
                                                             transaction_id: str) -> None:
    order_id, _ = _cart(client)
    assert client.get(f"{BASE}/v1/checkout/{order_id}/initialize").status_code == 200
    before = _order(client, order_id)
    detail = _refused(client.post(f"{BASE}/v1/checkout/{order_id}/confirm", json={
        "amount": before["transactionAmount"]["value"]["value"],
        "transactionId": transaction_id, "paymentStatus": "Authorized"}))
    assert "transactionId" in detail
    after = _order(client, order_id)
    assert after == before and not after["isFinalized"]
