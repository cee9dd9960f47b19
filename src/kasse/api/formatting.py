"""Showing amounts the way a currency's culture writes them (``1.234,50 €``, ``$1,234.50``)."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
)

from kasse.domain.store import Currency

FALLBACK_LOCALE = "en_US"


@lru_cache(maxsize=256)
def _locale(culture: str) -> Locale:
    try:
        return Locale.parse(culture.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(FALLBACK_LOCALE)


@lru_cache(maxsize=256)
def _currency_pattern(culture: str, digits: int) -> str:
    standard = _locale(culture).currency_formats["standard"].pattern.split(";")[0]
    return re.sub(r"0(\.0+)?", "0" + ("." + "0" * digits if digits else ""), standard, count=1)


def format_amount(value: Decimal, currency: Currency) -> str:
    """The amount as the shopper reads it, to the currency's decimal places.

    A currency's ``format_template`` (``"{0} EUR"``) overrides the culture's pattern.
    """
    locale = _locale(currency.culture)
    digits = currency.decimal_places
    if currency.format_template and "{0}" in currency.format_template:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return currency.format_template.replace(
            "{0}", format_decimal(value, format=pattern, locale=locale))
    return format_currency(value, currency.code, format=_currency_pattern(currency.culture, digits),
                           locale=locale, currency_digits=False)


def currency_symbols(currency: Currency) -> tuple[str, str, str]:
    """(symbol, decimal separator, group separator) of the currency's culture."""
    locale = _locale(currency.culture)
    return (get_currency_symbol(currency.code, locale=locale), get_decimal_symbol(locale),
            get_group_symbol(locale))
