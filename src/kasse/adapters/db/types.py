"""Column types that keep money exact on every engine.

SQLite has no exact decimal type (its NUMERIC affinity silently becomes a float), so
amounts are stored as scaled integers: ``Decimal('1234567.8905')`` with scale 6 is
stored as ``1234567890500``. Integers are exact on both SQLite and PostgreSQL, sort
correctly, and support atomic arithmetic in SQL (``balance = balance - :amount``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Dialect
from sqlalchemy.types import TypeDecorator

from kasse.domain.money import require_precision

MONEY_SCALE = 6
_FACTOR = Decimal(10) ** MONEY_SCALE


def to_scaled(value: Decimal, scale: int = MONEY_SCALE) -> int:
    """Exact conversion to a scaled integer; refuses values that would need rounding."""
    if not isinstance(value, Decimal):
        raise TypeError(f"expected Decimal, got {type(value).__name__}")
    require_precision(value, scale)
    return int(value.scaleb(scale))


def from_scaled(value: int, scale: int = MONEY_SCALE) -> Decimal:
    exact = Decimal(value).scaleb(-scale)
    # Drop trailing zeros without switching to exponent notation (1E+2).
    return exact.quantize(Decimal(1)) if exact == exact.to_integral() else exact.normalize()


class ScaledDecimal(TypeDecorator[Decimal]):
    """A ``Decimal`` stored as a 64-bit integer of 10**-6 units (exact on every engine)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return to_scaled(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return from_scaled(int(value))


def utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime: SQLite gives times back without their zone."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
