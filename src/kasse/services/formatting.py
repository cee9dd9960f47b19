"""Showing amounts the way a currency's culture writes them (``1.234,50 €``, ``$1,234.50``):
for API answers, pages and the shopper's emails alike."""

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
    # Formatting through the culture's rules is costly and an order shows the same few
    # amounts again and again, so results are kept. The key is the amount's exact text:
    # equal Decimals such as 0 and -0 may be written differently.
    return _formatted(str(value), currency.code, currency.culture, currency.decimal_places,
                      currency.format_template)


@lru_cache(maxsize=8192)
def _formatted(value: str, code: str, culture: str, digits: int, template: str | None
               ) -> str:
    amount = Decimal(value)
    locale = _locale(culture)
    if template and "{0}" in template:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return template.replace("{0}", format_decimal(amount, format=pattern, locale=locale))
    return format_currency(amount, code, format=_currency_pattern(culture, digits),
                           locale=locale, currency_digits=False)


def currency_symbols(currency: Currency) -> tuple[str, str, str]:
    """(symbol, decimal separator, group separator) of the currency's culture."""
    locale = _locale(currency.culture)
    return (get_currency_symbol(currency.code, locale=locale), get_decimal_symbol(locale),
            get_group_symbol(locale))
