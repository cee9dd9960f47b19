"""Exact money: ``Decimal`` amounts tied to a currency code.

Mixing currencies raises; nothing here ever touches ``float``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from kasse.domain.errors import CurrencyMismatch, PrecisionError

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


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money amount must be Decimal, not {type(self.amount).__name__}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(ZERO, currency)

    def _check(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, float):
            raise TypeError("Money cannot be multiplied by float")
        return Money(self.amount * factor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def rounded(self, decimal_places: int) -> Money:
        return Money(round_to(self.amount, decimal_places), self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
