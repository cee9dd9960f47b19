"""`kasse serve` as a real server process on a real port."""

from __future__ import annotations

import httpx

from tests.conftest import API_KEY

BASE = "/umbraco/commerce/storefront/api"


def test_served_over_http_by_two_workers(server: str) -> None:
    headers = {"Api-Key": API_KEY, "Store": "demo"}
    with httpx.Client(base_url=server, headers=headers, timeout=10) as http:
        for _ in range(6):  # spread over both worker processes
            response = http.get(f"{BASE}/v1/countries")
            assert response.status_code == 200
            assert [c["code"] for c in response.json()] == ["DE", "FR", "GB", "US"]
        denied = http.get(f"{BASE}/v1/countries", headers={"Api-Key": "nope"})
        assert denied.status_code == 401
        assert denied.headers["content-type"].startswith("application/problem+json")
        assert "server" not in denied.headers  # no version banner
