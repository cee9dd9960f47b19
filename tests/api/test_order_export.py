"""The CSV export of placed orders: every matching order, RFC 4180 quoting, no formula a
spreadsheet would run, the list's filters, and who may export."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kasse.adapters.db.database import Database
from kasse.adapters.db.order_search import SqlOrderSearch
from kasse.adapters.db.storage import SqlStorage
from kasse.api.app import create_app
from kasse.domain.access import CLI
from kasse.services.catalog import StoreDirectory
from kasse.services.order_queries import OrderQueries, OrderQuery
from kasse.services.orders import Orders
from tests.api.conftest import make_settings
from tests.api.shoppers import open_cart, place, set_columns
from tests.management import MANAGEMENT, bearer, issue_token

EXPORT = f"{MANAGEMENT}/orders/export.csv"
HEADER = ["orderNumber", "placedAt", "store", "customerEmail", "customerName", "currency",
          "total", "paymentStatus", "fulfilmentStatus", "orderStatus", "captured",
          "refunded", "tags"]


@pytest.fixture
def api(demo_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(demo_db_url, tmp_path)),
                    raise_server_exceptions=False) as client:
        yield client


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_the_export_holds_every_placed_order_quoted_and_defused(
        api: TestClient, demo_db_url: str) -> None:
    plain = place(api, first="Ada", last="Lovelace", email="ada@example.com",
                  tags=["vip"])
    tricky = place(api, first='=HYPERLINK("http://evil.example","click")',
                   last='O"Brien, Jr.', email="tricky@example.com",
                   tags=["@sum", "-1+2", "a,b"], product="trail-backpack")
    set_columns(demo_db_url, tricky.id, total_price=None)  # placed before totals were kept
    open_cart(api)
    answer = api.get(EXPORT, headers=bearer(issue_token(demo_db_url, "manager")))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.text.endswith("\r\n")
    assert "\r\n" in answer.text and "\n" not in answer.text.replace("\r\n", "")

    table = rows(answer.text)
    assert table[0] == HEADER
    body = {row[0]: dict(zip(HEADER, row, strict=True)) for row in table[1:]}
    assert set(body) == {plain.number, tricky.number}  # the cart is no order
    ada = body[plain.number]
    assert ada["store"] == "demo"
    assert (ada["customerEmail"], ada["customerName"]) == ("ada@example.com", "Ada Lovelace")
    assert (ada["currency"], ada["total"]) == ("EUR", "14.85")
    assert (ada["paymentStatus"], ada["orderStatus"], ada["tags"]) == (
        "Authorized", "New", "vip")
    assert ada["placedAt"].endswith("Z")
    odd = body[tricky.number]
    # a formula becomes text; quotes and commas survive the round trip
    assert odd["customerName"] == """'=HYPERLINK("http://evil.example","click") O"Brien, Jr."""
    assert odd["tags"] == "'@sum;-1+2;a,b"
    assert odd["total"] == ""  # not known for an order placed before totals were kept
    # RFC 4180: a field with a quote is quoted, its quotes doubled
    assert '"\'=HYPERLINK(""http://evil.example"",""click"") O""Brien, Jr."' in answer.text


def test_the_export_takes_the_lists_filters(api: TestClient, demo_db_url: str) -> None:
    captured = place(api, email="cap@example.com", status="Captured")
    place(api, email="auth@example.com")
    manager = bearer(issue_token(demo_db_url, "manager"))
    answer = api.get(EXPORT, headers=manager, params={"paymentStatus": "Captured"})
    assert [row[0] for row in rows(answer.text)[1:]] == [captured.number]
    nothing = api.get(EXPORT, headers=manager, params={"email": "nobody@example.com"})
    assert rows(nothing.text) == [HEADER]
    bad = api.get(EXPORT, headers=manager, params={"placedFrom": "soon"})
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    assert "placedFrom" in bad.json()["detail"]


def test_who_may_export(api: TestClient, demo_db_url: str) -> None:
    place(api)
    for role, status in (("owner", 200), ("manager", 200), ("fulfilment", 403),
                         ("support", 403)):
        answer = api.get(EXPORT, headers=bearer(issue_token(demo_db_url, role)))
        assert answer.status_code == status, (role, answer.text)
    assert api.get(EXPORT).status_code == 401
    other_store = bearer(issue_token(demo_db_url, "owner", stores=[]))
    assert rows(api.get(EXPORT, headers=other_store).text) == [HEADER]


def test_the_export_reads_in_batches_that_join_up(api: TestClient, demo_db_url: str) -> None:
    placed = [place(api, email=f"b{n}@example.com") for n in range(7)]

    async def export(batch: int) -> list[list[str]]:
        db = Database.from_url(demo_db_url)
        try:
            storage = SqlStorage(db)
            stores = StoreDirectory(storage)
            queries = OrderQueries(SqlOrderSearch(db), stores, Orders(storage),
                                   export_batch=batch)
            prepared = await queries.export(CLI, OrderQuery(direction="asc"))
            return [[order.order_number or "" for order in chunk]
                    async for chunk in prepared.batches()]
        finally:
            await db.dispose()

    chunks = asyncio.run(export(3))
    assert [len(chunk) for chunk in chunks] == [3, 3, 1]
    assert [number for chunk in chunks for number in chunk] == [p.number for p in placed]
    assert [len(chunk) for chunk in asyncio.run(export(7))] == [7]
