"""The pricing policy on its own: destination, tax class, rate, rounding, fees.

A small store in EUR (2 decimal places) with four tax classes whose rates tell them apart,
and one class with rates per country and region. Every expected figure is written with its
arithmetic; nothing here asks the code under test to work one out.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kasse.domain.errors import CurrencyMismatch
from kasse.domain.money import RoundingMethod
from kasse.domain.order import Order, OrderLine
from kasse.domain.order_calculation import calculate
from kasse.domain.pricing import Exact, Price, PricingPolicy
from kasse.domain.session import SessionHeaders, resolve_session
from kasse.domain.store import (
    Country,
    Currency,
    PaymentMethod,
    Region,
    ShippingMethod,
    Store,
    StoreConfig,
    TaxClass,
    TaxRate,
)

D = Decimal
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
STORE_ID = uuid.uuid4()
EUR = Currency(uuid.uuid4(), STORE_ID, "EUR", "Euro", "de-DE", 2)

DE_ID, US_ID, FR_ID = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
BY = Region(uuid.uuid4(), DE_ID, "BY", "Bavaria")
BE = Region(uuid.uuid4(), DE_ID, "BE", "Berlin")
CA = Region(uuid.uuid4(), US_ID, "CA", "California")
NY = Region(uuid.uuid4(), US_ID, "NY", "New York")
DE = Country(DE_ID, STORE_ID, "DE", "Germany", EUR.id, regions=(BY, BE))
US = Country(US_ID, STORE_ID, "US", "United States", EUR.id, regions=(CA, NY))
FR = Country(FR_ID, STORE_ID, "FR", "France", EUR.id)

# Four classes told apart by their default rate (no rates per country).
STORE_CLASS = TaxClass(uuid.uuid4(), STORE_ID, "standard", "Standard", D("0.19"))
ORDER_CLASS = TaxClass(uuid.uuid4(), STORE_ID, "order", "Order's", D("0.07"))
PRODUCT_CLASS = TaxClass(uuid.uuid4(), STORE_ID, "product", "Product's", D("0.10"))
LINE_CLASS = TaxClass(uuid.uuid4(), STORE_ID, "line", "Line's", D("0.05"))
# Rates per destination: a reduced rate for one region (BY), a country rate (DE, US), a
# region rate where the country has none of its own (CA), and a default for the rest.
REGIONAL = TaxClass(uuid.uuid4(), STORE_ID, "regional", "Regional", D("0.25"), rates=(
    TaxRate(DE_ID, None, D("0.19")), TaxRate(DE_ID, BY.id, D("0.15")),
    TaxRate(US_ID, None, D("0")), TaxRate(US_ID, CA.id, D("0.0725"))))
CLASSES = (STORE_CLASS, ORDER_CLASS, PRODUCT_CLASS, LINE_CLASS, REGIONAL)
PAYMENT_ID = uuid.uuid4()


def shop(includes_tax: bool = True, rounding: RoundingMethod = RoundingMethod.UNIT,
         default_class: TaxClass = STORE_CLASS, fee: Decimal | None = None,
         fee_class: TaxClass | None = None, decimal_places: int = 2) -> StoreConfig:
    store = Store(STORE_ID, "shop", "Shop", includes_tax, EUR.id, DE_ID, default_class.id, None,
                  "C-{0}", "O-{0}", rounding)
    currency = Currency(EUR.id, STORE_ID, "EUR", "Euro", "de-DE", decimal_places)
    payment = PaymentMethod(
        PAYMENT_ID, STORE_ID, "pay", "Pay", "invoicing",
        tax_class_id=fee_class.id if fee_class else None,
        fees=MappingProxyType({} if fee is None else {EUR.id: fee}))
    return StoreConfig(store, (currency,), (DE, US, FR), CLASSES, (), (payment,), ())


def line(price: str, quantity: int = 1, *, own: TaxClass | None = None,
         product: TaxClass | None = None) -> OrderLine:
    return OrderLine(id=uuid.uuid4(), product_reference="p", variant_reference=None, sku="P",
                     name="P", quantity=D(quantity), unit_price=D(price),
                     tax_class_id=own.id if own else None,
                     product_tax_class_id=product.id if product else None)


def cart(*lines: OrderLine, tax_class: TaxClass | None = None, billing: Country | None = None,
         billing_region: Region | None = None, shipping: Country | None = None,
         shipping_region: Region | None = None, with_fee: bool = False) -> Order:
    return Order(id=uuid.uuid4(), store_id=STORE_ID, cart_number="C-1", currency_id=EUR.id,
                 created_at=NOW, updated_at=NOW, tax_class_id=tax_class.id if tax_class else None,
                 billing_country_id=billing.id if billing else None,
                 billing_region_id=billing_region.id if billing_region else None,
                 shipping_country_id=shipping.id if shipping else None,
                 shipping_region_id=shipping_region.id if shipping_region else None,
                 payment_method_id=PAYMENT_ID if with_fee else None, lines=list(lines))


def parts(price: Price | None) -> tuple[Decimal, Decimal, Decimal]:
    assert price is not None
    return price.without_tax, price.tax, price.with_tax


def rounded(value: Decimal, places: int) -> Decimal:
    """Half away from zero, worked out here rather than taken from the code under test."""
    return value.quantize(D(10) ** -places, rounding=ROUND_HALF_UP)


# --- tax class: line, then product, then order, then store --------------------------------


def test_tax_class_precedence_line_then_product_then_order_then_store() -> None:
    config = shop()
    policy = PricingPolicy.for_order(cart(tax_class=ORDER_CLASS), config)
    assert policy.tax_class(LINE_CLASS.id, PRODUCT_CLASS.id) is LINE_CLASS
    assert policy.tax_class(None, PRODUCT_CLASS.id) is PRODUCT_CLASS
    assert policy.tax_class() is ORDER_CLASS
    assert PricingPolicy.for_order(cart(), config).tax_class() is STORE_CLASS


def test_an_order_prices_each_line_at_the_class_that_wins() -> None:
    # prices include tax, 10.00 a unit, destination: the store's default country (DE);
    # the four classes have no rates per country, so each is its default rate.
    lines = (line("10.00", own=LINE_CLASS, product=PRODUCT_CLASS),  # 5 %
             line("10.00", product=PRODUCT_CLASS),                  # 10 %
             line("10.00"))                                         # the order's, 7 %
    result = calculate(cart(*lines, tax_class=ORDER_CLASS), shop(), NOW)
    found = [(result.lines[x.id].tax_class_id, result.lines[x.id].tax_rate) for x in lines]
    assert found == [(LINE_CLASS.id, D("0.05")), (PRODUCT_CLASS.id, D("0.10")),
                     (ORDER_CLASS.id, D("0.07"))]
    # 10.00 / 1.05 = 9.5238… -> 9.52; 10.00 / 1.10 = 9.0909… -> 9.09; 10.00 / 1.07 = 9.3457… -> 9.35
    assert [parts(result.lines[x.id].total_price.value) for x in lines] == [
        (D("9.52"), D("0.48"), D("10.00")), (D("9.09"), D("0.91"), D("10.00")),
        (D("9.35"), D("0.65"), D("10.00"))]
    assert result.tax_rate == D("0.07")  # the order's own class

    plain = calculate(cart(line("10.00")), shop(), NOW)
    only = next(iter(plain.lines.values()))
    assert (only.tax_class_id, only.tax_rate) == (STORE_CLASS.id, D("0.19"))


def test_a_sessions_tax_class_stands_where_an_orders_would() -> None:
    config = shop()
    with_header = resolve_session(config, SessionHeaders(tax_class="order")).pricing()
    assert with_header.tax_class(product=PRODUCT_CLASS.id) is PRODUCT_CLASS
    assert with_header.tax_class() is ORDER_CLASS
    assert resolve_session(config, SessionHeaders()).pricing().tax_class() is STORE_CLASS


# --- rate: region, then country, then the class default ------------------------------------

DESTINATIONS = [
    # (shipping country, shipping region, billing country, billing region) -> rate
    pytest.param(DE, BY, None, None, D("0.15"), id="a region's own rate"),
    pytest.param(DE, BE, None, None, D("0.19"), id="a region without one: its country's"),
    pytest.param(DE, None, None, None, D("0.19"), id="a country's rate"),
    pytest.param(US, CA, None, None, D("0.0725"), id="a region rate over a zero country"),
    pytest.param(US, NY, None, None, D("0"), id="a zero country rate is a rate"),
    pytest.param(FR, None, None, None, D("0.25"), id="no rate for the country: default"),
    pytest.param(None, None, US, CA, D("0.0725"), id="no shipping: billing and its region"),
    pytest.param(FR, None, US, CA, D("0.25"), id="shipping wins over billing"),
    pytest.param(None, None, None, None, D("0.19"), id="nothing: the store's country, DE"),
]


@pytest.mark.parametrize(("ship_to", "ship_region", "bill_to", "bill_region", "rate"),
                         DESTINATIONS)
def test_rate_by_destination_with_fallbacks(
        ship_to: Country | None, ship_region: Region | None, bill_to: Country | None,
        bill_region: Region | None, rate: Decimal) -> None:
    config = shop(default_class=REGIONAL)
    order = cart(shipping=ship_to, shipping_region=ship_region, billing=bill_to,
                 billing_region=bill_region)
    assert PricingPolicy.for_order(order, config).rate(REGIONAL) == rate
    assert calculate(order, config, NOW).tax_rate == rate

    headers = SessionHeaders(
        shipping_country=ship_to.code if ship_to else None,
        shipping_region=ship_region.code if ship_region else None,
        billing_country=bill_to.code if bill_to else None,
        billing_region=bill_region.code if bill_region else None)
    assert resolve_session(config, headers).pricing().rate(REGIONAL) == rate


def test_shipping_the_same_as_billing_taxes_at_the_billing_address() -> None:
    order = cart(billing=US, billing_region=CA, shipping=FR)
    order.shipping_same_as_billing = True
    assert PricingPolicy.for_order(order, shop()).rate(REGIONAL) == D("0.0725")


def test_no_tax_class_no_tax() -> None:
    assert PricingPolicy.for_order(cart(billing=DE), shop()).rate(None) == 0


# --- rounding: per unit, per line, or only the total ---------------------------------------

# Prices without tax at 19 % (the store class), lines 0.004 x 3, 0.003 x 1 and 1.00 x 1:
#   exact nets 0.012, 0.003, 1.00; exact grosses 0.01428, 0.00357, 1.19
ROUNDING_TOTALS = [
    # unit: every unit rounds first: 0.004 -> 0.00 (gross 0.00476 -> 0.00), 0.003 -> 0.00
    #   (0.00357 -> 0.00), so only 1.00 / 1.19 is left
    pytest.param(RoundingMethod.UNIT, ("1.00", "0.19", "1.19"), id="unit"),
    # line: 0.012 -> 0.01 (0.01428 -> 0.01), 0.003 -> 0.00 (0.00357 -> 0.00), 1.00 / 1.19:
    #   1.01 / 1.20
    pytest.param(RoundingMethod.LINE, ("1.01", "0.19", "1.20"), id="line"),
    # total: 1.015 -> 1.02 and 1.20785 -> 1.21
    pytest.param(RoundingMethod.TOTAL, ("1.02", "0.19", "1.21"), id="total"),
]


@pytest.mark.parametrize(("rounding", "total"), ROUNDING_TOTALS)
def test_rounding_per_unit_line_or_total(rounding: RoundingMethod,
                                         total: tuple[str, str, str]) -> None:
    order = cart(line("0.004", 3), line("0.003"), line("1.00"), billing=DE)
    result = calculate(order, shop(includes_tax=False, rounding=rounding), NOW)
    assert parts(result.total.value) == tuple(D(x) for x in total)


@pytest.mark.parametrize(("rounding", "unit", "line_total", "order_total"), [
    # exact 0.004 / 0.00476 as a unit; x 3 = 0.012 / 0.01428 as a line
    (RoundingMethod.UNIT, ("0.00", "0.00"), ("0.01", "0.01"), ("0.012", "0.01428")),
    (RoundingMethod.LINE, ("0.004", "0.00476"), ("0.01", "0.01"), ("0.012", "0.01428")),
    (RoundingMethod.TOTAL, ("0.004", "0.00476"), ("0.012", "0.01428"), ("0.01", "0.01")),
])
def test_the_policy_rounds_where_the_store_says(
        rounding: RoundingMethod, unit: tuple[str, str], line_total: tuple[str, str],
        order_total: tuple[str, str]) -> None:
    policy = PricingPolicy.for_order(cart(billing=DE), shop(False, rounding))
    exact = policy.exact(D("0.004"), D("0.19"))
    assert (exact.net, exact.gross) == (D("0.004"), D("0.00476"))
    as_unit = policy.unit(exact)
    as_line = policy.line(exact.times(D(3)))
    as_total = policy.total(exact.times(D(3)))
    assert (as_unit.net, as_unit.gross) == tuple(D(x) for x in unit)
    assert (as_line.net, as_line.gross) == tuple(D(x) for x in line_total)
    assert (as_total.net, as_total.gross) == tuple(D(x) for x in order_total)


def test_a_currency_without_decimals_rounds_to_whole_units() -> None:
    policy = PricingPolicy.for_order(cart(billing=DE), shop(decimal_places=0))
    # 1000 including 19 %: 1000 / 1.19 = 840.336… -> 840; tax 160
    assert parts(policy.price(D("1000"))) == (D(840), D(160), D(1000))


# --- fees ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("includes_tax", "fee", "expected"), [
    # 4.95 with tax: 4.95 / 1.19 = 4.1596… -> 4.16; tax 0.79
    (True, "4.95", ("4.16", "0.79", "4.95")),
    # 4.95 without tax: 4.95 x 1.19 = 5.8905 -> 5.89; tax 0.94
    (False, "4.95", ("4.95", "0.94", "5.89")),
    # finer than the currency, with tax: 1.255 -> 1.26; 1.255 / 1.19 = 1.0546… -> 1.05
    (True, "1.255", ("1.05", "0.21", "1.26")),
    # finer than the currency, without tax: 1.255 -> 1.26; 1.255 x 1.19 = 1.49345 -> 1.49
    # (both sides from the exact figures: not 1.26 + 1.26 x 0.19 = 1.26 + 0.24 = 1.50)
    (False, "1.255", ("1.26", "0.23", "1.49")),
])
def test_fee_with_and_without_tax_inclusive_prices(
        includes_tax: bool, fee: str, expected: tuple[str, str, str]) -> None:
    config = shop(includes_tax, fee=D(fee), fee_class=STORE_CLASS)
    order = cart(line("10.00"), billing=DE, with_fee=True)
    policy = PricingPolicy.for_order(order, config)
    assert parts(policy.price(D(fee), STORE_CLASS.id)) == tuple(D(x) for x in expected)
    charged = calculate(order, config, NOW).payment
    assert charged.tax_rate == D("0.19")
    assert parts(charged.price.value) == tuple(D(x) for x in expected)


def test_a_fee_is_taxed_at_its_methods_class_else_the_orders() -> None:
    policy = PricingPolicy.for_order(cart(billing=DE, tax_class=ORDER_CLASS),
                                     shop(includes_tax=False))
    # 10.00 at the method's class (10 %): 11.00; without a class of its own, the order's
    # (7 %): 10.70
    assert parts(policy.price(D("10.00"), PRODUCT_CLASS.id)) == (D("10.00"), D("1.00"),
                                                                 D("11.00"))
    assert parts(policy.price(D("10.00"), None)) == (D("10.00"), D("0.70"), D("10.70"))
    assert policy.fee(None, PRODUCT_CLASS.id).rate == D("0.10")
    assert policy.fee(None, PRODUCT_CLASS.id).exact == Exact(D(0), D(0))
    assert policy.price(None, PRODUCT_CLASS.id) is None


def test_a_fee_charged_on_a_total_rounded_order_stays_exact_until_the_total() -> None:
    policy = PricingPolicy.for_order(cart(billing=DE),
                                     shop(includes_tax=False, rounding=RoundingMethod.TOTAL))
    fee = policy.fee(D("4.95"), STORE_CLASS.id)
    assert (fee.rate, fee.exact) == (D("0.19"), Exact(D("4.95"), D("5.8905")))
    assert parts(policy.price(D("4.95"), STORE_CLASS.id)) == (D("4.95"), D("0.94"), D("5.89"))


def test_prices_in_different_currencies_do_not_add_up() -> None:
    euros, dollars = Price.zero(EUR.id), Price.zero(uuid.uuid4())
    with pytest.raises(CurrencyMismatch):
        euros + dollars
    with pytest.raises(CurrencyMismatch):
        euros - dollars
    one = Price(EUR.id, D("0.84"), D("0.16"), D("1.00"))
    assert one + one - euros == Price(EUR.id, D("1.68"), D("0.32"), D("2.00"))


# --- the catalog lists a fee at what the checkout charges ----------------------------------

fees = st.builds(lambda units, places: D(units).scaleb(-places),
                 st.integers(0, 10**10), st.integers(0, 6))
"""0 to 10000 with up to 6 decimal places, finer than the currency too."""
rates = st.sampled_from([D(r) for r in ("0", "0.05", "0.07", "0.0725", "0.19", "0.2", "0.255")])
places_of = st.sampled_from([0, 2, 3])
destinations = st.sampled_from([(None, None), (DE, None), (DE, BY), (DE, BE), (US, CA),
                                (US, None), (FR, None)])
classes = st.sampled_from([None, *CLASSES])


@settings(max_examples=300, deadline=None)
@given(fee=fees, country_rate=rates, region_rate=rates, default_rate=rates,
       places=places_of, includes_tax=st.booleans(),
       rounding=st.sampled_from(list(RoundingMethod)), destination=destinations,
       own_class=st.booleans(), chosen=classes)
def test_catalog_listing_of_a_fee_equals_the_checkouts_fee(
        fee: Decimal, country_rate: Decimal, region_rate: Decimal, default_rate: Decimal,
        places: int, includes_tax: bool, rounding: RoundingMethod,
        destination: tuple[Country | None, Region | None], own_class: bool,
        chosen: TaxClass | None) -> None:
    """The catalog (``GET v1/paymentmethods`` with session headers) and the checkout
    (``GET v1/checkout/{id}/paymentmethods`` and the order's payment fee) price one fee
    the same way for one destination, whatever the rates, precision and rounding."""
    fee_class = TaxClass(uuid.uuid4(), STORE_ID, "fee", "Fee", default_rate, rates=(
        TaxRate(DE_ID, None, country_rate), TaxRate(DE_ID, BY.id, region_rate),
        TaxRate(US_ID, CA.id, region_rate)))
    base = shop(includes_tax, rounding, fee=fee, decimal_places=places)
    own = fee_class.id if own_class else None
    method = PaymentMethod(PAYMENT_ID, STORE_ID, "pay", "Pay", "invoicing", tax_class_id=own,
                           fees=MappingProxyType({EUR.id: fee}))
    post = ShippingMethod(uuid.uuid4(), STORE_ID, "post", "Post", tax_class_id=own,
                          prices=MappingProxyType({EUR.id: fee}))
    config = StoreConfig(base.store, base.currencies, base.countries,
                         (*CLASSES, fee_class), (), (method,), (post,))
    country, region = destination

    session = resolve_session(config, SessionHeaders(
        currency="EUR", tax_class=chosen.alias if chosen else None,
        shipping_country=country.code if country else None,
        shipping_region=region.code if region else None))
    catalog = session.pricing()
    listed_fee = catalog.price(method.fee_in(EUR.id), method.tax_class_id)
    listed_rate = catalog.price(post.price_in(EUR.id), post.tax_class_id)

    order = cart(line("1.00"), tax_class=chosen, billing=country, billing_region=region,
                 with_fee=True)
    order.shipping_method_id = post.id
    checkout = PricingPolicy.for_order(order, config)
    offered_fee = checkout.price(method.fee_in(EUR.id), method.tax_class_id)
    offered_rate = checkout.price(post.price_in(EUR.id), post.tax_class_id)
    result = calculate(order, config, NOW)

    assert listed_fee == offered_fee == listed_rate == offered_rate
    for charged in (result.payment.price.value, result.shipping.price.value):
        assert listed_fee is not None
        assert listed_fee.with_tax == rounded(charged.with_tax, places)
        assert listed_fee.without_tax == rounded(charged.without_tax, places)
        assert listed_fee.without_tax + listed_fee.tax == listed_fee.with_tax
