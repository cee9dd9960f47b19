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

Destination, tax class, rate and rounding are the pricing policy's (``pricing.py``); this
module adds the order's own arithmetic: bundles, discounts and gift cards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from kasse.domain.discounts import Discount, DiscountKind, Reward, RewardTarget
from kasse.domain.money import ZERO
from kasse.domain.order import Order, OrderLine
from kasse.domain.pricing import ZERO_EXACT, Exact, Fee, Price, PricingPolicy
from kasse.domain.store import StoreConfig


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
        return self.value - self.without_adjustments

    @property
    def with_previous_adjustments(self) -> Price:
        """The price before this level's adjustments but after those of lower levels."""
        return self.without_adjustments

    @property
    def total_adjustment(self) -> Price:
        previous = self.previous_adjustments or Price.zero(self.value.currency_id)
        return self.adjustment + previous


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
class AppliedCode:
    """A discount code redeemed on the order and whether its discount applies now."""

    code: str
    discount: Discount | None
    fulfilled: bool


@dataclass(frozen=True, slots=True)
class AmountAdjustment:
    """A gift card paying part of the order: it reduces the transaction amount."""

    name: str
    code: str
    gift_card_id: UUID
    amount: Decimal
    """Positive: what the card pays."""


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
    codes: tuple[AppliedCode, ...] = ()
    automatic_discounts: tuple[Discount, ...] = ()
    gift_cards: tuple[AmountAdjustment, ...] = ()

    @property
    def without_amount_adjustments(self) -> Decimal:
        return self.total.value.with_tax


@dataclass(slots=True)
class _Context:
    config: StoreConfig
    order: Order
    pricing: PricingPolicy


def calculate(order: Order, config: StoreConfig, at: datetime | None = None
              ) -> OrderCalculation:
    """Price the whole order from its frozen line prices, the store's configuration, the
    discounts that apply at ``at`` (default: now) and the gift cards redeemed on it."""
    # A finalized order keeps the discounts it was placed with.
    at = order.finalized_at or at or datetime.now(UTC)
    pricing = PricingPolicy.for_order(order, config)
    ctx = _Context(config, order, pricing)
    cid = order.currency_id
    totals: dict[UUID, Exact] = {}
    for line in order.lines:
        totals[line.id] = _line_total(ctx, line)
    subtotal_before = _sum(totals.values())

    applying = _applying(ctx, subtotal_before, at)
    discounts = _Adjusting(ctx, applying.discounts)

    line_results: dict[UUID, LineCalculation] = {}
    adjusted_lines = ZERO_EXACT
    for line in order.lines:
        total, adjustments = discounts.lines(line, totals[line.id])
        _describe(ctx, line, line_results, total, adjustments)
        adjusted_lines = adjusted_lines + total
    subtotal, subtotal_adjustments = discounts.apply(RewardTarget.SUBTOTAL, adjusted_lines)

    shipping_fee = _shipping(ctx)
    shipping, shipping_adjustments = discounts.apply(RewardTarget.SHIPPING, shipping_fee.exact)
    payment = _payment(ctx)
    before_total = subtotal + shipping + payment.exact
    total, total_adjustments = discounts.apply(RewardTarget.TOTAL, before_total)
    total = pricing.total(total)
    before_total = pricing.total(before_total)
    total_price = total.price(cid)
    lower = (subtotal_before - subtotal) + (shipping_fee.exact - shipping)
    gift_cards, transaction = _gift_cards(order, max(total_price.with_tax, ZERO), at)
    return OrderCalculation(
        currency_id=cid,
        tax_rate=pricing.rate(pricing.tax_class()),
        lines=line_results,
        subtotal=AdjustedPrice(subtotal.price(cid), adjusted_lines.price(cid),
                               subtotal_adjustments,
                               (-(subtotal_before - adjusted_lines)).price(cid)),
        shipping=FeeCalculation(shipping_fee.rate, AdjustedPrice(
            shipping.price(cid), shipping_fee.exact.price(cid), shipping_adjustments,
            Price.zero(cid))),
        payment=FeeCalculation(payment.rate, AdjustedPrice.plain(payment.exact.price(cid))),
        total=AdjustedPrice(total_price, before_total.price(cid), total_adjustments,
                            (-lower).price(cid)),
        transaction_amount=transaction,
        codes=applying.codes,
        automatic_discounts=applying.automatic,
        gift_cards=gift_cards,
    )


def _sum(values: Iterable[Exact]) -> Exact:
    total = ZERO_EXACT
    for value in values:
        total = total + value
    return total


def _line_total(ctx: _Context, line: OrderLine) -> Exact:
    """The line's total before discounts (per one of its parent's units for bundle items)."""
    pricing = ctx.pricing
    tax_class = pricing.tax_class(line.tax_class_id, line.product_tax_class_id)
    unit = pricing.unit(pricing.exact(line.unit_price, pricing.rate(tax_class)))
    for child in line.children:
        unit = unit + _line_total(ctx, child)
    return pricing.line(unit.times(line.quantity))


def _describe(ctx: _Context, line: OrderLine, out: dict[UUID, LineCalculation],
              total: Exact | None = None, adjustments: tuple[PriceAdjustment, ...] = ()
              ) -> Exact:
    """Record the line's prices (and its bundle items'); returns its unit price."""
    pricing = ctx.pricing
    tax_class = pricing.tax_class(line.tax_class_id, line.product_tax_class_id)
    rate = pricing.rate(tax_class)
    base = pricing.unit(pricing.exact(line.unit_price, rate))
    unit = base
    for child in line.children:
        unit = unit + pricing.line(_describe(ctx, child, out).times(child.quantity))
    before = pricing.line(unit.times(line.quantity))
    cid = ctx.order.currency_id
    after = before if total is None else total
    out[line.id] = LineCalculation(
        tax_class.id if tax_class else None, rate, AdjustedPrice.plain(base.price(cid)),
        AdjustedPrice.plain(unit.price(cid)),
        AdjustedPrice(after.price(cid), before.price(cid), adjustments, Price.zero(cid)))
    return unit


@dataclass(frozen=True, slots=True)
class _Applying:
    discounts: tuple[Discount, ...]
    codes: tuple[AppliedCode, ...]
    automatic: tuple[Discount, ...]


def _applying(ctx: _Context, subtotal: Exact, at: datetime) -> _Applying:
    """The discounts that apply, in their configured order, and the state of each code."""
    order, config = ctx.order, ctx.config
    basis = subtotal.gross if ctx.pricing.includes_tax else subtotal.net
    country = ctx.pricing.destination.country
    country_id = country.id if country else None
    redeemed: dict[UUID, str] = {}
    for code in order.discount_codes:
        found = config.discount_code(code)
        usage = order.code_usage.get(code)
        if found is not None and not (usage is not None and usage.exhausted):
            redeemed.setdefault(found[0].id, code)
    chosen: list[Discount] = []
    for discount in config.discounts:
        if discount.kind is DiscountKind.CODE and discount.id not in redeemed:
            continue
        if not discount.qualifies(order.currency_id, basis, country_id, at):
            continue
        chosen.append(discount)
        if discount.block_further:
            break
    chosen_ids = {d.id for d in chosen}
    codes = []
    for code in order.discount_codes:
        found = config.discount_code(code)
        owner = found[0] if found else None
        codes.append(AppliedCode(code, owner, owner is not None and owner.id in chosen_ids
                                 and redeemed.get(owner.id) == code))
    return _Applying(tuple(chosen), tuple(codes),
                     tuple(d for d in chosen if d.kind is DiscountKind.AUTOMATIC))


@dataclass(slots=True)
class _Adjusting:
    """Applies the rewards of the chosen discounts, target by target."""

    ctx: _Context
    discounts: tuple[Discount, ...]

    def _rewards(self, target: RewardTarget) -> list[tuple[Discount, Reward]]:
        return [(d, r) for d in self.discounts for r in d.rewards if r.target is target]

    def _take(self, price: Exact, discount: Discount, reward: Reward,
              units: Decimal = Decimal(1)) -> Exact:
        """The (negative, rounded) adjustment ``reward`` makes to ``price``."""
        ctx = self.ctx
        basis = price.gross if ctx.pricing.includes_tax else price.net
        if basis <= 0:
            return ZERO_EXACT
        if reward.percentage is not None:
            factor = min(reward.percentage, Decimal(1))
        else:
            amount = reward.amounts.get(ctx.order.currency_id)
            if amount is None:
                return ZERO_EXACT
            factor = min(amount * units / basis, Decimal(1))
        return ctx.pricing.line(-price.scaled(factor))

    def _adjustment(self, discount: Discount, before: Exact, change: Exact
                    ) -> PriceAdjustment:
        cid = self.ctx.order.currency_id
        return PriceAdjustment(discount.name, "Discount", change.price(cid), before.price(cid))

    def apply(self, target: RewardTarget, price: Exact
              ) -> tuple[Exact, tuple[PriceAdjustment, ...]]:
        adjustments: list[PriceAdjustment] = []
        for discount, reward in self._rewards(target):
            change = self._take(price, discount, reward)
            if change != ZERO_EXACT:
                adjustments.append(self._adjustment(discount, price, change))
                price = price + change
        return price, tuple(adjustments)

    def lines(self, line: OrderLine, total: Exact
              ) -> tuple[Exact, tuple[PriceAdjustment, ...]]:
        adjustments: list[PriceAdjustment] = []
        for discount, reward in self._rewards(RewardTarget.LINES):
            if not reward.matches(line.product_reference, line.sku):
                continue
            change = self._take(total, discount, reward, line.quantity)
            if change != ZERO_EXACT:
                adjustments.append(self._adjustment(discount, total, change))
                total = total + change
        return total, tuple(adjustments)


def _gift_cards(order: Order, total: Decimal, at: datetime
                ) -> tuple[tuple[AmountAdjustment, ...], Decimal]:
    """What each redeemed card pays, in order, until nothing is left to pay."""
    paid: list[AmountAdjustment] = []
    left = total
    for code in order.gift_card_codes:
        card = order.gift_cards.get(code)
        if card is None or left <= 0 or card.why_not(order.currency_id, at) is not None:
            continue
        amount = min(card.remaining, left)
        paid.append(AmountAdjustment(f"Gift card {code}", code, card.id, amount))
        left -= amount
    return tuple(paid), left


def _shipping(ctx: _Context) -> Fee:
    method = ctx.config.shipping_method_by_id(ctx.order.shipping_method_id)
    if method is None:
        return ctx.pricing.fee(None, None)
    value = method.price_in(ctx.order.currency_id)
    option = next((o for o in method.options if o.id == ctx.order.shipping_option_id), None)
    if option is not None:
        value = option.prices.get(ctx.order.currency_id)
    return ctx.pricing.fee(value, method.tax_class_id)


def _payment(ctx: _Context) -> Fee:
    method = ctx.config.payment_method_by_id(ctx.order.payment_method_id)
    if method is None:
        return ctx.pricing.fee(None, None)
    return ctx.pricing.fee(method.fee_in(ctx.order.currency_id), method.tax_class_id)


def total_quantity(order: Order) -> Decimal:
    return sum((line.quantity for line in order.lines), ZERO)
