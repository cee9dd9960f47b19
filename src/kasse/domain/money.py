"""Exact money: ``Decimal`` amounts rounded half away from zero to a currency's decimal
places, precision checks, and where a store rounds.

Nothing here ever touches ``float``. A price in a currency is ``pricing.Price``: prices in
different currencies do not add up.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from kasse.domain.errors import PrecisionError

ZERO = Decimal(0)


class RoundingMethod(StrEnum):
    """Where a store rounds to the currency's precision."""

    UNIT = "unit"
    LINE = "line"
    TOTAL = "total"


def quantum(decimal_places: int) -> Decimal:
    return Decimal(1).scaleb(-decimal_places)


def round_to(value: Decimal, decimal_places: int) -> Decimal:
    """Round half away from zero, as shops and tax offices expect (not banker's rounding)."""
    return value.quantize(quantum(decimal_places), rounding=ROUND_HALF_UP)


def decimal_places_of(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def require_precision(value: Decimal, decimal_places: int, what: str = "amount") -> Decimal:
    """Refuse (never silently round) a value with more decimals than allowed."""
    if not value.is_finite():
        raise PrecisionError(f"{what} must be a finite number, got {value}")
    places = decimal_places_of(value)
    if places > decimal_places:
        raise PrecisionError(
            f"{what} {value} has {places} decimal places; at most {decimal_places} are allowed"
        )
    return value
