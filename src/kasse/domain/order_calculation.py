"""Where an order's totals are computed: lines, subtotal, shipping, payment, total and the
transaction amount, exactly, with the store's rounding method.

Each price is first known exactly as a (net, gross) pair of ``Decimal``: prices set
including tax give the gross and derive the net, prices set excluding tax the other way
round. Rounding to the currency then happens where the store says:

* ``unit``  – every unit price is rounded, line totals are unit × quantity;
* ``line``  – every line total (and each fee) is rounded from the exact figures;
* ``total`` – nothing is rounded until the order total.

Both sides are rounded from exact figures and tax is their difference, so
``withoutTax + tax == withTax`` everywhere, and a store whose gross prices are the same
charges the same ``withTax`` whether it enters prices with or without tax.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from kasse.domain.money import ZERO, RoundingMethod, round_to
from kasse.domain.order import Order, OrderLine
from kasse.domain.pricing import Price, tax_rate
from kasse.domain.store import Country, Region, StoreConfig, TaxClass

ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class Exact:
    """An unrounded price: net and gross."""

    net: Decimal
    gross: Decimal

    @classmethod
    def of(cls, configured: Decimal, rate: Decimal, includes_tax: bool) -> Exact:
        if includes_tax:
            return cls(configured / (ONE + rate) if rate else configured, configured)
        return cls(configured, configured * (ONE + rate) if rate else configured)

    def __add__(self, other: Exact) -> Exact:
        return Exact(self.net + other.net, self.gross + other.gross)

    def times(self, quantity: Decimal) -> Exact:
        return Exact(self.net * quantity, self.gross * quantity)

    def rounded(self, decimal_places: int) -> Exact:
        return Exact(round_to(self.net, decimal_places), round_to(self.gross, decimal_places))

    def price(self, currency_id: UUID) -> Price:
        return Price(currency_id, self.net, self.gross - self.net, self.gross)


ZERO_EXACT = Exact(ZERO, ZERO)


@dataclass(frozen=True, slots=True)
class PriceAdjustment:
    """A discount or fee that changed a price (discounts are negative)."""

    name: str
    type: str
    price: Price
    original_price: Price


@dataclass(frozen=True, slots=True)
class AdjustedPrice:
    value: Price
    without_adjustments: Price
    adjustments: tuple[PriceAdjustment, ...] = ()
    previous_adjustments: Price | None = None

    @classmethod
    def plain(cls, price: Price) -> AdjustedPrice:
        return cls(price, price, (), Price.zero(price.currency_id))

    @property
    def adjustment(self) -> Price:
        return _minus(self.value, self.without_adjustments)

    @property
    def with_previous_adjustments(self) -> Price:
        """The price before this level's adjustments but after those of lower levels."""
        return self.without_adjustments

    @property
    def total_adjustment(self) -> Price:
        previous = self.previous_adjustments or Price.zero(self.value.currency_id)
        return _plus(self.adjustment, previous)


def _minus(a: Price, b: Price) -> Price:
    return Price(a.currency_id, a.without_tax - b.without_tax, a.tax - b.tax,
                 a.with_tax - b.with_tax)


def _plus(a: Price, b: Price) -> Price:
    return Price(a.currency_id, a.without_tax + b.without_tax, a.tax + b.tax,
                 a.with_tax + b.with_tax)


@dataclass(frozen=True, slots=True)
class LineCalculation:
    tax_class_id: UUID | None
    tax_rate: Decimal
    base_price: AdjustedPrice
    unit_price: AdjustedPrice
    total_price: AdjustedPrice


@dataclass(frozen=True, slots=True)
class FeeCalculation:
    tax_rate: Decimal
    price: AdjustedPrice


@dataclass(frozen=True, slots=True)
class OrderCalculation:
    currency_id: UUID
    tax_rate: Decimal
    lines: dict[UUID, LineCalculation]
    subtotal: AdjustedPrice
    shipping: FeeCalculation
    payment: FeeCalculation
    total: AdjustedPrice
    transaction_amount: Decimal
    """What will be charged: the total with tax after amount adjustments, never below 0."""


@dataclass(slots=True)
class _Context:
    config: StoreConfig
    order: Order
    country: Country | None
    region: Region | None
    decimal_places: int
    method: RoundingMethod
    includes_tax: bool

    def rate_of(self, tax_class: TaxClass | None) -> Decimal:
        return tax_rate(tax_class, self.country, self.region)

    def class_for(self, own: UUID | None) -> TaxClass | None:
        c = self.config
        return (c.tax_class_by_id(own) or c.tax_class_by_id(self.order.tax_class_id)
                or c.tax_class_by_id(c.store.default_tax_class_id))

    def unit(self, exact: Exact) -> Exact:
        return exact.rounded(self.decimal_places) if self.method is RoundingMethod.UNIT else exact

    def line(self, exact: Exact) -> Exact:
        if self.method is RoundingMethod.TOTAL:
            return exact
        return exact.rounded(self.decimal_places)


def _context(order: Order, config: StoreConfig) -> _Context:
    currency = config.currency_by_id(order.currency_id)
    country, region = order.tax_destination(config)
    return _Context(config, order, country, region,
                    currency.decimal_places if currency else 2,
                    config.store.rounding_method, config.store.prices_include_tax)


def fee_price(order: Order, config: StoreConfig, configured: Decimal,
              tax_class_id: UUID | None) -> tuple[Price, Decimal]:
    """A shipping rate or payment fee as it would be charged on this order, with its rate
    (rounded to the currency, for showing the choices)."""
    ctx = _context(order, config)
    fee = _fee(ctx, configured, tax_class_id)
    return fee.price_exact.rounded(ctx.decimal_places).price(order.currency_id), fee.rate


def calculate(order: Order, config: StoreConfig) -> OrderCalculation:
    """Price the whole order from its frozen line prices and the store's configuration."""
    ctx = _context(order, config)
    cid = order.currency_id
    lines: dict[UUID, LineCalculation] = {}
    subtotal = ZERO_EXACT
    for line in order.lines:
        subtotal = subtotal + _line(ctx, line, lines)

    shipping = _shipping(ctx)
    payment = _payment(ctx)
    total = subtotal + shipping.price_exact + payment.price_exact
    if ctx.method is RoundingMethod.TOTAL:
        total = total.rounded(ctx.decimal_places)
    total_price = total.price(cid)
    transaction = max(total_price.with_tax, ZERO)
    return OrderCalculation(
        currency_id=cid,
        tax_rate=ctx.rate_of(ctx.class_for(None)),
        lines=lines,
        subtotal=AdjustedPrice.plain(subtotal.price(cid)),
        shipping=shipping.calculated(cid),
        payment=payment.calculated(cid),
        total=AdjustedPrice.plain(total_price),
        transaction_amount=transaction,
    )


def _line(ctx: _Context, line: OrderLine, out: dict[UUID, LineCalculation]) -> Exact:
    """The line's total (per one of its parent's units for bundle items)."""
    tax_class = ctx.class_for(line.tax_class_id or line.product_tax_class_id)
    rate = ctx.rate_of(tax_class)
    base = ctx.unit(Exact.of(line.unit_price, rate, ctx.includes_tax))
    unit = base
    for child in line.children:
        unit = unit + _line(ctx, child, out)
    total = ctx.line(unit.times(line.quantity))
    cid = ctx.order.currency_id
    out[line.id] = LineCalculation(tax_class.id if tax_class else None, rate,
                                   AdjustedPrice.plain(base.price(cid)),
                                   AdjustedPrice.plain(unit.price(cid)),
                                   AdjustedPrice.plain(total.price(cid)))
    return total


@dataclass(frozen=True, slots=True)
class _Fee:
    rate: Decimal
    price_exact: Exact

    def calculated(self, currency_id: UUID) -> FeeCalculation:
        return FeeCalculation(self.rate, AdjustedPrice.plain(self.price_exact.price(currency_id)))


def _fee(ctx: _Context, configured: Decimal | None, own_class: UUID | None) -> _Fee:
    rate = ctx.rate_of(ctx.class_for(own_class))
    if configured is None:
        return _Fee(rate, ZERO_EXACT)
    return _Fee(rate, ctx.line(ctx.unit(Exact.of(configured, rate, ctx.includes_tax))))


def _shipping(ctx: _Context) -> _Fee:
    method = ctx.config.shipping_method_by_id(ctx.order.shipping_method_id)
    if method is None:
        return _fee(ctx, None, None)
    value = method.price_in(ctx.order.currency_id)
    option = next((o for o in method.options if o.id == ctx.order.shipping_option_id), None)
    if option is not None:
        value = option.prices.get(ctx.order.currency_id)
    return _fee(ctx, value, method.tax_class_id)


def _payment(ctx: _Context) -> _Fee:
    method = ctx.config.payment_method_by_id(ctx.order.payment_method_id)
    if method is None:
        return _fee(ctx, None, None)
    return _fee(ctx, method.fee_in(ctx.order.currency_id), method.tax_class_id)


def total_quantity(order: Order) -> Decimal:
    return sum((line.quantity for line in order.lines), ZERO)
