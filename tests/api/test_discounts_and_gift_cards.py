"""Discount codes and gift cards over HTTP, as a storefront redeems and pays with them.

The demo store has WELCOME10 (10 % off the subtotal), FREESHIP (free shipping from
EUR 30.00, 1000 uses) and the gift card GIFT-DEMO-25 (EUR 25.00); some tests add ONCE5
(EUR 5.00 off the subtotal, one use). Figures follow the demo store (EUR prices include
tax, ``unit`` rounding, shipped to DE: standard 19 %): unit withoutTax =
round_half_up(price / 1.19, 2); a discount scales each side of the price it reduces and
rounds it half up. Every expected figure is a constant with its arithmetic alongside;
nothing here calls the server's own pricing code.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kasse.adapters.config_file import read_config_file
from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.api.app import create_app
from kasse.demo import DEMO_STORE_FILE
from kasse.services.store_import import (
    ImportResult,
    StoreFileInvalid,
    dotted_location,
    import_store,
)
from tests.api.conftest import BASE, make_settings
from tests.api.test_inline_checkout import (
    add,
    by_alias,
    cart,
    checkout_url,
    confirm,
    create,
    dec,
    get_order,
    initialize,
    m,
    money,
    ok,
    order_url,
    patch,
    problem,
)
from tests.conftest import API_KEY

PRICES = {"expand": "$prices"}
CODE_REJECTED = "urn:kasse:problem:code-rejected"
ZERO = m("0", "0", "0")

STANDARD_DE = m("4.16", "0.79", "4.95")  # 4.95 / 1.19 = 4.1596… -> 4.16
# Trail Backpack 89.95: 89.95 / 1.19 = 75.5882… -> 75.59; tax 14.36; x2
BACKPACK_2 = m("151.18", "28.72", "179.90")
# WELCOME10 on two backpacks: 151.18 x 0.1 = 15.118 -> 15.12; 179.90 x 0.1 = 17.99
WELCOME_OFF = m("-15.12", "-2.87", "-17.99")
WELCOME_SUBTOTAL = m("136.06", "25.85", "161.91")  # 151.18-15.12, 179.90-17.99
WELCOME_TOTAL = m("140.22", "26.64", "166.86")  # + standard 4.16 / 4.95, invoicing 0
BACKPACKS_TOTAL = Decimal("184.85")  # 179.90 + 4.95
# Enamel Camp Mug 9.90: 9.90 / 1.19 = 8.3193… -> 8.32; tax 1.58
MUGS_3 = m("24.96", "4.74", "29.70")  # below FREESHIP's EUR 30.00
MUGS_4 = m("33.28", "6.32", "39.60")
# ONCE5 on one backpack: 75.59 x 5.00/89.95 = 4.2017… -> 4.20 -> 71.39 / 84.95;
# + standard: 71.39+4.16 = 75.55, 84.95+4.95 = 89.90
ONCE5_BACKPACK_TOTAL = Decimal("89.90")
BACKPACK_TOTAL = Decimal("94.90")  # 89.95 + 4.95
JACKET_TOTAL = Decimal("163.95")  # Rain Jacket M 159.00 + 4.95
MUG_TOTAL = Decimal("14.85")  # 9.90 + 4.95


# --- helpers ---------------------------------------------------------------------------------


def redeem(client: TestClient, order_id: str, *codes: str) -> dict[str, Any]:
    return patch(client, order_id, {"redeem": list(codes)})


def priced(client: TestClient, order_id: str) -> dict[str, Any]:
    order: dict[str, Any] = ok(client.get(order_url(order_id), params=PRICES))
    return order


def due(order: dict[str, Any]) -> Decimal:
    return dec(order["transactionAmount"]["value"]["value"])


def codes(order: dict[str, Any]) -> list[tuple[str, str | None, bool]]:
    """The discount codes on the order as (code, discount alias, isFulfilled)."""
    return [(c["code"], c["discount"]["alias"] if c["discount"] else None, c["isFulfilled"])
            for c in order["discountCodes"]]


def card_payments(order: dict[str, Any]) -> list[tuple[str, Decimal]]:
    """What each gift card pays, from the ``$prices`` transaction amount."""
    return [(a["type"], dec(a["amount"]["value"]))
            for a in order["transactionAmount"]["adjustments"]]


def rejected(client: TestClient, order_id: str, body: dict[str, Any]) -> str:
    """A refused PATCH: a code-rejected problem, the order as it was; returns the detail."""
    before = priced(client, order_id)
    response = client.patch(order_url(order_id), json=body)
    detail = problem(response, 400)
    assert response.json()["type"] == CODE_REJECTED
    assert priced(client, order_id) == before
    return detail


def placed(client: TestClient, order_id: str) -> dict[str, Any]:
    """The order, which must be finalized (placed), with its full prices."""
    order = priced(client, order_id)
    assert order["isFinalized"] is True, order
    return order


def pay(client: TestClient, order_id: str) -> dict[str, Any]:
    """Initialize and confirm the order for what is due; returns the placed order."""
    initialize(client, order_id)
    amount = due(get_order(client, order_id))
    ok(confirm(client, order_id, amount, transaction_id=order_id))
    return placed(client, order_id)


def demo_data(*extra_discounts: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(read_config_file(DEMO_STORE_FILE).data)
    data["discounts"].extend(extra_discounts)
    return data


ONCE5 = {"alias": "once-five", "name": "Five off, once", "type": "Code",
         "codes": [{"code": "ONCE5", "usageLimit": 1}],
         "rewards": [{"target": "subtotal", "amounts": {"EUR": Decimal("5.00")}}]}
OLD10 = {"alias": "old", "name": "Last year's 10 %", "type": "Code", "codes": ["OLD10"],
         "expiryDate": "2020-01-01T00:00:00Z",
         "rewards": [{"target": "subtotal", "percentage": Decimal("10")}]}


def import_data(db_url: str, data: dict[str, Any]) -> ImportResult:
    async def run() -> ImportResult:
        db = Database.from_url(db_url)
        try:
            return await import_store(SqlStorage(db), data)
        finally:
            await db.dispose()

    return asyncio.run(run())


@contextmanager
def serve(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """A freshly started server (it reads the store configuration at start)."""
    app = create_app(make_settings(db_url, tmp_path))
    with TestClient(app, headers={"Api-Key": API_KEY, "Store": "demo"},
                    raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def once5_client(demo_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The demo store with the one-use code ONCE5 and the expired code OLD10 added."""
    import_data(demo_db_url, demo_data(ONCE5, OLD10))
    with serve(demo_db_url, tmp_path) as test_client:
        yield test_client


# --- discount codes --------------------------------------------------------------------------


def test_welcome10_takes_ten_percent_off_the_subtotal(client: TestClient) -> None:
    order_id = cart(client, ("trail-backpack", 2, None))
    answer = redeem(client, order_id, "welcome10")
    assert codes(answer) == [("WELCOME10", "welcome10", True)]
    assert answer["discountCodes"][0]["discount"]["$type"] == "DiscountRef"
    assert answer["discounts"] == []  # lists automatic discounts only
    order = priced(client, order_id)
    subtotal = order["subtotalPrice"]
    assert money(subtotal["value"]) == WELCOME_SUBTOTAL
    assert money(subtotal["withoutAdjustments"]) == BACKPACK_2
    assert money(subtotal["adjustment"]) == WELCOME_OFF
    assert [(a["name"], a["type"], money(a["price"])) for a in subtotal["adjustments"]] == [
        ("Welcome, 10 % off", "Discount", WELCOME_OFF)]
    assert money(order["totalPrice"]["value"]) == WELCOME_TOTAL
    assert due(order) == WELCOME_TOTAL[2]


def test_the_total_counts_the_subtotal_discount_among_its_adjustments(
        client: TestClient) -> None:
    """A storefront showing "you save" from totalPrice.totalAdjustment sees the 17.99."""
    order_id = cart(client, ("trail-backpack", 2, None))
    redeem(client, order_id, "WELCOME10")
    total = priced(client, order_id)["totalPrice"]
    assert money(total["previousAdjustments"]) == WELCOME_OFF
    assert money(total["totalAdjustment"]) == WELCOME_OFF


def test_freeship_waits_for_the_minimum_subtotal(client: TestClient) -> None:
    order_id = cart(client, ("camp-mug", 3, None))
    below = redeem(client, order_id, "FreeShip")
    assert codes(below) == [("FREESHIP", "free-shipping", False)]
    assert money(below["subtotalPrice"]["value"]) == MUGS_3
    assert money(below["shippingInfo"]["totalPrice"]["value"]) == STANDARD_DE
    assert due(below) == Decimal("34.65")  # 29.70 + 4.95

    add(client, order_id, "camp-mug", 1)
    order = priced(client, order_id)
    assert codes(order) == [("FREESHIP", "free-shipping", True)]
    shipping = order["shippingInfo"]["totalPrice"]
    assert money(shipping["value"]) == ZERO
    assert money(shipping["withoutAdjustments"]) == STANDARD_DE
    assert [(a["name"], money(a["price"])) for a in shipping["adjustments"]] == [
        ("Free shipping", m("-4.16", "-0.79", "-4.95"))]
    assert money(order["totalPrice"]["value"]) == MUGS_4
    assert due(order) == Decimal("39.60")


def test_an_unknown_code_is_refused_and_nothing_is_saved(client: TestClient) -> None:
    order_id = cart(client, ("trail-backpack", 2, None))
    redeem(client, order_id, "WELCOME10")
    detail = rejected(client, order_id, {"redeem": ["NOPE-123"], "tags": ["vip"]})
    assert "'NOPE-123'" in detail, detail
    assert get_order(client, order_id)["tags"] == []


def test_a_gift_card_in_another_currency_is_refused(client: TestClient) -> None:
    order_id = ok(client.post(f"{BASE}/v1/orders", json={"currency": "USD"}))["id"]
    add(client, order_id, "trail-backpack", 1)
    detail = rejected(client, order_id, {"redeem": ["GIFT-DEMO-25"]})
    assert "'GIFT-DEMO-25'" in detail and "another currency" in detail, detail


def test_unredeeming_restores_the_full_price(client: TestClient) -> None:
    order_id = cart(client, ("trail-backpack", 2, None))
    redeem(client, order_id, "WELCOME10", "GIFT-DEMO-25")
    # 166.86 - 25.00
    assert due(get_order(client, order_id)) == Decimal("141.86")
    order = patch(client, order_id, {"unredeem": ["welcome10", "gift-demo-25"]})
    assert (order["discountCodes"], order["giftCards"]) == ([], [])
    assert money(order["subtotalPrice"]["value"]) == BACKPACK_2
    assert due(order) == BACKPACKS_TOTAL
    detail = rejected(client, order_id, {"unredeem": ["WELCOME10"]})
    assert "'WELCOME10'" in detail and "not redeemed" in detail, detail


# --- gift cards --------------------------------------------------------------------------------


def test_a_gift_card_reduces_the_transaction_amount(client: TestClient) -> None:
    order_id = cart(client, ("trail-backpack", 2, None))
    answer = redeem(client, order_id, "gift-demo-25")
    [card] = answer["giftCards"]
    assert (card["$type"], card["code"]) == ("GiftCardRef", "GIFT-DEMO-25")
    order = priced(client, order_id)
    amount = order["transactionAmount"]
    assert dec(amount["withoutAdjustments"]["value"]) == BACKPACKS_TOTAL
    assert card_payments(order) == [("GiftCard", Decimal("-25.00"))]
    assert dec(amount["adjustment"]["value"]) == Decimal("-25.00")
    assert due(order) == Decimal("159.85")  # 184.85 - 25.00
    assert dec(order["totalPrice"]["value"]["withTax"]) == BACKPACKS_TOTAL  # the total stays


def test_a_placed_order_uses_up_the_card(client: TestClient) -> None:
    order_id = cart(client, ("trail-backpack", 1, None))
    redeem(client, order_id, "GIFT-DEMO-25")
    order = pay(client, order_id)
    # 94.90 - 25.00
    assert dec(order["transactionInfo"]["authorizedAmount"]["value"]) == Decimal("69.90")
    later = cart(client, ("trail-backpack", 1, None))
    detail = rejected(client, later, {"redeem": ["GIFT-DEMO-25"]})
    assert "'GIFT-DEMO-25'" in detail and "no balance left" in detail, detail
    # the placed order keeps showing what the card paid
    assert card_payments(priced(client, order_id)) == [("GiftCard", Decimal("-25.00"))]
    assert due(get_order(client, order_id)) == Decimal("69.90")


def test_a_cart_the_card_covers_is_placed_with_zero_value(client: TestClient) -> None:
    order_id = cart(client, ("camp-mug", 1, None))
    order = redeem(client, order_id, "GIFT-DEMO-25")
    assert due(order) == 0  # 14.85 fully covered
    methods = by_alias(ok(client.get(checkout_url(order_id, "paymentmethods"))))
    assert list(methods) == ["zero-value"]
    patch(client, order_id, {"paymentMethod": "zero-value"})
    initialize(client, order_id)
    ok(confirm(client, order_id, Decimal(0)))
    assert card_payments(placed(client, order_id)) == [("GiftCard", -MUG_TOTAL)]

    # 25.00 - 14.85 = 10.15 left; the next cart pays 94.90 - 10.15
    later = cart(client, ("trail-backpack", 1, None))
    order = redeem(client, later, "GIFT-DEMO-25")
    assert due(order) == Decimal("84.75")
    assert card_payments(priced(client, later)) == [("GiftCard", Decimal("-10.15"))]


def test_a_card_spent_by_another_order_meanwhile_stops_the_confirm(client: TestClient) -> None:
    first = cart(client, ("trail-backpack", 1, None))
    second = cart(client, ("rain-jacket", 1, "rain-jacket-m"))
    for order_id in (first, second):
        redeem(client, order_id, "GIFT-DEMO-25")
        initialize(client, order_id)
    ok(confirm(client, first, BACKPACK_TOTAL - 25, transaction_id="tx-first"))  # 69.90

    # the second one was initialized for 163.95 - 25.00 = 138.95
    detail = problem(confirm(client, second, Decimal("138.95"), transaction_id="tx-2"), 400)
    assert "'GIFT-DEMO-25'" in detail and "balance" in detail, detail
    assert get_order(client, second)["isFinalized"] is False
    assert due(get_order(client, second)) == JACKET_TOTAL
    initialize(client, second)
    ok(confirm(client, second, JACKET_TOTAL, transaction_id="tx-2"))
    assert due(placed(client, second)) == JACKET_TOTAL


# --- a code with one use -----------------------------------------------------------------------


def test_a_code_used_up_by_a_placed_order(once5_client: TestClient) -> None:
    client = once5_client
    waiting = cart(client, ("trail-backpack", 1, None))
    assert codes(redeem(client, waiting, "ONCE5")) == [("ONCE5", "once-five", True)]
    initialize(client, waiting)

    first = cart(client, ("trail-backpack", 1, None))
    assert due(redeem(client, first, "once5")) == ONCE5_BACKPACK_TOTAL
    pay(client, first)

    # a new cart cannot redeem it any more
    fresh = cart(client, ("trail-backpack", 1, None))
    detail = rejected(client, fresh, {"redeem": ["ONCE5"]})
    assert "'ONCE5'" in detail and "used up" in detail, detail

    # the cart that redeemed it before still lists it, not fulfilled, at the full price
    order = get_order(client, waiting)
    assert codes(order) == [("ONCE5", "once-five", False)]
    assert due(order) == BACKPACK_TOTAL
    detail = problem(confirm(client, waiting, ONCE5_BACKPACK_TOTAL, transaction_id="tx-w"), 400)
    assert "'ONCE5'" in detail and "used up by other orders" in detail, detail
    assert get_order(client, waiting)["isFinalized"] is False
    initialize(client, waiting)
    ok(confirm(client, waiting, BACKPACK_TOTAL, transaction_id="tx-w"))
    assert get_order(client, waiting)["isFinalized"] is True

    # the first order keeps the discount it was placed with
    order = placed(client, first)
    assert codes(order) == [("ONCE5", "once-five", True)]
    assert [(a["name"], dec(a["price"]["withTax"]))
            for a in order["subtotalPrice"]["adjustments"]] == [("Five off, once",
                                                                 Decimal("-5.00"))]
    assert due(order) == ONCE5_BACKPACK_TOTAL


def test_an_expired_code_is_refused(once5_client: TestClient) -> None:
    order_id = cart(once5_client, ("trail-backpack", 1, None))
    detail = rejected(once5_client, order_id, {"redeem": ["old10"]})
    assert "'OLD10' has expired" in detail, detail


def test_an_order_placed_at_full_price_keeps_showing_the_full_price(
        once5_client: TestClient) -> None:
    """The cart whose code was used up meanwhile paid 94.90; its order must say 94.90."""
    client = once5_client
    late = cart(client, ("trail-backpack", 1, None))
    redeem(client, late, "ONCE5")
    first = cart(client, ("trail-backpack", 1, None))
    redeem(client, first, "ONCE5")
    pay(client, first)
    order = pay(client, late)
    assert dec(order["transactionInfo"]["authorizedAmount"]["value"]) == BACKPACK_TOTAL
    assert codes(order) == [("ONCE5", "once-five", False)]
    assert order["subtotalPrice"]["adjustments"] == []
    assert due(order) == BACKPACK_TOTAL


def test_importing_the_store_again_keeps_uses_and_debits(
        once5_client: TestClient, demo_db_url: str, tmp_path: Path) -> None:
    # ONCE5 on one mug: 8.32 x 5.00/9.90 = 4.2020… -> 4.20; 9.90 - 5.00 = 4.90;
    # + standard 4.95 = 9.85, all paid by the card: 25.00 - 9.85 = 15.15 left
    order_id = cart(once5_client, ("camp-mug", 1, None), payment="zero-value")
    order = redeem(once5_client, order_id, "ONCE5", "GIFT-DEMO-25")
    assert card_payments(priced(once5_client, order_id)) == [("GiftCard", Decimal("-9.85"))]
    assert due(order) == 0
    pay(once5_client, order_id)

    # the same file again: it resets the mug's stock to the file's, not uses or balances
    same = import_data(demo_db_url, demo_data(ONCE5, OLD10)).per_table
    assert (same["discount_codes"], same["gift_cards"]) == ((0, 0, 0), (0, 0, 0))
    # a changed discount and card are updated, and still keep their uses and debits
    renamed = {**ONCE5, "name": "Five off"}
    data = demo_data(renamed, OLD10)
    data["giftCards"][0]["expiryDate"] = "2099-12-31T00:00:00Z"
    result = import_data(demo_db_url, data)
    assert result.per_table["gift_cards"] == (0, 1, 0)
    assert result.per_table["discounts"][1] == 1

    with serve(demo_db_url, tmp_path) as client:
        later = cart(client, ("trail-backpack", 1, None))
        detail = rejected(client, later, {"redeem": ["ONCE5"]})
        assert "used up" in detail, detail
        # 94.90 - 15.15
        assert due(redeem(client, later, "GIFT-DEMO-25")) == Decimal("79.75")


# --- the store file ----------------------------------------------------------------------------


def _no_codes(data: dict[str, Any]) -> None:
    data["discounts"][0]["codes"] = []


def _percentage_and_amounts(data: dict[str, Any]) -> None:
    data["discounts"][0]["rewards"][0]["amounts"] = {"EUR": Decimal("5")}


def _lines_without_products(data: dict[str, Any]) -> None:
    data["discounts"][0]["rewards"][0]["target"] = "lines"


def _unknown_reward_currency(data: dict[str, Any]) -> None:
    data["discounts"][1]["rewards"][0] = {"target": "shipping",
                                          "amounts": {"XYZ": Decimal("5")}}


def _unknown_minimum_currency(data: dict[str, Any]) -> None:
    data["discounts"][1]["rules"]["minSubtotal"]["CHF"] = Decimal("30")


def _unknown_card_currency(data: dict[str, Any]) -> None:
    data["giftCards"][0]["currency"] = "CHF"


@pytest.mark.parametrize(("spoil", "where", "message"), [
    (_no_codes, "discounts[0].codes", "a Code discount needs at least one code"),
    (_percentage_and_amounts, "discounts[0].rewards[0]", "either a percentage or amounts"),
    (_lines_without_products, "discounts[0].rewards[0].products", "names the products"),
    (_unknown_reward_currency, "discounts[1].rewards[0].amounts.XYZ",
     "currency 'XYZ' is not in currencies"),
    (_unknown_minimum_currency, "discounts[1].rules.minSubtotal.CHF",
     "currency 'CHF' is not in currencies"),
    (_unknown_card_currency, "giftCards[0].currency", "currency 'CHF' is not in currencies"),
])
def test_the_store_file_refuses_a_bad_discount_or_gift_card(
        client: TestClient, demo_db_url: str, spoil: Any, where: str, message: str) -> None:
    data = demo_data()
    spoil(data)
    with pytest.raises(StoreFileInvalid) as refused:
        import_data(demo_db_url, data)
    problems = {dotted_location(loc): text for loc, text in refused.value.problems}
    assert where in problems, problems
    assert message in problems[where], problems
    # nothing was changed: the demo discounts work as before
    order_id = cart(client, ("trail-backpack", 2, None))
    assert due(redeem(client, order_id, "WELCOME10", "GIFT-DEMO-25")) == Decimal("141.86")


def test_codes_are_listed_with_their_discount_expanded(client: TestClient) -> None:
    order_id = create(client)
    add(client, order_id, "trail-backpack", 1)
    redeem(client, order_id, "WELCOME10")
    order = ok(client.get(order_url(order_id), params={"expand": "discountCodes[discount]"}))
    discount = order["discountCodes"][0]["discount"]
    assert (discount["$type"], discount["alias"], discount["name"], discount["type"]) == (
        "Discount", "welcome10", "Welcome, 10 % off", "Code")
