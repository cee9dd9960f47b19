"""The payment gateways' callback endpoint: gateways POST their notifications to it; an
inline checkout's storefront GETs ``{urls.callback}?create=KIND``. Nothing else is served."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from tests.api.conftest import BASE


def _inline_callback(client: TestClient, payment_method: str = "invoicing") -> tuple[str, str]:
    """(order id, the order's ``urls.callback``) of an initialized inline checkout."""
    order_id: str = client.post(f"{BASE}/v1/orders", json={}).json()["id"]
    client.post(f"{BASE}/v1/order/{order_id}",
                json={"productReference": "camp-mug", "quantity": 1})
    client.patch(f"{BASE}/v1/order/{order_id}", json={
        "customer": {"firstName": "Ada", "email": "ada@example.com"},
        "paymentMethod": payment_method, "shippingMethod": "standard"})
    ready = client.get(f"{BASE}/v1/checkout/{order_id}/initialize")
    assert ready.status_code == 200, ready.text
    callback: str = ready.json()["paymentMethod"]["urls"]["callback"]
    assert callback.endswith(f"/{order_id}")
    return order_id, urlsplit(callback).path


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def test_a_get_on_the_gateways_callback_is_405(client: TestClient) -> None:
    order_id, callback = _inline_callback(client)
    gateways = callback.removesuffix(f"/{order_id}")  # where gateways POST notifications
    for query in ("", "?create="):
        response = client.get(gateways + query, headers={"Api-Key": "", "Store": ""})
        _problem(response, 405)
        assert response.headers["Allow"] == "POST"
    before = client.get(f"{BASE}/v1/order/{order_id}").json()
    assert not before["isFinalized"]


def test_a_get_on_urls_callback_needs_create(client: TestClient) -> None:
    order_id, callback = _inline_callback(client)
    for query in ("", "?create="):
        detail = _problem(client.get(callback + query, headers={"Api-Key": ""}), 400)["detail"]
        assert "create" in detail
    # asked properly, the provider says what it cannot create
    detail = _problem(client.get(callback, params={"create": "paymentIntent"}), 400)["detail"]
    assert "cannot create 'paymentIntent'" in detail
    assert not client.get(f"{BASE}/v1/order/{order_id}").json()["isFinalized"]
