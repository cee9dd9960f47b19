from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from kasse.domain.errors import CurrencyMismatch, PrecisionError
from kasse.domain.money import require_precision, round_to
from kasse.domain.pricing import Price, price_from_configured

EUR = uuid.uuid4()
USD = uuid.uuid4()


def test_prices_refuse_floats_and_mixed_currencies() -> None:
    with pytest.raises(TypeError):
        price_from_configured(0.1, EUR, Decimal("0.19"), True, 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        price_from_configured(0.1, EUR, Decimal("0.19"), False, 2)  # type: ignore[arg-type]
    with pytest.raises(CurrencyMismatch):
        Price(EUR, Decimal(1), Decimal(0), Decimal(1)) + Price(USD, Decimal(1), Decimal(0),
                                                               Decimal(1))
    total = (Price(EUR, Decimal("0.1"), Decimal(0), Decimal("0.1"))
             + Price(EUR, Decimal("0.2"), Decimal(0), Decimal("0.2")))
    assert total == Price(EUR, Decimal("0.3"), Decimal(0), Decimal("0.3"))


def test_rounding_is_half_up_not_bankers() -> None:
    assert round_to(Decimal("0.125"), 2) == Decimal("0.13")
    assert round_to(Decimal("0.135"), 2) == Decimal("0.14")
    assert round_to(Decimal("-0.125"), 2) == Decimal("-0.13")
    assert round_to(Decimal("2.5"), 0) == Decimal("3")


def test_precision_is_checked_not_rounded_away() -> None:
    assert require_precision(Decimal("1.50"), 2) == Decimal("1.50")
    with pytest.raises(PrecisionError, match="3 decimal places"):
        require_precision(Decimal("1.505"), 2)
    with pytest.raises(PrecisionError, match="finite"):
        require_precision(Decimal("NaN"), 2)


@pytest.mark.parametrize(("value", "rate", "including", "expected"), [
    ("89.95", "0.19", True, ("75.59", "14.36", "89.95")),
    ("10", "0.2", False, ("10.00", "2.00", "12.00")),
    ("0.50", "0.19", True, ("0.42", "0.08", "0.50")),
    ("99.00", "0", True, ("99.00", "0", "99.00")),
    ("19.99", "0.0725", False, ("19.99", "1.45", "21.44")),
])
def test_configured_prices_split_into_exact_parts(
        value: str, rate: str, including: bool, expected: tuple[str, str, str]) -> None:
    price = price_from_configured(Decimal(value), EUR, Decimal(rate), including, 2)
    assert (price.without_tax, price.tax, price.with_tax) == tuple(Decimal(e) for e in expected)
    assert price.without_tax + price.tax == price.with_tax


def test_zero_decimal_currency() -> None:
    price = price_from_configured(Decimal("1000"), EUR, Decimal("0.1"), True, 0)
    assert (price.without_tax, price.tax, price.with_tax) == (Decimal(909), Decimal(91),
                                                              Decimal(1000))
