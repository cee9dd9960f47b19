"""Discounts and gift cards as a shopper meets them, priced in memory.

A tiny store sets prices including tax (DE 19 %, FR 20 %), rounds every unit and every
adjustment like a line, and ships by post for EUR 4.95. The usual cart is one backpack
(EUR 50.00, SKU BAG-1) and two tees (EUR 20.00 each, SKU TEE-M), shipped to Germany:

* backpack: 50.00 / 1.19 = 42.0168… -> 42.02; tax 7.98
* 2 tees: 20.00 / 1.19 = 16.8067… -> 16.81; x2 = 33.62; tax 6.38
* subtotal 75.64 / 14.36 / 90.00; post 4.95 / 1.19 = 4.1596… -> 4.16; tax 0.79
* total 79.80 / 15.15 / 94.95

A discount scales each side of the price it reduces, rounded half up. Expected figures
are constants with their arithmetic; nothing calls the code under test to work them out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from uuid import UUID

import pytest

from kasse.domain.discounts import (
    CodeRejected,
    CodeUsage,
    Discount,
    DiscountCode,
    DiscountKind,
    GiftCard,
    Reward,
    RewardTarget,
)
from kasse.domain.money import RoundingMethod
from kasse.domain.order import Order, OrderLine
from kasse.domain.order_calculation import AdjustedPrice, OrderCalculation, calculate
from kasse.domain.pricing import Price
from kasse.domain.store import (
    Country,
    Currency,
    ShippingMethod,
    Store,
    StoreConfig,
    TaxClass,
    TaxRate,
)

D = Decimal
NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
STORE_ID = uuid.uuid4()
EUR = Currency(uuid.uuid4(), STORE_ID, "EUR", "Euro", "de-DE", 2)
USD = Currency(uuid.uuid4(), STORE_ID, "USD", "US Dollar", "en-US", 2)
DE = Country(uuid.uuid4(), STORE_ID, "DE", "Germany")
FR = Country(uuid.uuid4(), STORE_ID, "FR", "France")
STANDARD = TaxClass(uuid.uuid4(), STORE_ID, "standard", "Standard", D("0.19"),
                    rates=(TaxRate(FR.id, None, D("0.2")),))
POST = ShippingMethod(uuid.uuid4(), STORE_ID, "post", "Post",
                      prices=MappingProxyType({EUR.id: D("4.95"), USD.id: D("5.95")}))
PRICES = {"backpack": {EUR.id: D("50.00"), USD.id: D("55.00")},
          "tee": {EUR.id: D("20.00"), USD.id: D("22.00")}}
SKUS = {"backpack": "BAG-1", "tee": "TEE-M"}

Money = tuple[Decimal, Decimal, Decimal]
"""(withoutTax, tax, withTax)"""


def m(without_tax: str, tax: str, with_tax: str) -> Money:
    return D(without_tax), D(tax), D(with_tax)


def money(price: Price) -> Money:
    return price.without_tax, price.tax, price.with_tax


ZERO = m("0", "0", "0")
BACKPACK = m("42.02", "7.98", "50.00")
TEES = m("33.62", "6.38", "40.00")
SUBTOTAL = m("75.64", "14.36", "90.00")  # 42.02+33.62, 7.98+6.38, 50+40
SHIPPING = m("4.16", "0.79", "4.95")
TOTAL = m("79.80", "15.15", "94.95")  # 75.64+4.16, 14.36+0.79, 90.00+4.95
# 10 % of the subtotal: 75.64 x 0.1 = 7.564 -> 7.56; 90.00 x 0.1 = 9.00
TEN_PERCENT_OFF = m("-7.56", "-1.44", "-9.00")
SUBTOTAL_10 = m("68.08", "12.92", "81.00")  # 75.64-7.56, 90.00-9.00


# --- building the store and the cart ----------------------------------------------------


def shop(*discounts: Discount, includes_tax: bool = True) -> StoreConfig:
    store = Store(STORE_ID, "shop", "Shop", includes_tax, EUR.id, DE.id, STANDARD.id, None,
                  "CART-{0}", "ORDER-{0}", RoundingMethod.UNIT)
    return StoreConfig(store, (EUR, USD), (DE, FR), (STANDARD,), (), (), (POST,),
                       discounts=discounts)


def cart(*lines: tuple[str, int], currency: Currency = EUR, country: Country = DE) -> Order:
    """A cart shipped by post to ``country``; lines at the catalog price."""
    return Order(
        id=uuid.uuid4(), store_id=STORE_ID, cart_number="CART-1", currency_id=currency.id,
        created_at=NOW, updated_at=NOW, billing_country_id=country.id,
        shipping_method_id=POST.id,
        lines=[OrderLine(id=uuid.uuid4(), product_reference=ref, variant_reference=None,
                         sku=SKUS[ref], name=ref, quantity=D(quantity),
                         unit_price=PRICES[ref][currency.id])
               for ref, quantity in lines])


def usual_cart(currency: Currency = EUR, country: Country = DE) -> Order:  # 94.95
    return cart(("backpack", 1), ("tee", 2), currency=currency, country=country)


def discount(alias: str, *rewards: Reward, code: str | None = None,
             usage_limit: int | None = None, active: bool = True,
             starts_at: datetime | None = None, expires_at: datetime | None = None,
             block_further: bool = False, min_subtotal: dict[UUID, Decimal] | None = None,
             countries: frozenset[UUID] = frozenset()) -> Discount:
    """An automatic discount, or a code discount when ``code`` is given."""
    codes = (DiscountCode(uuid.uuid4(), code, usage_limit),) if code else ()
    kind = DiscountKind.CODE if code else DiscountKind.AUTOMATIC
    return Discount(uuid.uuid4(), alias, alias.title(), kind, rewards, active=active,
                    starts_at=starts_at, expires_at=expires_at, block_further=block_further,
                    min_subtotal=min_subtotal or {}, countries=countries, codes=codes)


def percent(target: RewardTarget, fraction: str) -> Reward:
    return Reward(target, percentage=D(fraction))


def eur_off(target: RewardTarget, amount: str, *products: str) -> Reward:
    return Reward(target, amounts={EUR.id: D(amount)}, products=frozenset(products))


SUBTOTAL_10_PERCENT = percent(RewardTarget.SUBTOTAL, "0.1")
FREE_SHIPPING = percent(RewardTarget.SHIPPING, "1")


def price_of(calc: OrderCalculation, reference: str, order: Order) -> AdjustedPrice:
    line = next(line for line in order.lines if line.product_reference == reference)
    return calc.lines[line.id].total_price


def shipping_paid(config: StoreConfig, order: Order, at: datetime = NOW) -> Decimal:
    return calculate(order, config, at).shipping.price.value.with_tax


def gift_card(code: str, amount: str, debited: str = "0", currency: Currency = EUR,
              expires_at: datetime | None = None) -> GiftCard:
    return GiftCard(uuid.uuid4(), code, currency.id, D(amount), D(debited), expires_at)


# --- rewards -----------------------------------------------------------------------------


def test_ten_percent_off_the_subtotal() -> None:
    order = usual_cart()
    calc = calculate(order, shop(discount("welcome", SUBTOTAL_10_PERCENT)), NOW)
    assert money(calc.subtotal.value) == SUBTOTAL_10
    assert money(calc.subtotal.without_adjustments) == SUBTOTAL
    assert [(a.name, a.type, money(a.price)) for a in calc.subtotal.adjustments] == [
        ("Welcome", "Discount", TEN_PERCENT_OFF)]
    # 68.08+4.16, 12.92+0.79, 81.00+4.95
    assert money(calc.total.value) == m("72.24", "13.71", "85.95")
    assert calc.transaction_amount == D("85.95")


def test_a_fixed_amount_comes_off_in_the_orders_currency_only() -> None:
    config = shop(discount("fifteen", eur_off(RewardTarget.SUBTOTAL, "15.00")))
    calc = calculate(usual_cart(), config, NOW)
    # 75.64 x 15/90 = 12.6066… -> 12.61; 90.00 x 15/90 = 15.00
    assert money(calc.subtotal.adjustment) == m("-12.61", "-2.39", "-15.00")
    assert money(calc.subtotal.value) == m("63.03", "11.97", "75.00")
    # in dollars the discount has no amount: 2 tees at USD 22.00 -> 22.00 / 1.19 = 18.4873…
    # -> 18.49; x2 = 36.98; tax 7.02
    usd = calculate(cart(("tee", 2), currency=USD), config, NOW)
    assert usd.subtotal.adjustments == ()
    assert money(usd.subtotal.value) == m("36.98", "7.02", "44.00")


def test_a_per_unit_amount_off_lines_matched_by_reference() -> None:
    order = usual_cart()
    calc = calculate(order, shop(discount("tees", eur_off(RewardTarget.LINES, "5.00", "tee"))),
                     NOW)
    tees = price_of(calc, "tee", order)
    # 5.00 per unit x 2 = 10.00 of 40.00: 33.62 x 0.25 = 8.405 -> 8.41
    assert money(tees.adjustment) == m("-8.41", "-1.59", "-10.00")
    assert money(tees.value) == m("25.21", "4.79", "30.00")
    assert money(price_of(calc, "backpack", order).value) == BACKPACK
    assert price_of(calc, "backpack", order).adjustments == ()
    # the subtotal sums the discounted lines and shows their discount as previous
    assert money(calc.subtotal.value) == m("67.23", "12.77", "80.00")
    assert calc.subtotal.previous_adjustments is not None
    assert money(calc.subtotal.previous_adjustments) == m("-8.41", "-1.59", "-10.00")


def test_a_per_unit_amount_off_lines_matched_by_sku() -> None:
    order = usual_cart()
    config = shop(discount("bags", eur_off(RewardTarget.LINES, "5.00", "BAG-1")))
    calc = calculate(order, config, NOW)
    # 5.00 of 50.00: 42.02 x 0.1 = 4.202 -> 4.20
    assert money(price_of(calc, "backpack", order).value) == m("37.82", "7.18", "45.00")
    assert money(price_of(calc, "tee", order).value) == TEES


def test_a_discount_never_takes_a_price_below_zero() -> None:
    order = usual_cart()
    config = shop(discount("huge", eur_off(RewardTarget.LINES, "60.00", "backpack"),
                           eur_off(RewardTarget.SUBTOTAL, "200.00")))
    calc = calculate(order, config, NOW)
    assert money(price_of(calc, "backpack", order).value) == ZERO
    assert money(calc.subtotal.value) == ZERO
    assert money(calc.total.value) == SHIPPING
    assert calc.transaction_amount == D("4.95")


def test_free_shipping() -> None:
    calc = calculate(usual_cart(), shop(discount("free", FREE_SHIPPING)), NOW)
    shipping = calc.shipping.price
    assert money(shipping.value) == ZERO
    assert money(shipping.without_adjustments) == SHIPPING
    assert [money(a.price) for a in shipping.adjustments] == [m("-4.16", "-0.79", "-4.95")]
    assert money(calc.total.value) == SUBTOTAL
    # the shipping discount shows on the total as an adjustment made below it
    assert money(calc.total.total_adjustment) == m("-4.16", "-0.79", "-4.95")


def test_a_percentage_off_the_total_is_rounded_like_a_line() -> None:
    calc = calculate(usual_cart(), shop(discount("total", percent(RewardTarget.TOTAL, "0.1"))),
                     NOW)
    # 79.80 x 0.1 = 7.98; 94.95 x 0.1 = 9.495 -> 9.50 (half up)
    assert money(calc.total.adjustment) == m("-7.98", "-1.52", "-9.50")
    assert money(calc.total.value) == m("71.82", "13.63", "85.45")
    assert calc.transaction_amount == D("85.45")


def test_a_fixed_amount_is_taken_off_the_net_price_when_prices_exclude_tax() -> None:
    config = shop(discount("ten", eur_off(RewardTarget.SUBTOTAL, "10.00")), includes_tax=False)
    calc = calculate(usual_cart(), config, NOW)
    # net 50.00 + 2 x 20.00 = 90.00; gross 59.50 + 2 x 23.80 = 107.10
    assert money(calc.subtotal.without_adjustments) == m("90.00", "17.10", "107.10")
    # 10.00 off the net 90.00; 107.10 x 10/90 = 11.90
    assert money(calc.subtotal.value) == m("80.00", "15.20", "95.20")


# --- rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(("currency", "minimum", "paid"), [
    (EUR, "90.01", "4.95"),  # just below
    (EUR, "90.00", "0"),  # at the threshold
    (USD, "1.00", "5.95"),  # no minimum in dollars: a dollar cart does not qualify
])
def test_a_minimum_subtotal_in_the_orders_currency(currency: Currency, minimum: str,
                                                   paid: str) -> None:
    config = shop(discount("free", FREE_SHIPPING, min_subtotal={EUR.id: D(minimum)}))
    assert shipping_paid(config, usual_cart(currency=currency)) == D(paid)


def test_a_country_rule_looks_at_the_shipping_country() -> None:
    config = shop(discount("france", FREE_SHIPPING, countries=frozenset({FR.id})))
    assert shipping_paid(config, usual_cart(country=DE)) == D("4.95")
    assert shipping_paid(config, usual_cart(country=FR)) == D(0)


@pytest.mark.parametrize(("at", "free"), [
    (datetime(2025, 2, 28, 23, 59, 59, tzinfo=UTC), False),  # before the start
    (datetime(2025, 3, 1, tzinfo=UTC), True),  # from the start
    (datetime(2025, 3, 31, 23, 59, 59, tzinfo=UTC), True),  # inside
    (datetime(2025, 4, 1, tzinfo=UTC), False),  # at expiry
    (datetime(2025, 5, 1, tzinfo=UTC), False),  # after
])
def test_a_discount_applies_only_inside_its_date_window(at: datetime, free: bool) -> None:
    config = shop(discount("march", FREE_SHIPPING, starts_at=datetime(2025, 3, 1, tzinfo=UTC),
                           expires_at=datetime(2025, 4, 1, tzinfo=UTC)))
    assert shipping_paid(config, usual_cart(), at) == (D(0) if free else D("4.95"))


def test_an_inactive_discount_does_not_apply() -> None:
    config = shop(discount("off", FREE_SHIPPING, active=False))
    assert shipping_paid(config, usual_cart()) == D("4.95")


def test_a_discount_that_blocks_further_discounts_stops_the_list_when_it_applies() -> None:
    blocking = discount("first", SUBTOTAL_10_PERCENT, block_further=True)
    calc = calculate(usual_cart(), shop(blocking, discount("free", FREE_SHIPPING)), NOW)
    assert money(calc.subtotal.value) == SUBTOTAL_10
    assert money(calc.shipping.price.value) == SHIPPING
    # listed after the other one, it blocks nothing
    calc = calculate(usual_cart(), shop(discount("free", FREE_SHIPPING), blocking), NOW)
    assert (money(calc.subtotal.value), money(calc.shipping.price.value)) == (SUBTOTAL_10, ZERO)
    # when its own rule fails it does not apply, and blocks nothing
    unmet = discount("big", SUBTOTAL_10_PERCENT, block_further=True,
                     min_subtotal={EUR.id: D("100.00")})
    calc = calculate(usual_cart(), shop(unmet, discount("free", FREE_SHIPPING)), NOW)
    assert (money(calc.subtotal.value), money(calc.shipping.price.value)) == (SUBTOTAL, ZERO)


def test_discounts_apply_one_after_the_other_in_their_configured_order() -> None:
    percent_first = shop(discount("ten", SUBTOTAL_10_PERCENT),
                         discount("five", eur_off(RewardTarget.SUBTOTAL, "5.00")))
    calc = calculate(usual_cart(), percent_first, NOW)
    # 90.00 - 9.00 = 81.00, then 5.00 off: 68.08 x 5/81 = 4.2024… -> 4.20
    assert money(calc.subtotal.value) == m("63.88", "12.12", "76.00")
    assert [a.name for a in calc.subtotal.adjustments] == ["Ten", "Five"]
    amount_first = shop(discount("five", eur_off(RewardTarget.SUBTOTAL, "5.00")),
                        discount("ten", SUBTOTAL_10_PERCENT))
    # 5.00 off 90.00: 75.64 x 5/90 = 4.2022… -> 4.20 -> 71.44 / 85.00;
    # then 10 %: 71.44 x 0.1 = 7.144 -> 7.14; 85.00 x 0.1 = 8.50
    assert money(calculate(usual_cart(), amount_first, NOW).subtotal.value) == m(
        "64.30", "12.20", "76.50")


# --- codes -------------------------------------------------------------------------------


def test_a_code_discount_applies_only_once_its_code_is_redeemed() -> None:
    save5 = discount("save", eur_off(RewardTarget.SUBTOTAL, "5.00"), code="SAVE5")
    auto = discount("free", FREE_SHIPPING)
    config = shop(save5, auto)
    order = usual_cart()
    before = calculate(order, config, NOW)
    assert money(before.subtotal.value) == SUBTOTAL
    assert before.codes == ()
    assert before.automatic_discounts == (auto,)

    order.redeem(config, "save5", NOW)
    calc = calculate(order, config, NOW)
    # 75.64 x 5/90 = 4.2022… -> 4.20
    assert money(calc.subtotal.value) == m("71.44", "13.56", "85.00")
    assert [(c.code, c.discount, c.fulfilled) for c in calc.codes] == [("SAVE5", save5, True)]
    assert calc.automatic_discounts == (auto,)


def test_a_redeemed_code_whose_rule_fails_is_listed_as_not_fulfilled() -> None:
    config = shop(discount("free", FREE_SHIPPING, code="FREESHIP",
                           min_subtotal={EUR.id: D("100.00")}))
    order = usual_cart()
    order.redeem(config, "FREESHIP", NOW)
    calc = calculate(order, config, NOW)
    assert [(c.code, c.fulfilled) for c in calc.codes] == [("FREESHIP", False)]
    assert money(calc.shipping.price.value) == SHIPPING


def test_a_code_used_up_by_other_orders_no_longer_applies() -> None:
    config = shop(discount("save", eur_off(RewardTarget.SUBTOTAL, "5.00"), code="ONCE",
                           usage_limit=1))
    order = usual_cart()
    order.redeem(config, "ONCE", NOW, usage=CodeUsage("ONCE", 0, 1))
    assert calculate(order, config, NOW).subtotal.value.with_tax == D("85.00")
    order.code_usage["ONCE"] = CodeUsage("ONCE", 1, 1)  # another order took the last use
    calc = calculate(order, config, NOW)
    assert [(c.code, c.fulfilled) for c in calc.codes] == [("ONCE", False)]
    assert money(calc.subtotal.value) == SUBTOTAL
    assert calc.transaction_amount == D("94.95")


# --- gift cards ----------------------------------------------------------------------------


def redeemed(*cards: GiftCard, order: Order | None = None) -> tuple[Order, StoreConfig]:
    order = order or usual_cart()
    config = shop()
    for card in cards:
        order.redeem(config, card.code, NOW, card=card)
    return order, config


def test_a_gift_card_pays_part_of_the_order() -> None:
    order, config = redeemed(gift_card("CARD-A", "25.00"))
    calc = calculate(order, config, NOW)
    assert calc.transaction_amount == D("69.95")  # 94.95 - 25.00
    assert [(g.code, g.amount) for g in calc.gift_cards] == [("CARD-A", D("25.00"))]
    assert money(calc.total.value) == TOTAL  # the total itself is unchanged


def test_two_gift_cards_pay_in_the_order_they_were_redeemed() -> None:
    # A has 30.00 - 20.00 = 10.00 left and pays it; B pays the other 94.95 - 10.00 = 84.95
    order, config = redeemed(gift_card("A", "30.00", debited="20.00"),
                             gift_card("B", "100.00"))
    calc = calculate(order, config, NOW)
    assert [(g.code, g.amount) for g in calc.gift_cards] == [("A", D("10.00")),
                                                             ("B", D("84.95"))]
    assert calc.transaction_amount == D(0)
    # redeemed the other way round, B pays everything and A is not needed
    order, config = redeemed(gift_card("B", "100.00"), gift_card("A", "30.00", debited="20"))
    calc = calculate(order, config, NOW)
    assert [(g.code, g.amount) for g in calc.gift_cards] == [("B", D("94.95"))]


def test_a_gift_card_worth_more_than_the_order_leaves_nothing_never_less() -> None:
    order, config = redeemed(gift_card("BIG", "500.00"))
    calc = calculate(order, config, NOW)
    assert calc.transaction_amount == D(0)
    assert [g.amount for g in calc.gift_cards] == [D("94.95")]


def test_a_gift_card_is_ignored_after_the_order_changes_to_another_currency() -> None:
    order, config = redeemed(gift_card("EURO", "25.00"))
    order.change_currency(USD, lambda line: PRICES[line.product_reference][USD.id])
    calc = calculate(order, config, NOW)
    # USD 55.00 + 2 x 22.00 + post 5.95 = 104.95, all of it due
    assert calc.gift_cards == ()
    assert calc.transaction_amount == D("104.95")


def test_a_gift_card_that_expired_since_it_was_redeemed_is_ignored() -> None:
    order, config = redeemed(gift_card("SOON", "25.00",
                                       expires_at=datetime(2025, 3, 20, tzinfo=UTC)))
    assert calculate(order, config, datetime(2025, 3, 19, tzinfo=UTC)).transaction_amount == D(
        "69.95")
    late = calculate(order, config, datetime(2025, 3, 20, tzinfo=UTC))
    assert late.gift_cards == ()
    assert late.transaction_amount == D("94.95")


# --- every adjusted price adds up ------------------------------------------------------------


def adjusted_prices(calc: OrderCalculation) -> Iterator[tuple[str, AdjustedPrice]]:
    for line_id, line in calc.lines.items():
        yield f"line {line_id}", line.total_price
    yield "subtotal", calc.subtotal
    yield "shipping", calc.shipping.price
    yield "total", calc.total


@pytest.mark.parametrize("includes_tax", [True, False])
def test_every_adjusted_price_adds_up(includes_tax: bool) -> None:
    config = shop(discount("tees", eur_off(RewardTarget.LINES, "3.33", "tee")),
                  discount("seven", percent(RewardTarget.SUBTOTAL, "0.07")),
                  discount("half", percent(RewardTarget.SHIPPING, "0.5")),
                  discount("total", eur_off(RewardTarget.TOTAL, "1.11")),
                  includes_tax=includes_tax)
    order = cart(("backpack", 3), ("tee", 7))
    calc = calculate(order, config, NOW)
    for what, adjusted in adjusted_prices(calc):
        sides = [adjusted.value, adjusted.without_adjustments, adjusted.adjustment,
                 *(a.price for a in adjusted.adjustments)]
        for price in sides:
            assert price.without_tax + price.tax == price.with_tax, what
        for side in ("without_tax", "tax", "with_tax"):
            taken = sum((getattr(a.price, side) for a in adjusted.adjustments), D(0))
            assert getattr(adjusted.value, side) == getattr(
                adjusted.without_adjustments, side) + taken, (what, side)
    assert len([a for _, p in adjusted_prices(calc) for a in p.adjustments]) == 4
    lines = [calc.lines[line.id].total_price.value for line in order.lines]
    assert calc.subtotal.without_adjustments.with_tax == sum(p.with_tax for p in lines)
    assert calc.transaction_amount == calc.total.value.with_tax


# --- redeeming and removing codes ----------------------------------------------------------

EXPIRED = discount("old", SUBTOTAL_10_PERCENT, code="OLD",
                   expires_at=datetime(2025, 3, 1, tzinfo=UTC))
FUTURE = discount("soon", SUBTOTAL_10_PERCENT, code="SOON",
                  starts_at=datetime(2025, 4, 1, tzinfo=UTC))
PAUSED = discount("paused", SUBTOTAL_10_PERCENT, code="PAUSED", active=False)
LIMITED = discount("once", SUBTOTAL_10_PERCENT, code="ONCE", usage_limit=1)


@pytest.mark.parametrize(("code", "usage", "card", "reason"), [
    ("nope", None, None, "no discount or gift card with code 'NOPE'"),
    ("old", None, None, "discount code 'OLD' has expired"),
    ("soon", None, None, "discount code 'SOON' is valid from 2025-04-01"),
    ("paused", None, None, "discount code 'PAUSED' is not active"),
    ("once", CodeUsage("ONCE", 1, 1), None, "discount code 'ONCE' has been used up"),
    ("dollars", None, gift_card("DOLLARS", "25", currency=USD), "in another currency"),
    ("empty", None, gift_card("EMPTY", "25", debited="25"), "has no balance left"),
    ("gone", None, gift_card("GONE", "25", expires_at=datetime(2025, 3, 1, tzinfo=UTC)),
     "gift card 'GONE' has expired"),
])
def test_a_code_that_cannot_be_used_is_rejected_with_the_reason(
        code: str, usage: CodeUsage | None, card: GiftCard | None, reason: str) -> None:
    config = shop(EXPIRED, FUTURE, PAUSED, LIMITED)
    order = usual_cart()
    with pytest.raises(CodeRejected) as rejected:
        order.redeem(config, code, NOW, usage=usage, card=card)
    assert reason in rejected.value.detail
    assert (order.discount_codes, order.gift_card_codes) == ([], [])
    assert calculate(order, config, NOW).transaction_amount == D("94.95")


def test_redeeming_a_code_twice_changes_nothing() -> None:
    config = shop(discount("welcome", SUBTOTAL_10_PERCENT, code="WELCOME10"))
    order = usual_cart()
    card = gift_card("CARD", "10.00")
    for code in ("welcome10", " WELCOME10 "):
        order.redeem(config, code, NOW)
        order.redeem(config, "card", NOW, card=card)
    assert (order.discount_codes, order.gift_card_codes) == (["WELCOME10"], ["CARD"])
    calc = calculate(order, config, NOW)
    assert money(calc.subtotal.value) == SUBTOTAL_10  # 10 % once, not twice
    assert calc.transaction_amount == D("75.95")  # 81.00 + 4.95 - 10.00


def test_removing_codes_restores_the_price_and_an_unknown_one_is_refused() -> None:
    config = shop(discount("welcome", SUBTOTAL_10_PERCENT, code="WELCOME10"))
    order = usual_cart()
    order.redeem(config, "WELCOME10", NOW)
    order.redeem(config, "CARD", NOW, card=gift_card("CARD", "10.00"))
    order.unredeem("welcome10")
    order.unredeem("card")
    assert calculate(order, config, NOW).transaction_amount == D("94.95")
    with pytest.raises(CodeRejected) as rejected:
        order.unredeem("WELCOME10")
    assert "'WELCOME10' is not redeemed on this order" in rejected.value.detail
