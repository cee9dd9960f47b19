"""Stock through the management API as staff use it: levels (on hand, held by checkouts,
available), adjustments with a reason or a count, the ledger page by page, and what
every adjustment leaves behind (its ledger entry, an audit entry, a stock.adjusted event).
On hand always equals the sum of the ledger, sales and adjustments mixed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from kasse.adapters.db.database import Database
from kasse.api.app import create_app
from tests.api.conftest import make_settings
from tests.api.test_inline_checkout import JACKET_TOTAL, confirm, initialize, jacket_cart, ok
from tests.conftest import API_KEY
from tests.management import MANAGEMENT, bearer, issue_token

STOCK = f"{MANAGEMENT}/stores/demo/stock"
JACKET_M = "rain-jacket:rain-jacket-m"


@pytest.fixture
def api(demo_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(demo_db_url, tmp_path)),
                    headers={"Api-Key": API_KEY, "Store": "demo"},
                    raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def manager(demo_db_url: str) -> dict[str, str]:
    return bearer(issue_token(demo_db_url, "manager", name="back office"))


def rows(url: str, sql: str) -> list[Any]:
    async def read() -> list[Any]:
        db = Database.from_url(url)
        try:
            async with db.read() as conn:
                return list((await conn.execute(text(sql))).all())
        finally:
            await db.dispose()
    return asyncio.run(read())


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON column as read back (PostgreSQL gives a dict, SQLite the text)."""
    found: dict[str, Any] = value if isinstance(value, dict) else json.loads(value)
    return found


def adjust(api: TestClient, headers: dict[str, str], item: str, body: dict[str, Any],
           key: str | None = None) -> Any:
    return api.post(f"{STOCK}/{item}/adjustments", json=body,
                    headers={**headers, "Idempotency-Key": key or str(uuid4())})


def level(api: TestClient, headers: dict[str, str], item: str) -> dict[str, Any]:
    answer = api.get(f"{STOCK}/{item}", headers=headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def whole_ledger(api: TestClient, headers: dict[str, str], item: str,
                 limit: int = 2) -> list[dict[str, Any]]:
    """Every entry, newest first, walking the pages ``limit`` at a time."""
    entries: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        page = api.get(f"{STOCK}/{item}/ledger", headers=headers, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["entries"]) <= limit
        entries += body["entries"]
        cursor = body["nextCursor"]
        if cursor is None:
            return entries
    raise AssertionError("the ledger never ended")


def test_levels_show_on_hand_held_and_available(api: TestClient,
                                                manager: dict[str, str]) -> None:
    answer = api.get(STOCK, headers=manager)
    assert answer.status_code == 200, answer.text
    items = {item["reference"]: item for item in answer.json()["items"]}
    assert items["trail-map"] == {
        "reference": "trail-map", "productReference": "trail-map", "variantReference": None,
        "sku": "MAP-ALPS", "name": "Alps Trail Map", "onHand": "60", "reserved": "0",
        "available": "60", "ledgerTotal": "60"}
    assert items[JACKET_M]["variantReference"] == "rain-jacket-m"
    assert "rain-jacket" not in items  # its stock is kept per variant

    # A shopper's checkout holds one jacket: still on hand, no longer available.
    initialize(api, jacket_cart(api))
    held = level(api, manager, JACKET_M)
    assert (held["onHand"], held["reserved"], held["available"]) == ("5", "1", "4")


def test_an_adjustment_answers_the_new_level_and_its_ledger_entry(
        api: TestClient, manager: dict[str, str], demo_db_url: str) -> None:
    answer = adjust(api, manager, "trail-map",
                    {"change": "12", "reason": "received", "note": "delivery 4711"},
                    key="delivery-4711")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["item"]["onHand"] == body["item"]["available"] == "72"  # 60 + 12
    entry = body["entry"]
    assert (entry["change"], entry["reason"], entry["note"], entry["actor"]) == (
        "12", "received", "delivery 4711", "back office")

    # The same request again (a retry) gets the same answer and does not act again.
    again = adjust(api, manager, "trail-map",
                   {"change": "12", "reason": "received", "note": "delivery 4711"},
                   key="delivery-4711")
    assert again.status_code == 201 and again.json() == body
    assert again.headers["idempotent-replayed"] == "true"
    assert level(api, manager, "trail-map")["onHand"] == "72"

    (audit,) = rows(demo_db_url, "SELECT action, actor_name, actor_kind, detail, "
                                 "request_id FROM audit_entries")
    assert (audit.action, audit.actor_name, audit.actor_kind) == (
        "stock.adjusted", "back office", "token")
    detail = as_dict(audit.detail)
    assert detail["onHandBefore"] == "60" and detail["onHandAfter"] == "72"
    assert detail["ledgerEntryId"] == entry["id"]
    assert audit.request_id
    (event,) = rows(demo_db_url, "SELECT topic, aggregate_id, payload FROM outbox_events")
    payload = as_dict(event.payload)
    assert event.topic == "stock.adjusted"
    assert payload["sku"] == "MAP-ALPS" and payload["change"] == "12"
    assert payload["onHand"] == "72" and payload["reason"] == "received"
    assert payload["ledgerEntryId"] == entry["id"] and payload["actor"] == "back office"


def test_a_count_sets_on_hand_exactly_and_records_the_difference(
        api: TestClient, manager: dict[str, str]) -> None:
    counted = adjust(api, manager, JACKET_M, {"setTo": 3, "reason": "counted"})
    assert counted.status_code == 201, counted.text
    assert counted.json()["item"]["onHand"] == "3"
    assert counted.json()["entry"]["change"] == "-2"  # 5 on hand, 3 counted
    # A count that matches is kept too, as a change of 0.
    matched = adjust(api, manager, JACKET_M, {"setTo": "3", "reason": "counted"})
    assert matched.status_code == 201, matched.text
    assert (matched.json()["item"]["onHand"], matched.json()["entry"]["change"]) == ("3", "0")
    # Fractions of a unit (metres of rope, kilograms of coffee) are exact.
    part = adjust(api, manager, "trail-map", {"change": -0.5, "reason": "damaged"})
    assert part.status_code == 201, part.text
    assert part.json()["item"]["onHand"] == "59.5"


def test_stock_never_goes_below_zero(api: TestClient, manager: dict[str, str],
                                     demo_db_url: str) -> None:
    answer = adjust(api, manager, JACKET_M, {"change": -6, "reason": "damaged"})
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "has 5 on hand: it cannot go below 0" in answer.json()["detail"]
    assert level(api, manager, JACKET_M)["onHand"] == "5"
    assert rows(demo_db_url, "SELECT count(*) FROM audit_entries")[0][0] == 0
    assert rows(demo_db_url, "SELECT count(*) FROM outbox_events")[0][0] == 0
    assert rows(demo_db_url, "SELECT count(*) FROM stock_ledger WHERE cause <> 'import'"
                )[0][0] == 0


@pytest.mark.parametrize(("body", "words"), [
    ({"change": 1, "setTo": 2, "reason": "other"}, "either change"),
    ({"reason": "other"}, "either change"),
    ({"change": 0, "reason": "other"}, "other than 0"),
    ({"setTo": -1, "reason": "counted"}, "0 or more"),
    ({"change": "lots", "reason": "other"}, "change"),
    ({"change": True, "reason": "other"}, "change"),
    ({"change": "1.0000001", "reason": "other"}, "at most 6 decimals"),
    ({"change": "NaN", "reason": "other"}, "change"),
    ({"change": 1, "reason": "delivery"}, "reason must be one of received"),
    ({"change": 1}, "reason"),
    ({"change": 1, "reason": "other", "note": "x" * 301}, "at most 300"),
    ({"change": 1, "reason": "other", "surprise": 1}, "surprise"),
])
def test_bad_adjustments_are_400_and_change_nothing(
        api: TestClient, manager: dict[str, str], body: dict[str, Any], words: str) -> None:
    answer = adjust(api, manager, "trail-map", body)
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert words in problem["detail"] + str(problem.get("errors", "")), problem
    assert level(api, manager, "trail-map")["onHand"] == "60"


def test_unknown_and_untracked_items_are_404(api: TestClient,
                                             manager: dict[str, str]) -> None:
    for path in (f"{STOCK}/no-such-thing", f"{STOCK}/no-such-thing/ledger",
                 f"{MANAGEMENT}/stores/no-such-store/stock"):
        assert api.get(path, headers=manager).status_code == 404, path
    untracked = api.get(f"{STOCK}/rain-jacket", headers=manager)
    assert untracked.status_code == 404
    assert "kept per variant: rain-jacket:rain-jacket-m" in untracked.json()["detail"]
    answer = adjust(api, manager, "no-such-thing", {"change": 1, "reason": "other"})
    assert answer.status_code == 404


def test_who_may_read_and_adjust(api: TestClient, demo_db_url: str) -> None:
    support = bearer(issue_token(demo_db_url, "support"))
    fulfilment = bearer(issue_token(demo_db_url, "fulfilment"))
    elsewhere = bearer(issue_token(demo_db_url, "owner", stores=[uuid4()]))
    assert api.get(STOCK, headers=support).status_code == 200
    assert adjust(api, support, "trail-map", {"change": 1, "reason": "other"}
                  ).status_code == 403
    assert adjust(api, fulfilment, "trail-map", {"change": 1, "reason": "received"}
                  ).status_code == 201
    assert api.get(STOCK, headers=elsewhere).status_code == 403
    assert adjust(api, elsewhere, "trail-map", {"change": 1, "reason": "other"}
                  ).status_code == 403
    assert api.get(STOCK, headers={"Api-Key": API_KEY}).status_code == 401
    assert level(api, support, "trail-map")["onHand"] == "61"  # the fulfilment's one


def test_on_hand_is_the_sum_of_the_ledger_after_sales_and_adjustments(
        api: TestClient, manager: dict[str, str]) -> None:
    # 5 jackets M: +10 received, one sold, -2 damaged, one sold, counted 9, +1 returned
    steps: list[Any] = [{"change": "10", "reason": "received"}, "sale",
                        {"change": "-2", "reason": "damaged"}, "sale",
                        {"setTo": "9", "reason": "counted"},
                        {"change": 1, "reason": "returned", "note": "parcel 77"}]
    sold: list[str] = []
    for step in steps:
        if step == "sale":
            order_id = jacket_cart(api)
            initialize(api, order_id)
            sold.append(ok(confirm(api, order_id, JACKET_TOTAL))["orderNumber"])
        else:
            assert adjust(api, manager, JACKET_M, step).status_code == 201
    now = level(api, manager, JACKET_M)
    # 5 + 10 - 1 - 2 - 1 = 11, counted 9 (-2), + 1 = 10
    assert now["onHand"] == now["ledgerTotal"] == "10"

    entries = whole_ledger(api, manager, JACKET_M, limit=2)
    assert [e["reason"] for e in entries] == [
        "returned", "counted", "sale", "damaged", "sale", "received", "import"]
    assert [e["change"] for e in entries] == ["1", "-2", "-1", "-2", "-1", "10", "5"]
    assert sum(Decimal(e["change"]) for e in entries) == Decimal(now["onHand"])
    assert [e["orderNumber"] for e in entries if e["reason"] == "sale"] == sold[::-1]
    assert entries[0]["note"] == "parcel 77" and entries[0]["actor"] == "back office"
    assert len({e["id"] for e in entries}) == len(entries)


def test_a_cursor_that_kasse_did_not_give_is_400(api: TestClient,
                                                 manager: dict[str, str]) -> None:
    for cursor in ("nonsense", "W10", "WyJ4IiwieSJd"):
        answer = api.get(f"{STOCK}/trail-map/ledger", headers=manager,
                         params={"cursor": cursor})
        assert answer.status_code == 400, (cursor, answer.text)
    assert api.get(f"{STOCK}/trail-map/ledger", headers=manager,
                   params={"limit": 0}).status_code == 400
    assert api.get(f"{STOCK}/trail-map/ledger", headers=manager,
                   params={"limit": 201}).status_code == 400


def test_the_operations_are_in_the_management_document(api: TestClient) -> None:
    document = api.get(f"{MANAGEMENT}/openapi.json").json()
    paths = document["paths"]
    assert paths[f"{MANAGEMENT}/stores/{{store}}/stock"]["get"]["x-kasse-permission"] \
        == "stock:read"
    adjustments = paths[f"{MANAGEMENT}/stores/{{store}}/stock/{{reference}}/adjustments"]
    assert adjustments["post"]["x-kasse-permission"] == "stock:adjust"
