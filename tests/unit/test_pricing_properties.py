"""Properties of price splitting that must hold for every amount, rate and precision."""

from __future__ import annotations

import uuid
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from kasse.domain.money import round_to
from kasse.domain.pricing import price_from_configured

CURRENCY = uuid.uuid4()
places = st.integers(min_value=0, max_value=3)
rates = st.decimals(min_value=0, max_value=Decimal("0.5"), places=4)
amounts = st.decimals(min_value=0, max_value=Decimal("1000000"), places=3)
quantities = st.integers(min_value=1, max_value=1000).map(Decimal)


@given(amounts, rates, places, st.booleans())
def test_parts_always_add_up(value: Decimal, rate: Decimal, digits: int,
                             including: bool) -> None:
    price = price_from_configured(value, CURRENCY, rate, including, digits)
    assert price.without_tax + price.tax == price.with_tax
    for part in (price.without_tax, price.tax, price.with_tax):
        assert part == round_to(part, digits)  # nothing finer than the currency
        assert part >= 0


@given(amounts, rates, places)
def test_the_configured_side_is_kept_exactly(value: Decimal, rate: Decimal, digits: int
                                             ) -> None:
    gross = price_from_configured(value, CURRENCY, rate, True, digits)
    net = price_from_configured(value, CURRENCY, rate, False, digits)
    assert gross.with_tax == round_to(value, digits)
    assert net.without_tax == round_to(value, digits)


@given(amounts, rates, places, quantities, st.booleans())
def test_whole_quantities_multiply_exactly(
        value: Decimal, rate: Decimal, digits: int, quantity: Decimal, including: bool) -> None:
    unit = price_from_configured(value, CURRENCY, rate, including, digits)
    line = unit.times(quantity, digits, including)
    assert line.without_tax + line.tax == line.with_tax
    assert line.with_tax == unit.with_tax * quantity
    assert line.without_tax == unit.without_tax * quantity
