"""The absolute URLs kasse hands out — ``payUrl``, the gateway's continue, cancel, error
and callback URLs, inline checkout's ``urls`` — come from configuration or from the
address kasse listens on, never from a ``Host`` header nobody listed.

The test client connects to ``kasse.internal:8000`` (the ASGI scope's ``server``, as a
real server reports its socket's address) and sends whatever ``Host`` a test chooses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kasse.api.app import create_app
from tests.api.conftest import make_settings
from tests.api.test_inline_checkout import checkout_url, jacket_cart, ok
from tests.api.test_storefront_demo import checkout as demo_checkout
from tests.api.test_storefront_demo import session_data
from tests.conftest import API_KEY
from tests.integration.hosted import forms

LISTENING = "http://kasse.internal:8000"
FORGED = {"Host": "evil.example"}


def make_client(db_url: str, tmp_path: Path, **settings: Any) -> TestClient:
    app = create_app(make_settings(db_url, tmp_path, test_gateway=True, **settings))
    return TestClient(app, base_url=LISTENING, headers={"Api-Key": API_KEY, "Store": "demo"},
                      raise_server_exceptions=False)


@pytest.fixture
def client(demo_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with make_client(demo_db_url, tmp_path) as test_client:
        yield test_client


def urls_handed_out(client: TestClient, headers: dict[str, str]) -> list[str]:
    """Every absolute URL of a card checkout's token, pay page and initialize."""
    order_id = jacket_cart(client, payment="card")
    issued = ok(client.get(checkout_url(order_id, "token"), headers=headers))
    pay_page = client.get(issued["payUrl"], headers=headers)
    assert pay_page.status_code == 200, pay_page.text
    [hand_over] = forms(pay_page.text)
    ready = ok(client.get(checkout_url(order_id, "initialize"), headers=headers))
    urls = ready["paymentMethod"]["urls"]
    return [issued["payUrl"], *(hand_over.fields[name] for name in (
        "success_url", "cancel_url", "error_url", "webhook_url")),
        urls["continue"], urls["cancel"], urls["error"], urls["callback"]]


def test_a_forged_host_gets_urls_on_the_listening_address(client: TestClient) -> None:
    urls = urls_handed_out(client, FORGED)
    assert len(urls) == 9
    for url in urls:
        assert url.startswith(f"{LISTENING}/"), url
        assert "evil.example" not in url
    assert urls[0].startswith(f"{LISTENING}/umbraco/commerce/storefront/api/v1/checkout/")
    assert urls[6] == f"{LISTENING}/demo/cart"  # the demo card method's CancelUrl
    assert urls[8].startswith(f"{LISTENING}/umbraco/commerce/payment/callback/testgateway/")


def test_the_configured_public_url_wins_over_any_host(demo_db_url: str,
                                                      tmp_path: Path) -> None:
    with make_client(demo_db_url, tmp_path, public_url="https://shop.example/",
                     allowed_hosts="evil.example") as client:
        for url in urls_handed_out(client, FORGED):
            assert url.startswith("https://shop.example/"), url


def test_an_allowed_host_gets_urls_on_that_host(demo_db_url: str, tmp_path: Path) -> None:
    with make_client(demo_db_url, tmp_path,
                     allowed_hosts="Shop.Example, localhost:8080") as client:
        for url in urls_handed_out(client, {"Host": "shop.example"}):
            assert url.startswith("http://shop.example/"), url
        for url in urls_handed_out(client, {"Host": "LOCALHOST:8080"}):
            assert url.startswith("http://localhost:8080/"), url
        # A host that is not on the list, or on it with another port, is not believed.
        for host in ("evil.example", "shop.example:8081", "localhost"):
            for url in urls_handed_out(client, {"Host": host}):
                assert url.startswith(f"{LISTENING}/"), (host, url)


def test_the_demo_pays_on_the_listening_address_whatever_the_host(
        demo_db_url: str, tmp_path: Path) -> None:
    app = create_app(make_settings(demo_db_url, tmp_path, test_gateway=True))
    with TestClient(app, base_url=LISTENING, headers=FORGED) as shop:
        token, pages = demo_checkout(shop, "card")
        csp = pages[-1].headers["content-security-policy"]
        assert f"frame-src {LISTENING};" in csp and "evil.example" not in csp
        framed = shop.post("/demo/checkout/pay", data={"csrf": token, "mode": "framed"})
        assert framed.status_code == 200 and framed.url.path == "/demo/checkout/framed"
        hosted = session_data(shop)["hosted"]
        assert isinstance(hosted, dict)
        assert hosted["pay_url"].startswith(f"{LISTENING}/umbraco/commerce/storefront/")
        # The pay page's messages are expected from kasse's origin, not the Host's.
        assert f'"origin": "{LISTENING}"' in framed.text
        redirect = shop.post("/demo/checkout/pay", data={"csrf": token, "mode": "redirect"},
                             follow_redirects=False)
        assert redirect.headers["location"].startswith(f"{LISTENING}/umbraco/commerce/")
