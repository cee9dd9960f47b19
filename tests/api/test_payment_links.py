"""Payment links: `kasse payment-link` makes one, `GET v1/order/{paymentLinkToken}` opens
the cart it stands for, while it is valid and the cart is open."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from kasse.domain import payment_link
from tests.api.conftest import BASE


def _link(order_id: str, db_url: str, data_dir: Path, *extra: str
          ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KASSE_DATABASE_URL": db_url, "KASSE_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "kasse", "payment-link", order_id, *extra],
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def _cart(client: TestClient) -> str:
    order_id: str = client.post(f"{BASE}/v1/orders", json={}).json()["id"]
    client.post(f"{BASE}/v1/order/{order_id}",
                json={"productReference": "camp-mug", "quantity": 3})
    return order_id


def test_a_payment_link_opens_its_cart(client: TestClient, demo_db_url: str,
                                       tmp_path: Path) -> None:
    order_id = _cart(client)
    made = _link(order_id, demo_db_url, tmp_path / "data", "--minutes", "30")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("pl1.")

    opened = client.get(f"{BASE}/v1/order/{token}", params={"fields": "totalQuantity"})
    assert opened.status_code == 200, opened.text
    assert opened.json() == {"id": order_id, "totalQuantity": 3}
    assert "Umb-Notifications" not in opened.headers

    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (forged, "pl1.e30.xyz", "pl1." + "A" * 600):
        refused = client.get(f"{BASE}/v1/order/{bad}")
        assert refused.status_code == 404, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("token", [
    "pl1.eyJ4IjoxfQ.%C3%A4",  # a signature that is not ASCII
    "pl1.eyJ4IjoxfQ.%F0%9F%98%80",
    "pl1.eyJ4IjoxfQ.%FF",  # not even UTF-8
    "pl1.%C3%A4.abc",  # a payload that is not ASCII
])
def test_links_with_non_ascii_tokens_are_not_found(client: TestClient, token: str) -> None:
    refused = client.get(f"{BASE}/v1/order/{token}")
    assert refused.status_code == 404, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "payment link" in refused.json()["detail"]


def test_an_expired_link_says_so(client: TestClient, tmp_path: Path) -> None:
    order_id = _cart(client)
    client.get(f"{BASE}/v1/store/demo")  # the app has started and made its key by now
    key = (tmp_path / "data" / "secret-key").read_text(encoding="utf-8").strip().encode()
    store_id = UUID(client.get(f"{BASE}/v1/store/demo").json()["id"])
    token = payment_link.sign(key, payment_link.PaymentLink(
        store_id, UUID(order_id), datetime.now(UTC) - timedelta(minutes=1)))

    response = client.get(f"{BASE}/v1/order/{token}")
    assert response.status_code == 400
    assert "expired" in response.json()["detail"]


def test_links_are_only_for_open_carts(client: TestClient, demo_db_url: str,
                                       tmp_path: Path) -> None:
    unknown = _link("00000000-0000-0000-0000-000000000001", demo_db_url, tmp_path / "data")
    assert unknown.returncode == 2
    assert "no order" in unknown.stderr

    order_id = _cart(client)
    client.patch(f"{BASE}/v1/order/{order_id}",
                 json={"paymentMethod": "invoicing", "shippingMethod": "standard"})
    made = _link(order_id, demo_db_url, tmp_path / "data")
    assert made.returncode == 0, made.stderr
    client.get(f"{BASE}/v1/checkout/{order_id}/initialize")
    amount = client.get(f"{BASE}/v1/order/{order_id}").json()[
        "transactionAmount"]["value"]["value"]
    paid = client.post(f"{BASE}/v1/checkout/{order_id}/confirm", json={
        "amount": amount, "transactionId": "inv-1", "paymentStatus": "Authorized"})
    assert paid.status_code == 200, paid.text

    response = client.get(f"{BASE}/v1/order/{made.stdout.strip()}")
    assert response.status_code == 400
    assert "already paid" in response.json()["detail"]
    again = _link(order_id, demo_db_url, tmp_path / "data")
    assert again.returncode == 2
    assert "finalized" in again.stderr


def test_tokens_are_bound_to_their_key() -> None:
    link = payment_link.PaymentLink(UUID(int=1), UUID(int=2),
                                    datetime.now(UTC) + timedelta(hours=1))
    token = payment_link.sign(b"one key", link)
    assert payment_link.verify(b"one key", token, datetime.now(UTC)) == link.__class__(
        link.store_id, link.order_id, link.expires_at.replace(microsecond=0))
    try:
        payment_link.verify(b"another key", token, datetime.now(UTC))
    except payment_link.PaymentLinkInvalid:
        pass
    else:
        raise AssertionError("a token signed with another key was accepted")
