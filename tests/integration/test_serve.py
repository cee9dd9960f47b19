"""`kasse serve` as a real server process on a real port."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.api.test_inline_checkout import checkout_url, jacket_cart
from tests.conftest import API_KEY
from tests.integration.conftest import serving

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


def test_two_workers_log_json_lines_and_add_up_their_metrics(demo_db_url: str,
                                                             tmp_path: Path) -> None:
    headers = {"Api-Key": API_KEY, "Store": "demo"}
    with serving(demo_db_url, tmp_path, KASSE_LOG_LEVEL="info") as url, \
            httpx.Client(base_url=url, headers=headers, timeout=10) as http:
        for i in range(20):  # over new connections, so both workers answer some
            response = httpx.get(f"{url}{BASE}/v1/countries", headers={
                **headers, "X-Request-Id": f"count-{i:04d}"}, timeout=10)
            assert response.status_code == 200
        scrapes = {http.get("/metrics").text for _ in range(6)}
    route = f"{BASE}/v1/countries"
    for body in scrapes:  # whichever worker answered, it reports both workers' requests
        counts = [line for line in body.splitlines()
                  if line.startswith("kasse_http_request_duration_seconds_count{")
                  and f'route="{route}"' in line and 'status="200"' in line]
        assert len(counts) == 1, body
        assert float(counts[0].rsplit(" ", 1)[1]) == 20
    lines = [json.loads(line) for line in (tmp_path / "server.log").read_text().splitlines()
             if line.startswith("{")]
    served = [line for line in lines if line.get("logger") == "kasse.access"
              and line.get("route") == route]
    assert {line["requestId"] for line in served} == {f"count-{i:04d}" for i in range(20)}
    assert all(API_KEY not in json.dumps(line) for line in lines)


def test_a_forged_host_header_gets_pay_urls_on_the_address_kasse_listens_on(
        demo_db_url: str, tmp_path: Path) -> None:
    headers = {"Api-Key": API_KEY, "Store": "demo"}
    with serving(demo_db_url, tmp_path, workers=1) as url, \
            httpx.Client(base_url=url, headers=headers, timeout=10) as http:
        order_id = jacket_cart(http, payment="card")  # type: ignore[arg-type]
        for host in ("evil.example", url.removeprefix("http://")):
            issued = http.get(checkout_url(order_id, "token"), headers={"Host": host})
            assert issued.status_code == 200, issued.text
            assert issued.json()["payUrl"].startswith(f"{url}{BASE}/v1/checkout/{order_id}/")
