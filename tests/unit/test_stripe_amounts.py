"""Amounts in Stripe's minor units: the currency's exponent as Stripe counts it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kasse.payments.stripe.amounts import (
    AmountNotAccepted,
    exponent,
    from_minor_units,
    to_minor_units,
)


@pytest.mark.parametrize(("amount", "currency", "units"), [
    ("12.34", "EUR", 1234),
    ("12.3", "eur", 1230),
    ("0.01", "USD", 1),
    ("0", "GBP", 0),
    ("1500", "JPY", 1500),  # zero-decimal: yen are whole
    ("1500.00", "JPY", 1500),
    ("9800", "krw", 9800),
    ("5.120", "KWD", 5120),  # three decimals, the last one 0
    ("5", "BHD", 5000),
    ("40", "ISK", 4000),  # two decimals on the wire, whole kronur only
])
def test_to_minor_units(amount: str, currency: str, units: int) -> None:
    assert to_minor_units(Decimal(amount), currency) == units


@pytest.mark.parametrize(("amount", "currency"), [
    ("12.345", "EUR"),  # a third decimal is never rounded away
    ("100.5", "JPY"),
    ("5.124", "KWD"),
    ("40.10", "ISK"),
    ("-1", "EUR"),
    ("NaN", "EUR"),
    ("Infinity", "USD"),
])
def test_amounts_stripe_cannot_take_exactly_are_refused(amount: str, currency: str) -> None:
    with pytest.raises(AmountNotAccepted):
        to_minor_units(Decimal(amount), currency)


def test_from_minor_units() -> None:
    assert from_minor_units(1234, "EUR") == Decimal("12.34")
    assert from_minor_units(1500, "jpy") == Decimal("1500")
    assert from_minor_units(5120, "KWD") == Decimal("5.12")
    assert exponent("JPY") == 0 and exponent("EUR") == 2 and exponent("OMR") == 3


@given(st.integers(min_value=0, max_value=10**12),
       st.sampled_from(["EUR", "USD", "JPY", "KRW", "CHF", "XOF"]))
def test_round_trip(units: int, currency: str) -> None:
    assert to_minor_units(from_minor_units(units, currency), currency) == units
