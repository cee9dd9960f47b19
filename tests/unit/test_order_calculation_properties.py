"""What must hold for every order the calculation prices, and a few orders worked by hand.

Random orders (lines, bundles, quantities, tax rates, fees, currency precision, tax
inclusive or exclusive, each rounding method) are priced and checked against figures
computed independently here: parts that add up, subtotals and totals that are the sum of
what the shopper sees, rounding only where the store says, and the same gross charge
whether a store enters its prices with or without tax.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from types import MappingProxyType
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kasse.domain.money import RoundingMethod
from kasse.domain.order import Order, OrderLine
from kasse.domain.order_calculation import OrderCalculation, calculate
from kasse.domain.pricing import Price
from kasse.domain.store import (
    Country,
    Currency,
    PaymentMethod,
    ShippingMethod,
    Store,
    StoreConfig,
    TaxClass,
)

D = Decimal
ONE = D(1)
RATES = tuple(D(r) for r in ("0", "0.05", "0.07", "0.1", "0.19", "0.2", "0.21", "0.255"))
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

STORE_ID = uuid.uuid4()
CURRENCY_ID = uuid.uuid4()
COUNTRY_ID = uuid.uuid4()
SHIPPING_ID = uuid.uuid4()
PAYMENT_ID = uuid.uuid4()
TAX_CLASS_IDS = {rate: uuid.uuid4() for rate in RATES}
RATE_OF_CLASS = {tid: rate for rate, tid in TAX_CLASS_IDS.items()}


def rate_of(line: OrderLine) -> Decimal:
    """The rate of the tax class a generated line was given."""
    assert line.tax_class_id is not None
    return RATE_OF_CLASS[line.tax_class_id]

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


def rounded(value: Decimal, places: int) -> Decimal:
    """Half away from zero, worked out here rather than taken from the code under test."""
    return value.quantize(D(10) ** -places, rounding=ROUND_HALF_UP)


def is_rounded(value: Decimal, places: int) -> bool:
    return value == rounded(value, places)


# --- the orders ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LineSpec:
    price: Decimal
    """The configured unit price, gross or net as the store enters prices."""
    quantity: Decimal
    rate: Decimal
    children: tuple[LineSpec, ...] = ()
    """Bundle items; their quantity is per one unit of this line."""


@dataclass(frozen=True)
class Scenario:
    lines: tuple[LineSpec, ...]
    shipping: Decimal | None
    shipping_rate: Decimal
    payment: Decimal | None
    payment_rate: Decimal
    decimal_places: int
    includes_tax: bool
    method: RoundingMethod

    def gross(self, price: Decimal, rate: Decimal) -> Decimal:
        """The exact price with tax of one configured price."""
        return price if self.includes_tax else price * (ONE + rate)

    def net(self, price: Decimal, rate: Decimal) -> Decimal:
        return price / (ONE + rate) if self.includes_tax else price


def walk(specs: tuple[LineSpec, ...], multiplier: Decimal = ONE
         ) -> Iterator[tuple[LineSpec, Decimal]]:
    """Every line spec with the units it really takes."""
    for spec in specs:
        units = spec.quantity * multiplier
        yield spec, units
        yield from walk(spec.children, units)


def build(scenario: Scenario) -> tuple[Order, StoreConfig]:
    """The store and order a scenario describes; line ids are numbered, so equal
    scenarios give equal ids."""
    store = Store(STORE_ID, "shop", "Shop", scenario.includes_tax, CURRENCY_ID, COUNTRY_ID,
                  TAX_CLASS_IDS[D("0.19")], None, "C-{0}", "O-{0}", scenario.method)
    currency = Currency(CURRENCY_ID, STORE_ID, "XYZ", "Test", "en-US",
                        scenario.decimal_places)
    country = Country(COUNTRY_ID, STORE_ID, "DE", "Germany")
    tax_classes = tuple(TaxClass(tid, STORE_ID, f"rate-{rate}", f"{rate}", rate)
                        for rate, tid in TAX_CLASS_IDS.items())
    shipping = ShippingMethod(
        SHIPPING_ID, STORE_ID, "ship", "Ship", tax_class_id=TAX_CLASS_IDS[scenario.shipping_rate],
        prices=MappingProxyType({} if scenario.shipping is None
                                else {CURRENCY_ID: scenario.shipping}))
    payment = PaymentMethod(
        PAYMENT_ID, STORE_ID, "pay", "Pay", "provider",
        tax_class_id=TAX_CLASS_IDS[scenario.payment_rate],
        fees=MappingProxyType({} if scenario.payment is None
                              else {CURRENCY_ID: scenario.payment}))
    config = StoreConfig(store, (currency,), (country,), tax_classes, (), (payment,),
                         (shipping,))
    counter = iter(range(1, 10_000))

    def line(spec: LineSpec) -> OrderLine:
        number = next(counter)
        return OrderLine(
            id=UUID(int=number), product_reference=f"p{number}", variant_reference=None,
            sku=f"SKU{number}", name=f"Item {number}", quantity=spec.quantity,
            unit_price=spec.price, tax_class_id=TAX_CLASS_IDS[spec.rate],
            bundle_id=f"b{number}" if spec.children else None,
            children=[line(child) for child in spec.children])

    order = Order(id=uuid.uuid4(), store_id=STORE_ID, cart_number="C-1",
                  currency_id=CURRENCY_ID, created_at=NOW, updated_at=NOW,
                  billing_country_id=COUNTRY_ID, shipping_method_id=SHIPPING_ID,
                  payment_method_id=PAYMENT_ID, lines=[line(s) for s in scenario.lines])
    return order, config


def priced(scenario: Scenario) -> tuple[Order, OrderCalculation]:
    order, config = build(scenario)
    return order, calculate(order, config)


# --- strategies ----------------------------------------------------------------------------


def _price(places: int, ten_thousandths: int) -> Decimal:
    value = D(ten_thousandths).scaleb(-4).quantize(D(10) ** -places, rounding=ROUND_DOWN)
    return max(value, D(10) ** -min(places, 2))


prices = st.builds(_price, st.integers(0, 4), st.integers(1, 100_000_000))
"""0.01 to 10000 with 0 to 4 decimal places."""


def _quantity(thousandths: int, whole: bool) -> Decimal:
    return D(thousandths % 50 + 1) if whole else D(thousandths).scaleb(-3)


quantities = st.builds(_quantity, st.integers(1, 50_000), st.booleans())
"""Whole numbers 1 to 50, or 0.001 to 50 with up to 3 decimal places."""

rates = st.sampled_from(RATES)


def line_specs(rate: st.SearchStrategy[Decimal]) -> st.SearchStrategy[LineSpec]:
    leaf = st.builds(LineSpec, prices, quantities, rate)
    bundle = st.builds(LineSpec, prices, quantities, rate,
                       st.lists(leaf, min_size=1, max_size=3).map(tuple))
    return st.one_of(leaf, leaf, bundle)


def scenarios(rate: st.SearchStrategy[Decimal] = rates,
              method: st.SearchStrategy[RoundingMethod] = st.sampled_from(RoundingMethod),
              ) -> st.SearchStrategy[Scenario]:
    return st.builds(
        Scenario,
        lines=st.lists(line_specs(rate), min_size=1, max_size=6).map(tuple),
        shipping=st.none() | prices,
        shipping_rate=rate,
        payment=st.none() | prices,
        payment_rate=rate,
        decimal_places=st.sampled_from([0, 2, 3]),
        includes_tax=st.booleans(),
        method=method,
    )


def all_prices(result: OrderCalculation) -> Iterator[tuple[str, Price]]:
    for line_id, line in result.lines.items():
        yield f"line {line_id.int} base", line.base_price.value
        yield f"line {line_id.int} unit", line.unit_price.value
        yield f"line {line_id.int} total", line.total_price.value
    yield "subtotal", result.subtotal.value
    yield "shipping", result.shipping.price.value
    yield "payment", result.payment.price.value
    yield "total", result.total.value


# --- properties ----------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(scenarios())
def test_every_price_adds_up_exactly(scenario: Scenario) -> None:
    order, result = priced(scenario)
    assert set(result.lines) == {line.id for line, _ in order.all_lines()}
    for what, price in all_prices(result):
        assert price.without_tax + price.tax == price.with_tax, what
        assert price.currency_id == CURRENCY_ID, what


@PROPERTY_SETTINGS
@given(scenarios(method=st.sampled_from([RoundingMethod.UNIT, RoundingMethod.LINE])))
def test_unit_and_line_rounding_totals_are_sums_of_rounded_figures(scenario: Scenario
                                                                    ) -> None:
    order, result = priced(scenario)
    places = scenario.decimal_places
    tops = [result.lines[line.id].total_price.value for line in order.lines]
    subtotal = result.subtotal.value
    assert subtotal.with_tax == sum((p.with_tax for p in tops), D(0))
    assert subtotal.without_tax == sum((p.without_tax for p in tops), D(0))
    shipping, payment = result.shipping.price.value, result.payment.price.value
    total = result.total.value
    assert total.with_tax == subtotal.with_tax + shipping.with_tax + payment.with_tax
    assert total.without_tax == (subtotal.without_tax + shipping.without_tax
                                 + payment.without_tax)
    assert total.tax == subtotal.tax + shipping.tax + payment.tax
    rounded_prices = [result.lines[line.id].total_price.value for line, _ in order.all_lines()]
    rounded_prices += [subtotal, shipping, payment, total]
    for price in rounded_prices:
        assert is_rounded(price.with_tax, places), price
        assert is_rounded(price.without_tax, places), price
        assert is_rounded(price.tax, places), price


@PROPERTY_SETTINGS
@given(scenarios(method=st.just(RoundingMethod.UNIT)))
def test_unit_rounding_line_totals_are_rounded_unit_prices_times_quantity(
        scenario: Scenario) -> None:
    order, result = priced(scenario)
    places = scenario.decimal_places
    for line, _ in order.all_lines():
        calc = result.lines[line.id]
        base, unit, total = (calc.base_price.value, calc.unit_price.value,
                             calc.total_price.value)
        assert is_rounded(base.with_tax, places) and is_rounded(base.without_tax, places)
        assert total.with_tax == rounded(unit.with_tax * line.quantity, places)
        assert total.without_tax == rounded(unit.without_tax * line.quantity, places)
        if line.quantity == line.quantity.to_integral_value():
            assert total.with_tax == unit.with_tax * line.quantity
        if not line.children:
            assert base == unit
            rate = rate_of(line)
            assert base.with_tax == rounded(scenario.gross(line.unit_price, rate), places)


@PROPERTY_SETTINGS
@given(scenarios(method=st.just(RoundingMethod.LINE)))
def test_line_rounding_rounds_each_line_once_from_exact_figures(scenario: Scenario) -> None:
    order, result = priced(scenario)
    places = scenario.decimal_places
    for line, _ in order.all_lines():
        if line.children:
            continue
        total = result.lines[line.id].total_price.value
        rate = rate_of(line)
        assert total.with_tax == rounded(scenario.gross(line.unit_price, rate) * line.quantity,
                                         places)


@PROPERTY_SETTINGS
@given(scenarios(method=st.just(RoundingMethod.TOTAL)))
def test_total_rounding_rounds_only_the_exact_sum(scenario: Scenario) -> None:
    _, result = priced(scenario)
    places = scenario.decimal_places
    exact = sum((scenario.gross(spec.price, spec.rate) * units
                 for spec, units in walk(scenario.lines)), D(0))
    if scenario.shipping is not None:
        exact += scenario.gross(scenario.shipping, scenario.shipping_rate)
    if scenario.payment is not None:
        exact += scenario.gross(scenario.payment, scenario.payment_rate)
    total = result.total.value
    assert total.with_tax == rounded(exact, places)
    assert is_rounded(total.without_tax, places)
    assert is_rounded(total.tax, places)
    unrounded_parts = (result.subtotal.value.with_tax + result.shipping.price.value.with_tax
                       + result.payment.price.value.with_tax)
    assert unrounded_parts == exact


@PROPERTY_SETTINGS
@given(scenarios())
def test_the_transaction_amount_is_the_total_with_tax(scenario: Scenario) -> None:
    _, result = priced(scenario)
    assert result.transaction_amount == result.total.value.with_tax
    assert result.transaction_amount >= 0
    assert result.total.value.tax >= 0


@PROPERTY_SETTINGS
@given(scenarios())
def test_inclusive_shelf_prices_times_whole_quantities_are_charged_as_shown(
        scenario: Scenario) -> None:
    """A tax-inclusive store whose prices need no rounding charges exactly price × quantity,
    whatever its rounding method."""
    places = scenario.decimal_places

    def shelf(spec: LineSpec) -> LineSpec:
        return replace(spec, price=max(rounded(spec.price, places), D(10) ** -places),
                       quantity=max(ONE, spec.quantity.to_integral_value(ROUND_HALF_UP)),
                       children=tuple(shelf(c) for c in spec.children))

    shown = replace(
        scenario, includes_tax=True, lines=tuple(shelf(s) for s in scenario.lines),
        shipping=None if scenario.shipping is None else rounded(scenario.shipping, places),
        payment=None if scenario.payment is None else rounded(scenario.payment, places))
    order, result = priced(shown)
    expected_total = D(0)
    for line in order.lines:
        unit = line.unit_price + sum((c.unit_price * c.quantity for c in line.children), D(0))
        assert result.lines[line.id].total_price.value.with_tax == unit * line.quantity
        expected_total += unit * line.quantity
    expected_total += (shown.shipping or D(0)) + (shown.payment or D(0))
    assert result.total.value.with_tax == expected_total


def _net(spec: LineSpec, cents: Iterator[int]) -> LineSpec:
    return replace(spec, price=D(next(cents)).scaleb(-2),
                   children=tuple(_net(child, cents) for child in spec.children))


def _gross(spec: LineSpec) -> LineSpec:
    return replace(spec, price=spec.price * (ONE + spec.rate),
                   children=tuple(_gross(child) for child in spec.children))


def _store_pair(scenario: Scenario, cents: list[int]) -> tuple[Scenario, Scenario]:
    """The same order in a store entering net prices (2 decimals) and in one entering the
    equal gross prices, net × (1 + rate) exactly."""
    supply = iter(cents)  # enough for 6 lines of up to 4 items and 2 fees
    net_store = replace(
        scenario, includes_tax=False,
        lines=tuple(_net(spec, supply) for spec in scenario.lines),
        shipping=None if scenario.shipping is None else D(next(supply)).scaleb(-2),
        payment=None if scenario.payment is None else D(next(supply)).scaleb(-2))
    gross_store = replace(
        net_store, includes_tax=True, lines=tuple(_gross(spec) for spec in net_store.lines),
        shipping=(None if net_store.shipping is None
                  else net_store.shipping * (ONE + net_store.shipping_rate)),
        payment=(None if net_store.payment is None
                 else net_store.payment * (ONE + net_store.payment_rate)))
    return net_store, gross_store


net_and_gross_scenarios = st.builds(
    _store_pair, scenarios(), st.lists(st.integers(1, 1_000_000), min_size=26, max_size=26))


@PROPERTY_SETTINGS
@given(net_and_gross_scenarios)
def test_inclusive_and_exclusive_stores_charge_the_same_for_the_same_gross_prices(
        stores: tuple[Scenario, Scenario]) -> None:
    net_store, gross_store = stores
    for spec, _ in walk(gross_store.lines):
        assert spec.price == spec.price.quantize(D("0.000001"))  # at most 6 decimals
    net_order, net_result = priced(net_store)
    gross_order, gross_result = priced(gross_store)
    assert net_result.total.value.with_tax == gross_result.total.value.with_tax
    assert net_result.subtotal.value.with_tax == gross_result.subtotal.value.with_tax
    assert (net_result.shipping.price.value.with_tax
            == gross_result.shipping.price.value.with_tax)
    assert (net_result.payment.price.value.with_tax
            == gross_result.payment.price.value.with_tax)
    assert net_result.transaction_amount == gross_result.transaction_amount
    if net_store.method is not RoundingMethod.UNIT:
        assert [line.id for line, _ in net_order.all_lines()] == [
            line.id for line, _ in gross_order.all_lines()]
        for line_id, net_line in net_result.lines.items():
            assert (net_line.total_price.value.with_tax
                    == gross_result.lines[line_id].total_price.value.with_tax)


@PROPERTY_SETTINGS
@given(scenarios(rate=st.just(D(0))))
def test_without_tax_nothing_is_added(scenario: Scenario) -> None:
    _, result = priced(scenario)
    for what, price in all_prices(result):
        assert price.with_tax == price.without_tax, what
        assert price.tax == 0, what


# --- worked by hand ------------------------------------------------------------------------


def leaf(price: str, quantity: str | int, rate: str = "0.19") -> LineSpec:
    return LineSpec(D(price), D(quantity), D(rate))


def example(lines: tuple[LineSpec, ...], method: RoundingMethod, *, includes_tax: bool = True,
            shipping: str | None = None) -> Scenario:
    return Scenario(lines=lines, shipping=None if shipping is None else D(shipping),
                    shipping_rate=D("0.19"), payment=None, payment_rate=D("0.19"),
                    decimal_places=2, includes_tax=includes_tax, method=method)


def parts(price: Price) -> tuple[Decimal, Decimal, Decimal]:
    return price.without_tax, price.tax, price.with_tax


def figures(*values: str) -> tuple[Decimal, ...]:
    return tuple(D(v) for v in values)


@pytest.mark.parametrize("method", list(RoundingMethod))
def test_two_units_at_89_95_including_19_percent(method: RoundingMethod) -> None:
    # Net per unit 89.95 / 1.19 = 75.588…: rounded 75.59, × 2 = 151.18; unrounded
    # 151.176… also rounds to 151.18. Gross 179.90, tax 28.72 with every method.
    order, result = priced(example((leaf("89.95", 2),), method))
    line = result.lines[order.lines[0].id].total_price.value
    if method is RoundingMethod.TOTAL:
        # Lines stay exact; only the order total is rounded.
        assert line.with_tax == D("179.90")
        assert line.without_tax == D("179.90") / D("1.19")
    else:
        assert parts(line) == figures("151.18", "28.72", "179.90")
    assert parts(result.total.value) == figures("151.18", "28.72", "179.90")
    assert result.transaction_amount == D("179.90")


@pytest.mark.parametrize(("method", "net"), [
    (RoundingMethod.UNIT, "755.90"),  # 75.59 × 10
    (RoundingMethod.LINE, "755.88"),  # 899.50 / 1.19 = 755.882…
    (RoundingMethod.TOTAL, "755.88"),
])
def test_ten_units_at_89_95_including_19_percent(method: RoundingMethod, net: str) -> None:
    order, result = priced(example((leaf("89.95", 10),), method))
    total = result.total.value
    assert total.with_tax == D("899.50")
    assert total.without_tax == D(net)
    assert total.tax == D("899.50") - D(net)
    if method is RoundingMethod.UNIT:
        unit = result.lines[order.lines[0].id].unit_price.value
        assert parts(unit) == figures("75.59", "14.36", "89.95")


@pytest.mark.parametrize(("method", "nets", "total_net"), [
    # 0.99 / 1.19 = 0.8319… → 0.83 × 3 = 2.49; 1.99 / 1.19 = 1.6722… → 1.67 × 7 = 11.69;
    # 4.95 / 1.19 = 4.1596… → 4.16.
    (RoundingMethod.UNIT, ("2.49", "11.69", "4.16"), "18.34"),
    # 2.97 / 1.19 = 2.4957… → 2.50; 13.93 / 1.19 = 11.7058… → 11.71; shipping 4.16.
    (RoundingMethod.LINE, ("2.50", "11.71", "4.16"), "18.37"),
    # Nothing rounded until 21.85 / 1.19 = 18.3613… → 18.36.
    (RoundingMethod.TOTAL, None, "18.36"),
])
def test_three_methods_three_nets_including_tax(
        method: RoundingMethod, nets: tuple[str, str, str] | None, total_net: str) -> None:
    scenario = example((leaf("0.99", 3), leaf("1.99", 7)), method, shipping="4.95")
    order, result = priced(scenario)
    grosses = [result.lines[line.id].total_price.value.with_tax for line in order.lines]
    assert grosses == [D("2.97"), D("13.93")]
    assert result.shipping.price.value.with_tax == D("4.95")
    if nets is not None:
        assert [result.lines[line.id].total_price.value.without_tax
                for line in order.lines] == [D(nets[0]), D(nets[1])]
        assert result.shipping.price.value.without_tax == D(nets[2])
    total = result.total.value
    assert total.with_tax == D("21.85")
    assert total.without_tax == D(total_net)
    assert total.tax == D("21.85") - D(total_net)


@pytest.mark.parametrize(("method", "gross", "line_grosses"), [
    # 0.99 × 1.19 = 1.1781 → 1.18 × 3 = 3.54; 1.99 × 1.19 = 2.3681 → 2.37 × 7 = 16.59;
    # shipping 4.95 × 1.19 = 5.8905 → 5.89.
    (RoundingMethod.UNIT, "26.02", ("3.54", "16.59")),
    # 3.5343 → 3.53; 16.5767 → 16.58; 5.89.
    (RoundingMethod.LINE, "26.00", ("3.53", "16.58")),
    # 3.5343 + 16.5767 + 5.8905 = 26.0015 → 26.00.
    (RoundingMethod.TOTAL, "26.00", None),
])
def test_three_methods_excluding_tax(method: RoundingMethod, gross: str,
                                     line_grosses: tuple[str, str] | None) -> None:
    scenario = example((leaf("0.99", 3), leaf("1.99", 7)), method, includes_tax=False,
                       shipping="4.95")
    order, result = priced(scenario)
    if line_grosses is not None:
        assert [result.lines[line.id].total_price.value.with_tax
                for line in order.lines] == [D(g) for g in line_grosses]
    assert parts(result.total.value) == (D("21.85"), D(gross) - D("21.85"), D(gross))
    assert result.transaction_amount == D(gross)


def test_a_bundle_with_unit_rounding() -> None:
    # A gift box at 5.00 (19 %) holding 2 mugs at 8.50 (7 %), two boxes ordered.
    # Box net 5.00 / 1.19 = 4.2016… → 4.20; mug net 8.50 / 1.07 = 7.9439… → 7.94, two per
    # box 15.88 / 17.00. One box: 20.08 / 22.00; two boxes 40.16 / 44.00, tax 3.84.
    box = LineSpec(D("5.00"), D(2), D("0.19"), (leaf("8.50", 2, "0.07"),))
    order, result = priced(example((box,), RoundingMethod.UNIT))
    box_line, mug_line = order.lines[0], order.lines[0].children[0]
    assert parts(result.lines[mug_line.id].total_price.value) == figures("15.88", "1.12",
                                                                         "17.00")
    assert parts(result.lines[box_line.id].base_price.value) == figures("4.20", "0.80",
                                                                        "5.00")
    assert parts(result.lines[box_line.id].unit_price.value) == figures("20.08", "1.92",
                                                                        "22.00")
    assert parts(result.lines[box_line.id].total_price.value) == figures("40.16", "3.84",
                                                                         "44.00")
    assert parts(result.total.value) == figures("40.16", "3.84", "44.00")


def test_a_quantity_with_decimals_is_rounded_once_per_line() -> None:
    # 1.5 kg at 3.33 per kg excluding 7 %: unit gross 3.5631 → 3.56 (unit rounding);
    # 3.56 × 1.5 = 5.34; net 3.33 × 1.5 = 4.995 → 5.00. Line rounding: 5.34465 → 5.34.
    scenario = example((leaf("3.33", "1.5", "0.07"),), RoundingMethod.UNIT,
                       includes_tax=False)
    _, result = priced(scenario)
    assert parts(result.total.value) == figures("5.00", "0.34", "5.34")
    _, result = priced(replace(scenario, method=RoundingMethod.LINE))
    assert parts(result.total.value) == figures("5.00", "0.34", "5.34")


def test_a_zero_decimal_currency() -> None:
    # 1000 including 10 % in a currency without minor units: net 909.09… → 909, tax 91.
    scenario = replace(example((leaf("1000", 3, "0.1"),), RoundingMethod.LINE),
                       decimal_places=0)
    _, result = priced(scenario)
    assert parts(result.total.value) == figures("2727", "273", "3000")
