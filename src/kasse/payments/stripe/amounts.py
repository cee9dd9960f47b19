"""Amounts as Stripe takes them: integers in the currency's smallest unit.

Stripe's exponent is its own, not always ISO 4217's and not the shop's display
precision: JPY and fifteen other currencies take whole units, five take thousandths
(rounded to tens), and ISK keeps two decimals that must be ``00``. An amount Stripe
cannot take exactly is refused, never rounded: the shopper must be charged exactly the
order's amount.
"""

from __future__ import annotations

from decimal import Decimal

ZERO_DECIMAL = frozenset({
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
    "VUV", "XAF", "XOF", "XPF",
})
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# Minor-unit amounts Stripe only accepts in multiples of these: card networks take whole
# kronur for ISK, and three-decimal currencies only to the hundredth.
_STEP = {"ISK": 100, **{code: 10 for code in THREE_DECIMAL}}


class AmountNotAccepted(ValueError):
    """Stripe cannot take this amount exactly in this currency."""


def exponent(currency_code: str) -> int:
    """Decimal places of Stripe's minor unit for a currency."""
    code = currency_code.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_minor_units(amount: Decimal, currency_code: str) -> int:
    """``amount`` in Stripe's smallest unit of ``currency_code`` (12.34 EUR -> 1234,
    1500 JPY -> 1500); raises ``AmountNotAccepted`` rather than round."""
    code = currency_code.upper()
    if not amount.is_finite() or amount < 0:
        raise AmountNotAccepted(f"{amount} {code} is not an amount Stripe can charge")
    scaled = amount.scaleb(exponent(code))
    if scaled != scaled.to_integral_value():
        raise AmountNotAccepted(
            f"{amount:f} {code} has more decimals than Stripe takes in {code} "
            f"({exponent(code)})")
    units = int(scaled)
    step = _STEP.get(code, 1)
    if units % step:
        raise AmountNotAccepted(
            f"Stripe takes {code} amounts only in steps of "
            f"{Decimal(step).scaleb(-exponent(code)):f}; {amount:f} is not one")
    return units


def from_minor_units(units: int, currency_code: str) -> Decimal:
    """The inverse of :func:`to_minor_units` (1234 EUR -> Decimal('12.34'))."""
    return Decimal(units).scaleb(-exponent(currency_code))
