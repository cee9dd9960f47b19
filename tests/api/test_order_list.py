"""The staff's order list: placed orders only, every filter, sort, cursor pages that stay
put while orders come in, the total count, and bad parameters answered with a 400 that
names them."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from kasse.api.app import create_app
from tests.api.conftest import make_settings
from tests.api.placed_orders import staff
from tests.api.shoppers import (
    Placed,
    import_second_store,
    open_cart,
    place,
    set_columns,
    status_id,
    store_id,
)
from tests.management import MANAGEMENT, bearer, issue_token

ORDERS = f"{MANAGEMENT}/orders"


@pytest.fixture
def api(demo_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(demo_db_url, tmp_path)),
                    raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def owner(demo_db_url: str) -> dict[str, str]:
    return bearer(issue_token(demo_db_url, "owner"))


def listed(api: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    answer = api.get(ORDERS, headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def numbers(body: dict[str, Any]) -> list[str]:
    return [item["orderNumber"] for item in body["items"]]


def test_the_list_shows_placed_orders_newest_first_and_never_carts(
        api: TestClient, owner: dict[str, str], demo_db_url: str) -> None:
    first = place(api, first="Ada", last="Lovelace", email="Ada@Example.com",
                  reference="cust-1", tags=["vip", "gift"])
    second = place(api, first="Grace", last="Hopper", email="grace@example.com",
                   product="trail-map", quantity=2)
    open_cart(api)

    body = listed(api, owner)
    assert numbers(body) == [second.number, first.number]
    assert body["nextCursor"] is None
    assert body["total"] is None  # not counted unless asked
    row = body["items"][1]
    assert row["id"] == first.id
    assert row["storeId"] == str(store_id(demo_db_url))
    assert row["cartNumber"].startswith("CART-")
    assert row["placedAt"].endswith("Z")
    # camp mug 9.90 + standard shipping 4.95 = 14.85
    assert (row["currency"], row["totalPrice"]) == ("EUR", "14.85")
    assert row["customer"] == {"email": "Ada@Example.com", "firstName": "Ada",
                               "lastName": "Lovelace", "reference": "cust-1"}
    assert row["orderStatus"]["alias"] == "new" and row["orderStatus"]["name"] == "New"
    assert row["paymentStatus"] == "Authorized"
    assert row["tags"] == ["vip", "gift"]
    assert isinstance(row["version"], int)
    assert set(row) == {"id", "storeId", "orderNumber", "cartNumber", "placedAt", "customer",
                        "currency", "totalPrice", "orderStatus", "paymentStatus",
                        "fulfilmentStatus", "captured", "refunded", "refundable",
                        "canceledAt", "tags", "version"}


@pytest.fixture
def three(api: TestClient, demo_db_url: str) -> dict[str, Placed]:
    """Three orders unlike each other in every filtered field."""
    ada = place(api, first="Ada", last="Lovelace", email="ada@example.com",
                reference="cust-ada", code="WELCOME10", status="Captured", quantity=2)
    grace = place(api, first="Grace", last="Hopper", email="grace@example.com",
                  product="trail-backpack", reference="cust-grace")
    linus = place(api, first="Linus", last="Tor_valds", email="linus@example.org",
                  product="water-bottle", status="PendingExternalSystem")
    return {"ada": ada, "grace": grace, "linus": linus}


def act_on(api: TestClient, demo_db_url: str, three: dict[str, Placed]) -> None:
    """Linus's order moves to processing; one of Ada's two mugs ships, all of Grace's order."""
    manager = staff(api, demo_db_url, "manager")
    manager.ok(f"/orders/{three['linus'].id}/status", {"status": "processing"})
    lines = api.get(f"{MANAGEMENT}/orders/{three['ada'].id}",
                    headers=bearer(manager.token)).json()["order"]["orderLines"]
    manager.ok(f"/orders/{three['ada'].id}/fulfilments",
               {"lines": [{"lineId": lines[0]["id"], "quantity": 1}]}, 201)
    manager.ok(f"/orders/{three['grace'].id}/fulfilments", None, 201)


def test_every_filter_finds_what_it_names(api: TestClient, owner: dict[str, str],
                                          demo_db_url: str, three: dict[str, Placed]) -> None:
    ada, grace, linus = three["ada"], three["grace"], three["linus"]
    demo = store_id(demo_db_url)
    placed_at = {item["id"]: item["placedAt"] for item in listed(api, owner)["items"]}

    def found(**params: Any) -> set[str]:
        return {item["orderNumber"] for item in listed(api, owner, **params)["items"]}

    everyone = {ada.number, grace.number, linus.number}
    assert found() == everyone
    assert found(store="demo") == everyone
    assert found(store=str(demo)) == everyone
    assert found(email="ADA@example.com") == {ada.number}
    assert found(email="ada@example") == set()  # exact, not a part
    assert found(customerReference="cust-grace") == {grace.number}
    assert found(orderNumber=linus.number) == {linus.number}
    assert found(paymentStatus="Captured") == {ada.number}
    assert found(paymentStatus="pendingexternalsystem") == {linus.number}
    assert found(code="welcome10") == {ada.number}
    assert found(code="FREESHIP") == set()
    # totals: 2 mugs 19.80 - 10 % = 17.82 + 4.95 = 22.77; backpack 89.95 + 4.95 = 94.90;
    # bottle 24.90 + 4.95 = 29.85
    assert (ada.total, grace.total, linus.total) == (
        Decimal("22.77"), Decimal("94.90"), Decimal("29.85"))
    assert found(totalMin="29.85") == {grace.number, linus.number}
    assert found(totalMax=29.85) == {ada.number, linus.number}
    assert found(totalMin="25", totalMax="50") == {linus.number}
    assert found(placedFrom=placed_at[grace.id]) == {grace.number, linus.number}
    assert found(placedTo=placed_at[grace.id]) == {ada.number}
    assert found(placedFrom=placed_at[grace.id], placedTo=placed_at[linus.id]) == {
        grace.number}
    assert found(placedFrom="2000-01-01", placedTo="2000-01-02") == set()
    # free text: the customer's name or email, or the order number, any case
    assert found(q="GRACE") == {grace.number}
    assert found(q="hopper") == {grace.number}
    assert found(q="example.org") == {linus.number}
    assert found(q=ada.number[-3:]) >= {ada.number}
    # LIKE's wildcards are only characters here
    assert found(q="tor_valds") == {linus.number}
    assert found(q="tor%") == set()
    assert found(q="_") == {linus.number}
    # order status, by alias and by id, and fulfilment status, after the staff acted
    assert found(fulfilmentStatus="unfulfilled") == everyone
    act_on(api, demo_db_url, three)
    assert found(orderStatus="new") == {ada.number, grace.number}
    assert found(orderStatus="PROCESSING") == {linus.number}
    assert found(orderStatus=str(status_id(demo_db_url, "processing"))) == {linus.number}
    assert found(orderStatus="shipped") == set()
    row = next(i for i in listed(api, owner)["items"] if i["id"] == linus.id)
    assert row["orderStatus"] == {"id": str(status_id(demo_db_url, "processing")),
                                  "alias": "processing", "name": "Processing"}
    assert found(fulfilmentStatus="partial") == {ada.number}
    assert found(fulfilmentStatus="Fulfilled") == {grace.number}
    assert found(fulfilmentStatus="unfulfilled") == {linus.number}
    # filters together
    assert found(paymentStatus="Authorized", q="hopper") == {grace.number}
    assert found(paymentStatus="Authorized", q="lovelace") == set()


def test_sorting_by_total_and_oldest_first(api: TestClient, owner: dict[str, str],
                                           three: dict[str, Placed]) -> None:
    ada, grace, linus = three["ada"], three["grace"], three["linus"]
    assert numbers(listed(api, owner, direction="asc")) == [ada.number, grace.number,
                                                            linus.number]
    assert numbers(listed(api, owner, sort="totalPrice")) == [grace.number, linus.number,
                                                              ada.number]
    assert numbers(listed(api, owner, sort="totalprice", direction="ASC")) == [
        ada.number, linus.number, grace.number]


def test_orders_whose_total_is_not_known_come_last(api: TestClient, owner: dict[str, str],
                                                   demo_db_url: str,
                                                   three: dict[str, Placed]) -> None:
    unknown = place(api, email="old@example.com")  # placed before totals were kept
    set_columns(demo_db_url, unknown.id, total_price=None)
    for direction in ("desc", "asc"):
        pages, cursor = [], None
        while True:
            params: dict[str, Any] = {"sort": "totalPrice", "direction": direction,
                                      "limit": 1}
            if cursor:
                params["cursor"] = cursor
            body = listed(api, owner, **params)
            pages += numbers(body)
            cursor = body["nextCursor"]
            if cursor is None:
                break
        assert len(pages) == 4 and pages[-1] == unknown.number, (direction, pages)
    row = next(i for i in listed(api, owner)["items"] if i["id"] == unknown.id)
    assert row["totalPrice"] is None


def test_pages_stay_put_while_orders_come_in(api: TestClient, owner: dict[str, str]) -> None:
    placed = [place(api, email=f"shopper{n}@example.com") for n in range(5)]
    newest_first = [p.number for p in reversed(placed)]

    first = listed(api, owner, limit=2, count="true")
    assert numbers(first) == newest_first[:2]
    assert first["total"] == 5
    late = [place(api, email="late@example.com") for _ in range(2)]  # newer than every page
    second = listed(api, owner, limit=2, cursor=first["nextCursor"], count="true")
    assert numbers(second) == newest_first[2:4]
    assert second["total"] == 7  # the count is of now
    third = listed(api, owner, limit=2, cursor=second["nextCursor"])
    assert numbers(third) == newest_first[4:]
    assert third["nextCursor"] is None
    # a new first page begins with what came in
    assert numbers(listed(api, owner, limit=2)) == [late[1].number, late[0].number]
    assert listed(api, owner, count=True, email="late@example.com")["total"] == 2
    assert listed(api, owner, count=True, email="nobody@example.com")["total"] == 0


def test_a_page_of_orders_of_several_stores(api: TestClient, demo_db_url: str) -> None:
    outlet = import_second_store(demo_db_url)
    demo = store_id(demo_db_url)
    placed = []
    for n in range(6):
        placed.append((place(api, email=f"s{n}@example.com",
                             store="outlet" if n % 2 else "demo"), "outlet" if n % 2
                       else "demo"))
    owner = bearer(issue_token(demo_db_url, "owner"))
    pages, cursor = [], None
    while True:
        body = listed(api, owner, limit=4, **({"cursor": cursor} if cursor else {}))
        pages += [(item["id"], item["storeId"]) for item in body["items"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    expected_ids = [p.id for p, _ in reversed(placed)]
    assert [order_id for order_id, _ in pages] == expected_ids
    stores_seen = {alias: str(demo if alias == "demo" else outlet) for _, alias in placed}
    assert {store for _, store in pages} == set(stores_seen.values())
    assert listed(api, owner, count=True)["total"] == 6
    assert len(listed(api, owner, store="outlet")["items"]) == 3
    # a token for one store sees that store's orders only, and not the other's by name
    outlet_only = bearer(issue_token(demo_db_url, "support", stores=[outlet]))
    assert {i["storeId"] for i in listed(api, outlet_only)["items"]} == {str(outlet)}
    refused = api.get(ORDERS, headers=outlet_only, params={"store": "demo"})
    assert refused.status_code == 400
    assert "store" in refused.json()["detail"]


@pytest.mark.parametrize(("params", "named"), [
    ({"placedFrom": "yesterday"}, "placedFrom"),
    ({"placedTo": "2025-13-40"}, "placedTo"),
    ({"placedFrom": "2025-02-01", "placedTo": "2025-01-01"}, "placedFrom"),
    ({"totalMin": "ten"}, "totalMin"),
    ({"totalMin": "-1"}, "totalMin"),
    ({"totalMax": "NaN"}, "totalMax"),
    ({"totalMax": "1.0000001"}, "totalMax"),
    ({"totalMin": "5", "totalMax": "4"}, "totalMin"),
    ({"limit": "0"}, "limit"),
    ({"limit": "201"}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"count": "perhaps"}, "count"),
    ({"sort": "name"}, "sort"),
    ({"direction": "sideways"}, "direction"),
    ({"paymentStatus": "Paid"}, "paymentStatus"),
    ({"fulfilmentStatus": "shipped"}, "fulfilmentStatus"),
    ({"orderStatus": "lost"}, "orderStatus"),
    ({"store": "nowhere"}, "store"),
    ({"email": "a" * 321}, "email"),
    ({"q": "x" * 201}, "q"),
    ({"q": "tab\there"}, "q"),
    ({"code": "C" * 101}, "code"),
    ({"cursor": "not-a-cursor"}, "cursor"),
])
def test_a_bad_parameter_is_a_400_that_names_it(api: TestClient, owner: dict[str, str],
                                                params: dict[str, str], named: str) -> None:
    answer = api.get(ORDERS, headers=owner, params=params)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert named in answer.json()["detail"]


def test_a_tampered_or_foreign_cursor_is_refused(api: TestClient,
                                                 owner: dict[str, str]) -> None:
    for n in range(3):
        place(api, email=f"c{n}@example.com")
    cursor = listed(api, owner, limit=1)["nextCursor"]
    assert cursor
    for index in (0, len(cursor) // 2, len(cursor) - 1):
        flipped = "A" if cursor[index] != "A" else "B"
        tampered = cursor[:index] + flipped + cursor[index + 1:]
        answer = api.get(ORDERS, headers=owner, params={"cursor": tampered, "limit": 1})
        assert answer.status_code == 400, (index, answer.text)
        assert "cursor" in answer.json()["detail"]
    other_sort = api.get(ORDERS, headers=owner, params={"cursor": cursor,
                                                        "sort": "totalPrice"})
    assert other_sort.status_code == 400
    assert "sort" in other_sort.json()["detail"]
    audit_cursor = api.get(ORDERS, headers=owner, params={"cursor": cursor[:-4]})
    assert audit_cursor.status_code == 400


def test_who_may_list(api: TestClient, demo_db_url: str) -> None:
    place(api)
    for role in ("owner", "manager", "fulfilment", "support"):
        assert len(listed(api, bearer(issue_token(demo_db_url, role)))["items"]) == 1
    elsewhere = bearer(issue_token(demo_db_url, "manager", stores=[UUID(int=1)]))
    assert listed(api, elsewhere)["items"] == []
    assert listed(api, elsewhere, count=True)["total"] == 0
    assert api.get(ORDERS).status_code == 401
