"""The pricing policy: the one place that decides what a configured price costs.

Every price the shop shows or charges goes the same way:

    destination -> tax class -> rate -> exact (without tax, with tax) -> rounding

* **destination**: the shipping country and region, then the billing ones, then the
  store's default country (without a region);
* **tax class**: the one set on the order line, else the product's (or the shipping or
  payment method's), else the order's (or the session's), else the store's default;
* **rate**: the class's rate for the destination's region, else for its country, else
  the class's default rate;
* **exact**: the configured figure is the side the store enters prices on (with or
  without tax); the other side is derived from it, unrounded;
* **rounding**: to the currency's decimal places, half away from zero, per ``unit``,
  ``line`` or ``total`` as the store says. Both sides are rounded from exact figures and
  tax is their difference, so ``without_tax + tax == with_tax`` everywhere.

``order_calculation`` prices an order's lines and totals with it; catalog and session
prices and the shipping and payment fees listed for a country or an order ask it too, so
a fee listed in the catalog is the fee charged at checkout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID

from kasse.domain.errors import CurrencyMismatch
from kasse.domain.money import ZERO, RoundingMethod, round_to
from kasse.domain.store import (
    Country,
    Product,
    ProductVariant,
    Region,
    StoreConfig,
    TaxClass,
)

if TYPE_CHECKING:
    from kasse.domain.order import Order

ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class Price:
    """A price in one currency, split into its tax parts (all exact Decimals).

    Adding or subtracting prices in different currencies raises ``CurrencyMismatch``.
    """

    currency_id: UUID
    without_tax: Decimal
    tax: Decimal
    with_tax: Decimal

    @property
    def value(self) -> Decimal:
        return self.with_tax

    def __add__(self, other: Price) -> Price:
        # Prices of one calculation share the currency id object: identity is the fast path.
        if other.currency_id is not self.currency_id and other.currency_id != self.currency_id:
            raise _mismatch(self, other)
        return Price(self.currency_id, self.without_tax + other.without_tax,
                     self.tax + other.tax, self.with_tax + other.with_tax)

    def __sub__(self, other: Price) -> Price:
        if other.currency_id is not self.currency_id and other.currency_id != self.currency_id:
            raise _mismatch(self, other)
        return Price(self.currency_id, self.without_tax - other.without_tax,
                     self.tax - other.tax, self.with_tax - other.with_tax)

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


def _mismatch(a: Price, b: Price) -> CurrencyMismatch:
    return CurrencyMismatch(
        f"cannot combine prices in currencies {a.currency_id} and {b.currency_id}")


@dataclass(frozen=True, slots=True)
class Exact:
    """An unrounded price: net (without tax) and gross (with tax)."""

    net: Decimal
    gross: Decimal

    @classmethod
    def of(cls, configured: Decimal, rate: Decimal, includes_tax: bool) -> Exact:
        """A configured price at ``rate``: its own side as set, the other side derived."""
        if includes_tax:
            return cls(configured / (ONE + rate) if rate else configured, configured)
        return cls(configured, configured * (ONE + rate) if rate else configured)

    def __add__(self, other: Exact) -> Exact:
        return Exact(self.net + other.net, self.gross + other.gross)

    def __sub__(self, other: Exact) -> Exact:
        return Exact(self.net - other.net, self.gross - other.gross)

    def __neg__(self) -> Exact:
        return Exact(-self.net, -self.gross)

    def times(self, quantity: Decimal) -> Exact:
        return Exact(self.net * quantity, self.gross * quantity)

    def scaled(self, factor: Decimal) -> Exact:
        return Exact(self.net * factor, self.gross * factor)

    def rounded(self, decimal_places: int) -> Exact:
        return Exact(round_to(self.net, decimal_places), round_to(self.gross, decimal_places))

    def price(self, currency_id: UUID) -> Price:
        return Price(currency_id, self.net, self.gross - self.net, self.gross)


ZERO_EXACT = Exact(ZERO, ZERO)


@dataclass(frozen=True, slots=True)
class Destination:
    """Where tax is owed: a country and, within it, perhaps a region."""

    country: Country | None
    region: Region | None = None


def tax_destination(config: StoreConfig, shipping_country: Country | None,
                    shipping_region: Region | None, billing_country: Country | None = None,
                    billing_region: Region | None = None) -> Destination:
    """Tax follows the shipping country, then the billing country, then the store's
    default country (without a region)."""
    if shipping_country is not None:
        return Destination(shipping_country, shipping_region)
    if billing_country is not None:
        return Destination(billing_country, billing_region)
    return Destination(config.country_by_id(config.store.default_country_id))


@dataclass(frozen=True, slots=True)
class Fee:
    """A shipping rate or payment fee as an order is charged it: its rate and exact price
    (rounded as the store rounds a line)."""

    rate: Decimal
    exact: Exact


@dataclass(frozen=True, slots=True)
class PricingPolicy:
    """How one store prices in one currency for one destination.

    Build it with ``for_order`` (an order's lines, totals and fees) or from a shopper's
    session (``Session.pricing``: catalog prices and the methods listed for a country);
    both ask the same questions of the same rules.
    """

    config: StoreConfig
    currency_id: UUID | None
    """``None``: no currency to price in, so there are no prices (tax classes still resolve)."""
    decimal_places: int
    destination: Destination
    fallback_class: TaxClass | None
    """The order's or session's tax class, else the store's default."""
    rounding: RoundingMethod
    includes_tax: bool
    # Each tax class is asked for its rate at this destination once.
    _rates: dict[UUID, Decimal] = field(default_factory=dict, init=False, repr=False,
                                        compare=False)

    @classmethod
    def of(cls, config: StoreConfig, currency_id: UUID | None, destination: Destination,
           tax_class: TaxClass | None = None) -> PricingPolicy:
        """The store's policy in a currency at ``destination``; ``tax_class`` is the order's
        or session's own (the store's default stands in for it)."""
        store = config.store
        currency = config.currency_by_id(currency_id)
        return cls(
            config,
            currency_id,
            currency.decimal_places if currency is not None else 2,
            destination,
            tax_class or config.tax_class_by_id(store.default_tax_class_id),
            store.rounding_method,
            store.prices_include_tax,
        )

    @classmethod
    def for_order(cls, order: Order, config: StoreConfig) -> PricingPolicy:
        """The policy an order is priced by: its currency, its shipping (or, the same as
        it, billing) destination and its tax class."""
        destination = tax_destination(
            config, config.country_by_id(order.effective_shipping_country_id),
            config.region_by_id(order.effective_shipping_region_id))
        return cls.of(config, order.currency_id, destination,
                      config.tax_class_by_id(order.tax_class_id))

    # --- tax class and rate ------------------------------------------------------------

    def tax_class(self, line: UUID | None = None, product: UUID | None = None
                  ) -> TaxClass | None:
        """The tax class that applies: the line's, else the product's (or a method's),
        else the order's or session's, else the store's default."""
        return self.config.tax_class_by_id(line or product) or self.fallback_class

    def rate(self, tax_class: TaxClass | None) -> Decimal:
        """The rate of ``tax_class`` at the destination: its region's, else its
        country's, else the class's default rate (no class: no tax)."""
        if tax_class is None:
            return ZERO
        rate = self._rates.get(tax_class.id)
        if rate is None:
            country, region = self.destination.country, self.destination.region
            specific = tax_class.rate_for(country.id if country else None,
                                          region.id if region else None)
            rate = specific.rate if specific is not None else tax_class.default_rate
            self._rates[tax_class.id] = rate
        return rate

    # --- exact figures and rounding ------------------------------------------------------

    def exact(self, configured: Decimal, rate: Decimal) -> Exact:
        """A configured price at ``rate``, unrounded."""
        return Exact.of(configured, rate, self.includes_tax)

    def unit(self, exact: Exact) -> Exact:
        """A unit price as the store rounds it (only when rounding per unit)."""
        if self.rounding is RoundingMethod.UNIT:
            return exact.rounded(self.decimal_places)
        return exact

    def line(self, exact: Exact) -> Exact:
        """A line total, fee or adjustment as the store rounds it (not when rounding only
        the total)."""
        if self.rounding is RoundingMethod.TOTAL:
            return exact
        return exact.rounded(self.decimal_places)

    def total(self, exact: Exact) -> Exact:
        """An order total as the store rounds it (lines are already rounded unless the
        store rounds only the total)."""
        if self.rounding is RoundingMethod.TOTAL:
            return exact.rounded(self.decimal_places)
        return exact

    # --- prices --------------------------------------------------------------------------

    def fee(self, configured: Decimal | None, own_class: UUID | None) -> Fee:
        """A shipping rate or payment fee (``None``: there is none) as the order is charged
        it, with the rate of the method's tax class."""
        rate = self.rate(self.tax_class(product=own_class))
        if configured is None:
            return Fee(rate, ZERO_EXACT)
        return Fee(rate, self.line(Exact.of(configured, rate, self.includes_tax)))

    def price(self, configured: Decimal | None, own_class: UUID | None = None
              ) -> Price | None:
        """A configured product price or method fee as it is shown: what a one-unit line
        or the fee comes to at checkout, rounded to the currency. ``None`` when there is
        no configured price or no currency."""
        if configured is None or self.currency_id is None:
            return None
        rate = self.rate(self.tax_class(product=own_class))
        return price_from_configured(configured, self.currency_id, rate, self.includes_tax,
                                     self.decimal_places)

    def product_price(self, product: Product, variant: ProductVariant | None) -> Price | None:
        """The catalog price of a product (its variant's, where the variant has one)."""
        if self.currency_id is None:
            return None
        value = variant.prices.get(self.currency_id) if variant is not None else None
        if value is None:
            value = product.prices.get(self.currency_id)
        return self.price(value, product.tax_class_id)

    def line_price(self, unit: Price, quantity: Decimal) -> Price:
        """The price of ``quantity`` units of a shown unit price, rounded like a line."""
        return unit.times(quantity, self.decimal_places, self.includes_tax)


def price_from_configured(
    value: Decimal,
    currency_id: UUID,
    rate: Decimal,
    prices_include_tax: bool,
    decimal_places: int,
) -> Price:
    """Split a configured price at ``rate`` into its parts, rounded to the currency's
    precision as the policy rounds them: both sides from exact figures, tax between."""
    return Exact.of(value, rate, prices_include_tax).rounded(decimal_places).price(currency_id)
