"""Amounts as a currency's culture writes them; the rule lives in ``services.formatting``
(the shopper's emails use it too)."""

from kasse.services.formatting import currency_symbols, format_amount

__all__ = ["currency_symbols", "format_amount"]
