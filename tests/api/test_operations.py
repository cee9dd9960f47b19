"""What an operator relies on: request ids, log lines without secrets, metrics, per-client
limits on the keyless checkout endpoints, and abandoned carts going away."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from kasse.adapters.db import tables as t
from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.api.app import create_app
from kasse.api.rate_limit import TokenBuckets
from kasse.logs import JsonFormatter, redact_path
from kasse.services.housekeeping import delete_abandoned_carts
from tests.api.conftest import BASE, make_settings
from tests.api.test_inline_checkout import cart, checkout_url, confirm, initialize, ok
from tests.conftest import API_KEY

KEY = {"Api-Key": API_KEY, "Store": "demo"}


@pytest.fixture
def limited(demo_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """An app allowing one client 3 keyless checkout calls at once, then 1 a minute."""
    app = create_app(make_settings(demo_db_url, tmp_path, checkout_rate_per_minute=1,
                                   checkout_rate_burst=3))
    with TestClient(app, headers=KEY, raise_server_exceptions=False) as client:
        yield client


# --- request ids and logs ----------------------------------------------------------------


def test_every_answer_carries_a_request_id(client: TestClient) -> None:
    made = client.get(f"{BASE}/v1/countries")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    kept = client.get(f"{BASE}/v1/countries", headers={"X-Request-Id": "edge-1234-abcd"})
    assert kept.headers["x-request-id"] == "edge-1234-abcd"
    # A header that could forge log lines is replaced, not echoed.
    forged = client.get(f"{BASE}/v1/countries", headers={"X-Request-Id": "x\" }{ evil"})
    assert forged.headers["x-request-id"] != "x\" }{ evil"
    missing = client.get(f"{BASE}/v1/order/not-an-id")
    assert missing.status_code == 404 and missing.headers["x-request-id"]


def test_a_log_line_is_json_with_the_request_id_and_no_tokens(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    token = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg"
    with caplog.at_level(logging.INFO, logger="kasse.access"):
        client.get(f"{BASE}/v1/checkout/{'0' * 8}-0000-0000-0000-{'0' * 12}/pay/{token}",
                   headers={"X-Request-Id": "req-00000001"})
    records = [r for r in caplog.records if r.name == "kasse.access"]
    assert records, "no access log line"
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["status"] == 400 and line["method"] == "GET"  # an unknown token
    assert line["requestId"] == "req-00000001"
    assert line["level"] == "info" and line["logger"] == "kasse.access"
    assert line["path"].endswith("/pay/[redacted]")
    assert line["route"] == "/umbraco/commerce/storefront/api/v1/checkout/{orderId}/pay/{token}"
    assert token not in json.dumps(line)
    assert isinstance(line["durationMs"], float)


def test_error_log_lines_carry_no_tokens(client: TestClient, caplog: pytest.LogCaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The lines an error leaves blank out a path's tokens as the access log does: here a
    payment link met with an unexpected error, and a pay page met with the database down."""
    link = "pl1.eyJzIjoiMDAiLCJvIjoiMDAiLCJlIjoxfQ.c2lnbmF0dXJlLW9mLXRoZS1saW5r"
    pay_token = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg"
    order_id = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"

    async def fails(*_: object) -> None:
        raise RuntimeError("an unexpected fault")

    app: Any = client.app
    kasse = app.state.kasse.container
    down = Database.from_url("postgresql://kasse@127.0.0.1:1/kasse")  # nothing listens
    monkeypatch.setattr(kasse.orders, "by_payment_link", fails)
    with caplog.at_level(logging.WARNING, logger="kasse.api"):
        linked = client.get(f"{BASE}/v1/order/{link}")
        monkeypatch.setattr(kasse.storage, "db", down)
        paid = client.get(f"{BASE}/v1/checkout/{order_id}/pay/{pay_token}")
    asyncio.run(down.dispose())

    assert linked.status_code == 500 and paid.status_code == 503
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records
             if r.name == "kasse.api"]
    assert [line["message"].split(": ")[0] for line in lines] == [
        f"unhandled error on GET {BASE}/v1/order/[redacted]",
        f"database unavailable on GET {BASE}/v1/checkout/{order_id}/pay/[redacted]"]
    assert "RuntimeError: an unexpected fault" in lines[0]["error"]
    for line in lines:
        assert link not in json.dumps(line) and pay_token not in json.dumps(line)


def test_paths_lose_their_secrets() -> None:
    assert redact_path("/x/v1/checkout/abc/pay/SECRET/completed") == \
        "/x/v1/checkout/abc/pay/[redacted]/completed"
    assert redact_path("/x/v1/order/pl1.payload.signature") == "/x/v1/order/[redacted]"
    assert redact_path("/x/v1/order/6f1c") == "/x/v1/order/6f1c"


# --- metrics -----------------------------------------------------------------------------


def _sample(body: str, name: str, **labels: str) -> float:
    for line in body.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_need_the_key(client: TestClient) -> None:
    assert client.get("/metrics", headers={"Api-Key": ""}).status_code == 401
    assert client.get("/metrics", headers={"Api-Key": "wrong"}).status_code == 401
    bearer = client.get("/metrics", headers={"Api-Key": "",
                                             "Authorization": f"Bearer {API_KEY}"})
    assert bearer.status_code == 200
    assert bearer.headers["content-type"].startswith("text/plain")


def test_metrics_count_requests_by_route_and_checkouts(client: TestClient) -> None:
    order_id = cart(client, ("camp-mug", 1, None))
    for _ in range(3):
        ok(client.get(f"{BASE}/v1/order/{order_id}"))
    initialize(client, order_id)
    amount = ok(client.get(f"{BASE}/v1/order/{order_id}"))["transactionAmount"]["value"]["value"]
    assert confirm(client, order_id, amount).status_code == 200
    assert confirm(client, order_id, amount).status_code == 200  # a repeat counts once

    body = client.get("/metrics").text
    route = "/umbraco/commerce/storefront/api/v1/order/{orderId}"
    assert _sample(body, "kasse_http_request_duration_seconds_count", method="GET",
                   route=route, status="200") == 4
    assert order_id not in body  # ids never become label values
    assert _sample(body, "kasse_checkouts_started_total", kind="inline") == 1
    assert _sample(body, "kasse_orders_finalized_total", kind="inline") == 1


# --- rate limits -------------------------------------------------------------------------


def test_keyless_checkout_calls_are_limited_per_client(limited: TestClient) -> None:
    order_id = cart(limited, ("camp-mug", 1, None), payment="card")
    url = checkout_url(order_id, "token")
    answers = [limited.get(url, headers={"Store": "demo"}) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    refused = answers[3]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert "try again" in refused.json()["detail"]
    # Calls with the key are not limited, and the limit is counted.
    for _ in range(5):
        assert limited.get(f"{BASE}/v1/order/{order_id}").status_code == 200
    body = limited.get("/metrics").text
    assert _sample(body, "kasse_rate_limited_total", route="token") == 1


def test_a_bucket_refills_with_time() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate_per_minute=60, burst=2, clock=lambda: now[0])
    assert buckets.take("a") == 0 and buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(1.0)  # one a second
    assert buckets.take("b") == 0  # every client has its own
    now[0] = 1.0
    assert buckets.take("a") == 0


def test_buckets_are_bounded_in_number() -> None:
    buckets = TokenBuckets(rate_per_minute=1, burst=1, max_clients=100)
    for i in range(1000):
        buckets.take(f"10.0.{i // 256}.{i % 256}")
    assert len(buckets._buckets) == 100


# --- abandoned carts ---------------------------------------------------------------------


async def _age(url: str, order_ids: list[str], days: int) -> None:
    db = Database.from_url(url)
    try:
        async with db.transaction() as conn:
            for order_id in order_ids:
                await conn.execute(update(t.orders).where(t.orders.c.id == order_id).values(
                    updated_at=datetime.now(UTC) - timedelta(days=days)))
    finally:
        await db.dispose()


async def _cleanup(url: str, days: int) -> int:
    db = Database.from_url(url)
    try:
        return await delete_abandoned_carts(SqlStorage(db), datetime.now(UTC),
                                            timedelta(days=days))
    finally:
        await db.dispose()


async def _count(url: str, sql: str) -> Any:
    db = Database.from_url(url)
    try:
        async with db.read() as conn:
            return (await conn.execute(text(sql))).scalar_one()
    finally:
        await db.dispose()


def test_abandoned_carts_are_deleted_and_nothing_else(client: TestClient,
                                                      demo_db_url: str) -> None:
    import uuid

    old = cart(client, ("camp-mug", 2, None))
    fresh = cart(client, ("camp-mug", 1, None))
    paying = cart(client, ("camp-mug", 1, None))
    initialize(client, paying)  # a checkout a payment could still arrive for
    placed = cart(client, ("camp-mug", 1, None))
    initialize(client, placed)
    amount = ok(client.get(f"{BASE}/v1/order/{placed}"))["transactionAmount"]["value"]["value"]
    assert confirm(client, placed, amount, transaction_id="tx-placed").status_code == 200
    ids = [uuid.UUID(o) for o in (old, paying, placed)]
    asyncio.run(_age(demo_db_url, ids, days=40))  # type: ignore[arg-type]

    assert asyncio.run(_cleanup(demo_db_url, days=30)) == 1
    assert client.get(f"{BASE}/v1/order/{old}").status_code == 404
    for kept in (fresh, paying, placed):
        assert client.get(f"{BASE}/v1/order/{kept}").status_code == 200
    lines = asyncio.run(_count(demo_db_url, f"SELECT count(*) FROM order_lines "
                                            f"WHERE order_id = '{uuid.UUID(old).hex}' "
                                            f"OR order_id = '{old}'"))
    assert lines == 0  # its lines went with it
    assert asyncio.run(_cleanup(demo_db_url, days=30)) == 0  # again: nothing more


def test_asking_a_provider_for_a_client_payment_is_limited_but_gateway_calls_are_not(
        limited: TestClient) -> None:
    url = "/umbraco/commerce/payment/callback/stripe-checkout/" + "0" * 32 + "/" + "1" * 32
    asked = [limited.get(url, params={"create": "paymentIntent"}).status_code
             for _ in range(4)]
    assert asked[:3] != [429, 429, 429] and asked[3] == 429
    # Gateways' notifications are POSTed: never limited.
    posted = [limited.post(url, content=b"{}").status_code for _ in range(6)]
    assert 429 not in posted
