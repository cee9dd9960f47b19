"""A cart read is served from a rendered copy while the cart is unchanged; whoever
changes it (this process, another process, a store import), the next read shows it.
Products are kept in memory too: their stock is always read anew, and an import's
changes are used as soon as the store's new version is seen."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from kasse.adapters.config_file import read_config_file
from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.api.app import create_app
from kasse.demo import DEMO_STORE_FILE
from kasse.services.store_import import import_store
from tests.api.conftest import BASE, make_settings
from tests.api.test_inline_checkout import (
    add,
    cart,
    confirm,
    create,
    dec,
    get_order,
    initialize,
    ok,
    problem,
    stock_of,
)
from tests.conftest import API_KEY

ORDERS = f"{BASE}/v1/orders"


@pytest.fixture
def two_servers(demo_db_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """Two kasse apps on one database, as two worker processes would be."""
    headers = {"Api-Key": API_KEY, "Store": "demo"}
    settings = make_settings(demo_db_url, tmp_path)
    with TestClient(create_app(settings), headers=headers) as first, \
            TestClient(create_app(settings), headers=headers) as second:
        yield first, second


def reimport(db_url: str, data: dict) -> None:  # type: ignore[type-arg]
    """Import the store file ``data`` as an operator would, from another process."""
    async def go() -> None:
        db = Database.from_url(db_url)
        try:
            await import_store(SqlStorage(db), data)
        finally:
            await db.dispose()

    asyncio.run(go())


def _order(client: TestClient, order_id: str, query: str = "") -> dict:  # type: ignore[type-arg]
    response = client.get(f"{BASE}/v1/order/{order_id}{query}")
    assert response.status_code == 200, response.text
    body: dict = response.json()  # type: ignore[type-arg]
    return body


def test_a_change_made_by_another_process_shows_on_the_next_read(
        two_servers: tuple[TestClient, TestClient]) -> None:
    first, second = two_servers
    order_id = first.post(ORDERS, json={}).json()["id"]
    first.post(f"{BASE}/v1/order/{order_id}",
               json={"productReference": "trail-map", "quantity": 1})
    before = _order(first, order_id, "?expand=$prices")
    assert _order(first, order_id, "?expand=$prices") == before  # read twice: same cart

    changed = second.post(f"{BASE}/v1/order/{order_id}",
                          json={"productReference": "trail-map", "quantity": 2})
    assert changed.status_code == 200

    after = _order(first, order_id, "?expand=$prices")
    assert after["totalQuantity"] == 3
    assert after["orderLines"][0]["quantity"] == 3
    assert after["totalPrice"]["value"]["withTax"] > before["totalPrice"]["value"]["withTax"]


def test_each_expand_and_fields_gets_its_own_rendering(
        two_servers: tuple[TestClient, TestClient]) -> None:
    first, _ = two_servers
    order_id = first.post(ORDERS, json={}).json()["id"]
    first.post(f"{BASE}/v1/order/{order_id}",
               json={"productReference": "trail-map", "quantity": 1})
    plain = _order(first, order_id)
    full = _order(first, order_id, "?expand=$prices")
    narrow = _order(first, order_id, "?fields=totalQuantity")
    assert "withoutAdjustments" not in plain["totalPrice"]
    assert "withoutAdjustments" in full["totalPrice"]
    assert set(narrow) == {"id", "totalQuantity"}
    assert _order(first, order_id) == plain


def test_a_deleted_cart_is_gone_for_every_process(
        two_servers: tuple[TestClient, TestClient]) -> None:
    first, second = two_servers
    order_id = first.post(ORDERS, json={}).json()["id"]
    _order(first, order_id)
    assert second.delete(f"{BASE}/v1/order/{order_id}").status_code == 200
    gone = first.get(f"{BASE}/v1/order/{order_id}")
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("application/problem+json")


def test_a_store_import_shows_on_the_next_read(
        demo_db_url: str, two_servers: tuple[TestClient, TestClient]) -> None:
    first, _ = two_servers
    order_id = first.post(ORDERS, json={}).json()["id"]
    first.post(f"{BASE}/v1/order/{order_id}",
               json={"productReference": "trail-map", "quantity": 1})
    assert _order(first, order_id)["currency"]["code"] == "EUR"

    # An operator changes how the store writes its amounts: the import bumps the
    # configuration version, which every rendered copy is kept under.
    data = read_config_file(DEMO_STORE_FILE).data
    for currency in data["currencies"]:
        currency["formatTemplate"] = "{0} " + currency["code"]

    reimport(demo_db_url, data)
    deadline_reads = 30  # the store's version is re-checked at most once a second
    for _ in range(deadline_reads):
        body = _order(first, order_id, "?expand=$prices")
        formatted = body["totalPrice"]["value"]["formatted"]["withTax"]
        if formatted.endswith(" EUR"):
            break
        asyncio.run(asyncio.sleep(0.1))
    assert formatted.endswith(" EUR"), formatted


def test_products_already_read_still_show_stock_sold_by_another_process(
        two_servers: tuple[TestClient, TestClient]) -> None:
    first, second = two_servers
    # The first process reads the jacket (its catalog data is kept from now on) ...
    assert stock_of(first, "rain-jacket:rain-jacket-l") == 3
    early = create(first)
    add(first, early, "rain-jacket", 1, "rain-jacket-l")
    # ... the second sells every one left ...
    order_id = cart(second, ("rain-jacket", 3, "rain-jacket-l"))
    initialize(second, order_id)
    amount = dec(get_order(second, order_id)["transactionAmount"]["value"]["value"])
    ok(confirm(second, order_id, amount))
    # ... and the first sees that at once, in the catalog and when adding to a cart.
    assert stock_of(first, "rain-jacket:rain-jacket-l") == 0
    refused = first.post(f"{BASE}/v1/order/{create(first)}", json={
        "productReference": "rain-jacket", "productVariantReference": "rain-jacket-l",
        "quantity": 1})
    detail = problem(refused, 400)
    assert "only 0 of Rain Jacket L available" in detail, detail
    # the jacket in stock still can be bought
    add(first, early, "rain-jacket", 1, "rain-jacket-m")


def test_a_store_import_changes_the_prices_of_products_already_read(
        demo_db_url: str, two_servers: tuple[TestClient, TestClient]) -> None:
    first, _ = two_servers
    before = add(first, create(first), "trail-map", 1)
    assert dec(before["orderLines"][0]["unitPrice"]["value"]["withTax"]) == Decimal("12.90")

    data = read_config_file(DEMO_STORE_FILE).data
    (trail_map,) = [p for p in data["products"] if p["reference"] == "trail-map"]
    trail_map["prices"]["EUR"] = 14.50
    trail_map["name"] = "Alps Trail Map (2027 edition)"

    reimport(demo_db_url, data)
    for _ in range(30):  # the store's version is re-checked at most once a second
        line = add(first, create(first), "trail-map", 1)["orderLines"][0]
        if dec(line["unitPrice"]["value"]["withTax"]) != Decimal("12.90"):
            break
        asyncio.run(asyncio.sleep(0.1))
    assert dec(line["unitPrice"]["value"]["withTax"]) == Decimal("14.50")
    assert line["name"] == "Alps Trail Map (2027 edition)"


def test_every_kind_of_line_change_is_stored_as_the_cart_shows_it(
        two_servers: tuple[TestClient, TestClient]) -> None:
    # The first process changes the cart; the second reads it from the database each
    # time. Only the lines that changed are written, so each kind of change is checked.
    first, second = two_servers
    order_id = create(first)
    url = f"{BASE}/v1/order/{order_id}"

    def same_in_second(response: httpx.Response) -> dict:  # type: ignore[type-arg]
        shown = ok(response)
        assert _order(second, order_id) == shown
        return shown  # type: ignore[no-any-return]

    same_in_second(first.post(url, json={"productReference": "trail-map", "quantity": 1}))
    same_in_second(first.post(url, json={"productReference": "camp-mug", "quantity": 2}))
    order = same_in_second(first.post(url, json={"productReference": "water-bottle",
                                                 "quantity": 1}))
    mug, bottle = order["orderLines"][1]["id"], order["orderLines"][2]["id"]
    same_in_second(first.patch(f"{url}/item/{mug}", json={"quantity": 5}))  # in the middle
    order = same_in_second(first.delete(f"{url}/item/{order['orderLines'][0]['id']}"))
    assert [line["id"] for line in order["orderLines"]] == [mug, bottle]
    same_in_second(first.post(url, json={"productReference": "trekking-poles", "quantity": 1,
                                         "bundleId": "kit"}))
    same_in_second(first.post(f"{url}/bundle/kit", json={"productReference": "first-aid-kit",
                                                         "quantity": 1}))
    order = same_in_second(first.post(f"{url}/bundle/kit", json={
        "productReference": "water-bottle", "quantity": 2}))
    kit = order["orderLines"][2]
    aid, bottles = (item["id"] for item in kit["orderLines"])
    same_in_second(first.patch(f"{url}/bundle/kit/item/{bottles}", json={"quantity": 3}))
    same_in_second(first.patch(f"{url}/item/{kit['id']}", json={"quantity": 2}))
    order = same_in_second(first.delete(f"{url}/bundle/kit/item/{aid}"))
    assert [item["id"] for item in order["orderLines"][2]["orderLines"]] == [bottles]
    same_in_second(first.patch(f"{url}/items", json=[{"id": mug, "quantity": 1},
                                                     {"id": bottle, "quantity": 4}]))
    order = same_in_second(first.delete(f"{url}/items"))
    assert order["orderLines"] == []
    order = same_in_second(first.post(url, json={"productReference": "trail-map",
                                                 "quantity": 1}))
    assert len(order["orderLines"]) == 1
