"""Exactly once under fire: many duplicate gateway callbacks and browser returns for one
payment, at the same time, against two kasse server processes sharing one database."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import text

from kasse.adapters.db.database import Database
from kasse.payments.testgateway.signing import (
    WEBHOOK_SIGNATURE_HEADER,
    sign_return,
    sign_webhook,
)
from tests.conftest import API_KEY
from tests.integration.conftest import serving
from tests.integration.race_gate import Gate, gate

BASE = "/umbraco/commerce/storefront/api"
SECRET = "demo-signing-secret-change-me"  # the demo store's test gateway secret
HEADERS = {"Api-Key": API_KEY, "Store": "demo"}
DUPLICATE_CALLBACKS = 10
OTHER_EVENT_IDS = 10
BROWSER_RETURNS = 15


async def _prepare(http: httpx.AsyncClient) -> dict[str, Any]:
    order_id = (await http.post(f"{BASE}/v1/orders", json={})).json()["id"]
    added = await http.post(f"{BASE}/v1/order/{order_id}",
                            json={"productReference": "trail-backpack", "quantity": 3})
    assert added.status_code == 200, added.text
    patched = await http.patch(f"{BASE}/v1/order/{order_id}",
                               json={"paymentMethod": "card", "shippingMethod": "standard"})
    assert patched.status_code == 200, patched.text
    token = await http.get(f"{BASE}/v1/checkout/{order_id}/token", headers={"Api-Key": ""})
    assert token.status_code == 200, token.text
    pay_url = token.json()["payUrl"]
    page = await http.get(pay_url)
    assert page.status_code == 200, page.text
    fields = {html.unescape(m[0]): html.unescape(m[1])
              for m in re.findall(r'name="([^"]+)" value="([^"]*)"', page.text)}
    method = (await http.get(f"{BASE}/v2/paymentmethod/card")).json()
    return {"order_id": order_id, "pay_url": pay_url, "reference": fields["reference"],
            "amount": fields["amount"], "method_id": method["id"]}


def _webhook(payment: dict[str, Any], event_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({
        "id": event_id, "type": "payment.authorized", "created": int(time.time()),
        "data": {"payment_id": "pay_race", "reference": payment["reference"],
                 "merchant": "kasse-demo", "amount": payment["amount"], "currency": "EUR",
                 "status": "authorized", "fee": "0.00"},
    }).encode()
    signature = sign_webhook(SECRET, body, int(time.time()))
    return body, {WEBHOOK_SIGNATURE_HEADER: signature, "Content-Type": "application/json"}


def _return_url(payment: dict[str, Any]) -> str:
    now = int(time.time())
    query = {"payment_id": "pay_race", "status": "authorized",
             "reference": payment["reference"], "amount": payment["amount"],
             "currency": "EUR", "t": str(now),
             "sig": sign_return(SECRET, "pay_race", "authorized", payment["reference"], now,
                                payment["amount"], "EUR")}
    return f"{payment['pay_url']}/completed?{urlencode(query)}"


async def _storm(server: str, db_url: str) -> tuple[dict[str, Any], list[httpx.Response],
                                                   list[httpx.Response], Gate]:
    limits = httpx.Limits(max_connections=120)
    async with httpx.AsyncClient(base_url=server, headers=HEADERS, timeout=60,
                                 limits=limits) as http:
        payment = await _prepare(http)
        callback = f"/umbraco/commerce/payment/callback/testgateway/{payment['method_id']}"
        same = _webhook(payment, "evt_race_same")
        # Repeats of one event, distinct events and browser returns, interleaved so that
        # no kind reaches the order first (repeats of one event queue on its inbox row),
        # and few enough that the servers' connection pools do not serialize them.
        contenders: list[tuple[str, Any]] = []
        for i in range(max(DUPLICATE_CALLBACKS, OTHER_EVENT_IDS, BROWSER_RETURNS)):
            if i < OTHER_EVENT_IDS:
                contenders.append(("webhook", _webhook(payment, f"evt_race_{i}")))
            if i < BROWSER_RETURNS:
                contenders.append(("return", _return_url(payment)))
            if i < DUPLICATE_CALLBACKS:
                contenders.append(("webhook", same))

        def send(kind: str, what: Any) -> Any:
            if kind == "return":
                return http.get(what, headers={"Api-Key": ""})
            body, headers = what
            return http.post(callback, content=body, headers=headers)

        async with gate(db_url, payment["order_id"]) as held:
            results = await held.contend([send(kind, what) for kind, what in contenders],
                                         expected_waiters=OTHER_EVENT_IDS)
        stock = await http.get(f"{BASE}/v1/products",
                               params={"productReference": "trail-backpack"})
        order = await http.get(f"{BASE}/v1/order/{payment['order_id']}")
        payment["stock"] = stock.json()[0]["stock"]
        payment["order"] = order.json()
    webhooks = [r for (kind, _), r in zip(contenders, results, strict=True) if kind == "webhook"]
    returns = [r for (kind, _), r in zip(contenders, results, strict=True) if kind == "return"]
    return payment, webhooks, returns, held


async def _rows(url: str, order_id: str) -> dict[str, Any]:
    db = Database.from_url(url)
    try:
        async with db.read() as conn:
            finalized = (await conn.execute(text(
                "SELECT count(*) FROM outbox_events WHERE topic = 'order.finalized' "
                "AND aggregate_id = :id"), {"id": order_id.replace("-", "")
                                            if db.engine.dialect.name == "sqlite"
                                            else order_id})).scalar_one()
            events = (await conn.execute(text(
                "SELECT event_id, outcome FROM payment_events WHERE provider_alias = "
                "'testgateway'"))).all()
        return {"finalized_events": finalized, "inbox": [tuple(e) for e in events]}
    finally:
        await db.dispose()


def test_one_finalization_whatever_arrives_at_once(server: str, demo_db_url: str) -> None:
    payment, webhooks, returns, held = asyncio.run(_storm(server, demo_db_url))
    held.assert_overlapped()

    assert {r.status_code for r in webhooks} == {200}, [r.text for r in webhooks[:3]]
    outcomes = [r.json()["outcome"] for r in webhooks]
    assert outcomes.count("finalized") <= 1
    assert set(outcomes) <= {"finalized", "duplicate", "already_finalized"}
    # every shopper's tab is sent on to the shop's confirmation page
    assert {r.status_code for r in returns} == {303}
    assert {r.headers["location"] for r in returns} == {"/demo/confirmation"}

    order = payment["order"]
    assert order["isFinalized"] is True
    assert order["transactionInfo"]["transactionId"] == "pay_race"
    assert order["transactionInfo"]["paymentStatus"] == "Authorized"
    assert payment["stock"] == 40 - 3  # decremented once

    rows = asyncio.run(_rows(demo_db_url, payment["order_id"]))
    assert rows["finalized_events"] == 1
    event_ids = [event_id for event_id, _ in rows["inbox"]]
    assert sorted(event_ids) == sorted({"evt_race_same", *(f"evt_race_{i}"
                                                           for i in range(OTHER_EVENT_IDS))})


NEWS_ROUNDS = 4
NEWS_RETURNS = 30
NEWS_WEBHOOKS = 40


async def _timed(request: Any) -> tuple[float, float, httpx.Response]:
    start = time.perf_counter()
    response = await request
    return start, time.perf_counter(), response


async def _news_of_one_payment(server: str) -> list[dict[str, Any]]:
    """Rounds of one payment each: its browser returns and its webhooks (each with its own
    event id, so none waits on another's inbox row) interleaved and sent at once."""
    rounds = []
    limits = httpx.Limits(max_connections=NEWS_RETURNS + NEWS_WEBHOOKS)
    async with httpx.AsyncClient(base_url=server, headers=HEADERS, timeout=60,
                                 limits=limits) as http:
        # Open every connection first, so that the storm below is not queued behind
        # connection set-up.
        await asyncio.gather(*(http.get("/health") for _ in range(NEWS_RETURNS
                                                                  + NEWS_WEBHOOKS)))
        for number in range(NEWS_ROUNDS):
            payment = await _prepare(http)
            callback = f"/umbraco/commerce/payment/callback/testgateway/{payment['method_id']}"
            requests = []
            for i in range(max(NEWS_RETURNS, NEWS_WEBHOOKS)):
                if i < NEWS_WEBHOOKS:
                    body, headers = _webhook(payment, f"evt_news_{number}_{i}")
                    requests.append(http.post(callback, content=body, headers=headers))
                if i < NEWS_RETURNS:
                    requests.append(http.get(_return_url(payment), headers={"Api-Key": ""}))
            timed = await asyncio.gather(*(_timed(request) for request in requests))
            payment["timed"] = timed
            rounds.append(payment)
    return rounds


async def _topics(url: str, order_id: str) -> list[str]:
    db = Database.from_url(url)
    try:
        async with db.read() as conn:
            key = order_id.replace("-", "") if db.engine.dialect.name == "sqlite" \
                else order_id
            rows = (await conn.execute(text(
                "SELECT topic FROM outbox_events WHERE aggregate_id = :id"), {"id": key}))
            return [row[0] for row in rows]
    finally:
        await db.dispose()


def test_news_of_the_paying_transaction_is_never_reported_as_not_applied(
        demo_db_url: str, tmp_path: Path) -> None:
    """Returns and webhooks of the one payment that places an order, racing each other in
    two server processes: one finalization, and none of them may tell the merchant that
    this payment was not applied (a merchant system refunds on that event)."""
    # Every return comes from one address here: the per-client limit has its own tests.
    with serving(demo_db_url, tmp_path, KASSE_CHECKOUT_RATE_PER_MINUTE="0") as server:
        rounds = asyncio.run(_news_of_one_payment(server))

    for payment in rounds:
        timed = payment["timed"]
        responses = [response for _, _, response in timed]
        assert {r.status_code for r in responses} <= {200, 303}, \
            [r.text for r in responses if r.status_code not in (200, 303)][:3]
        # The contenders overlapped: most were sent before the first one was answered.
        first_answer = min(end for _, end, _ in timed)
        in_flight = sum(1 for start, _, _ in timed if start < first_answer)
        assert in_flight >= len(timed) // 2, (in_flight, len(timed))
        outcomes = [r.json()["outcome"] for r in responses if r.status_code == 200]
        assert outcomes.count("finalized") <= 1
        assert set(outcomes) <= {"finalized", "already_finalized"}, set(outcomes)
        returns = [r for r in responses if r.status_code == 303]
        assert {r.headers["location"] for r in returns} == {"/demo/confirmation"}

        topics = asyncio.run(_topics(demo_db_url, payment["order_id"]))
        assert topics.count("order.finalized") == 1, topics
        assert "payment.not_applied" not in topics, topics
