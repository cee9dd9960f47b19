"""Prices with tax: how a configured price becomes without-tax, tax and with-tax figures."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from kasse.domain.money import ZERO, round_to
from kasse.domain.store import Country, Region, StoreConfig, TaxClass


@dataclass(frozen=True, slots=True)
class Price:
    """A price in one currency, split into its tax parts (all exact Decimals)."""

    currency_id: UUID
    without_tax: Decimal
    tax: Decimal
    with_tax: Decimal

    @property
    def value(self) -> Decimal:
        return self.with_tax

    def times(self, quantity: Decimal, decimal_places: int, prices_include_tax: bool) -> Price:
        """The price of ``quantity`` units, rounded to the currency like a line total.

        The side the store's prices are set on is multiplied and rounded; the other side
        is derived, so ``without_tax + tax == with_tax`` still holds.
        """
        if prices_include_tax:
            with_tax = round_to(self.with_tax * quantity, decimal_places)
            without_tax = round_to(self.without_tax * quantity, decimal_places)
        else:
            without_tax = round_to(self.without_tax * quantity, decimal_places)
            with_tax = round_to(self.with_tax * quantity, decimal_places)
        return Price(self.currency_id, without_tax, with_tax - without_tax, with_tax)

    @classmethod
    def zero(cls, currency_id: UUID) -> Price:
        return cls(currency_id, ZERO, ZERO, ZERO)


def price_from_configured(
    value: Decimal,
    currency_id: UUID,
    rate: Decimal,
    prices_include_tax: bool,
    decimal_places: int,
) -> Price:
    """Split a configured price into its parts, rounded to the currency's precision.

    The configured figure is kept exactly; the derived figure absorbs the rounding so
    that ``without_tax + tax == with_tax`` always holds.
    """
    if prices_include_tax:
        with_tax = round_to(value, decimal_places)
        without_tax = round_to(with_tax / (1 + rate), decimal_places) if rate else with_tax
        return Price(currency_id, without_tax, with_tax - without_tax, with_tax)
    without_tax = round_to(value, decimal_places)
    tax = round_to(without_tax * rate, decimal_places) if rate else ZERO
    return Price(currency_id, without_tax, tax, without_tax + tax)


def tax_rate(tax_class: TaxClass | None, country: Country | None, region: Region | None
             ) -> Decimal:
    """The rate of a tax class at a destination; the class default where none is set."""
    if tax_class is None:
        return ZERO
    specific = tax_class.rate_for(country.id if country else None, region.id if region else None)
    return specific.rate if specific is not None else tax_class.default_rate


def effective_tax_class(config: StoreConfig, own: UUID | None, session: TaxClass | None
                        ) -> TaxClass | None:
    """An item's own tax class wins, then the session's, then the store default."""
    return (
        config.tax_class_by_id(own)
        or session
        or config.tax_class_by_id(config.store.default_tax_class_id)
    )
