"""Cart and order use cases: each loads an order, calls the domain and saves it in one
unit of work, retrying when another request saved the same order in between."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from kasse.domain import payment_link
from kasse.domain.errors import InvalidInput, NotFound
from kasse.domain.order import Notice, Order, OrderLine
from kasse.domain.order_calculation import OrderCalculation, calculate
from kasse.domain.payment import PaymentStatus
from kasse.domain.session import Session, parse_language
from kasse.domain.stock import shape_of
from kasse.domain.store import Product, StoreConfig
from kasse.services import order_changes
from kasse.services.order_changes import OrderChange
from kasse.services.ports import OrderUnit, Storage
from kasse.services.retry import retrying

Clock = Callable[[], datetime]
Action = Callable[[Order, OrderUnit], Awaitable[None]]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class NewOrder:
    currency: str | None = None
    language: str | None = None
    tax_class: str | None = None
    customer_reference: str | None = None


@dataclass(frozen=True, slots=True)
class AddProduct:
    product_reference: str
    quantity: Decimal
    variant_reference: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    bundle_id: str | None = None


@dataclass(frozen=True, slots=True)
class LineChange:
    line_id: UUID
    quantity: Decimal | None = None
    increment: Decimal | None = None
    decrement: Decimal | None = None
    tax_class: str | None = None
    properties: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class PricedOrder:
    """An order with its calculated prices and the notices of the change that produced it."""

    order: Order
    calculation: OrderCalculation
    notices: list[Notice]


def priced(order: Order, config: StoreConfig, at: datetime | None = None) -> PricedOrder:
    return PricedOrder(order, calculate(order, config, at), list(order.notices))


class Orders:
    def __init__(self, storage: Storage, *, clock: Clock = utcnow,
                 new_id: Callable[[], UUID] = uuid4, attempts: int = 30) -> None:
        self.storage = storage
        self.clock = clock
        self.new_id = new_id
        self.attempts = attempts

    # --- reads -------------------------------------------------------------------------

    async def get(self, config: StoreConfig, order_id: UUID) -> PricedOrder:
        async with self.storage.ordering(write=False) as unit:
            order = await unit.orders.get(config.store.id, order_id)
        if order is None:
            raise NotFound(f"no order with id {order_id}")
        return priced(order, config)

    async def version(self, config: StoreConfig, order_id: UUID) -> int:
        """The order's current version: what a copy rendered earlier can be checked by."""
        version = await self.storage.order_version(config.store.id, order_id)
        if version is None:
            raise NotFound(f"no order with id {order_id}")
        return version

    async def by_payment_link(self, config: StoreConfig, token: str, key: bytes
                              ) -> PricedOrder:
        """The open cart a payment link stands for."""
        link = payment_link.verify(key, token, self.clock())
        if link.store_id != config.store.id:
            raise payment_link.PaymentLinkInvalid("no order for this payment link")
        priced_order = await self.get(config, link.order_id)
        if priced_order.order.is_finalized:
            raise InvalidInput("the order of this payment link is already paid")
        return priced_order

    async def payment_link(self, config: StoreConfig, order_id: UUID, key: bytes,
                           valid_for: timedelta) -> str:
        """A payment link for an open cart, valid for ``valid_for``."""
        if valid_for <= timedelta(0) or valid_for > timedelta(days=90):
            raise InvalidInput("a payment link is valid for 1 minute to 90 days")
        order = (await self.get(config, order_id)).order
        order.ensure_open()
        return payment_link.sign(key, payment_link.PaymentLink(
            config.store.id, order.id, self.clock() + valid_for))

    async def customer_orders(self, config: StoreConfig, reference_or_email: str
                              ) -> list[PricedOrder]:
        if not reference_or_email.strip():
            raise InvalidInput("a customer reference or email is required")
        async with self.storage.ordering(write=False) as unit:
            found = await unit.orders.finalized_for_customer(config.store.id,
                                                             reference_or_email)
        return [priced(order, config) for order in found]

    # --- create and delete ---------------------------------------------------------------

    async def create(self, config: StoreConfig, session: Session, request: NewOrder
                     ) -> PricedOrder:
        store = config.store
        currency = session.currency
        if request.currency and request.currency.strip():
            currency = config.currency(request.currency)
            if currency is None:
                raise InvalidInput(f"currency: the store has no currency {request.currency!r}")
        if currency is None:
            raise InvalidInput("the store has no currency to create an order in")
        tax_class = session.tax_class
        if request.tax_class and request.tax_class.strip():
            tax_class = config.tax_class(request.tax_class)
            if tax_class is None:
                raise InvalidInput(f"taxClass: the store has no tax class {request.tax_class!r}")
        language = (parse_language(request.language, "language")
                    if request.language is not None else session.language)
        reference = (
            order_changes.customer_reference(request.customer_reference)
            if request.customer_reference is not None
            else order_changes.customer_reference(session.customer_reference,
                                                  "the Customer-Reference header"))
        billing = session.billing_country or config.country_by_id(store.default_country_id)
        now = self.clock()
        order = Order(
            id=self.new_id(), store_id=store.id, cart_number="", currency_id=currency.id,
            created_at=now, updated_at=now, tax_class_id=tax_class.id if tax_class else None,
            language=language, customer_reference=reference,
            order_status_id=store.default_order_status_id,
            billing_country_id=billing.id if billing else None,
            billing_region_id=session.billing_region.id if session.billing_region else None,
            shipping_country_id=(session.shipping_country.id
                                 if session.shipping_country else None),
            shipping_region_id=session.shipping_region.id if session.shipping_region else None)
        async with self.storage.ordering(write=True) as unit:
            number = await unit.orders.next_number(store.id, "cart")
            order.cart_number = store.cart_number_template.replace("{0}", f"{number:05d}")
            await unit.orders.add(order)
        order.notify(f"cart {order.cart_number} created")
        return priced(order, config)

    async def delete(self, config: StoreConfig, order_id: UUID) -> None:
        async def action(order: Order, unit: OrderUnit) -> None:
            order.ensure_open()
            await unit.orders.delete(order)

        await self._change(config, order_id, action, save=False)

    # --- changes ---------------------------------------------------------------------

    async def add_product(self, config: StoreConfig, order_id: UUID, request: AddProduct,
                          into_bundle: str | None = None) -> PricedOrder:
        async def action(order: Order, unit: OrderUnit) -> None:
            product = await _product(unit, config, request.product_reference, order.id)
            variant = None
            if request.variant_reference:
                variant = product.variant(request.variant_reference)
                if variant is None:
                    raise NotFound(f"product {product.reference!r} has no variant "
                                   f"{request.variant_reference!r}")
            elif product.variants:
                raise InvalidInput(f"product {product.reference!r} has variants; name one in "
                                   "productVariantReference")
            price = product.price_in(order.currency_id, variant.reference if variant else None)
            if price is None:
                currency = config.currency_by_id(order.currency_id)
                raise InvalidInput(f"{product.name} has no price in "
                                   f"{currency.code if currency else 'the order currency'}")
            order.add_product(product, variant, request.quantity, price, request.properties,
                              self.new_id, bundle_id=request.bundle_id, into_bundle=into_bundle)

        return await self._change(config, order_id, action)

    async def update_lines(self, config: StoreConfig, order_id: UUID,
                           changes: list[LineChange], bundle_id: str | None = None
                           ) -> PricedOrder:
        """Change one or many lines, all or nothing."""
        if not changes:
            raise InvalidInput("no order lines to update")

        async def action(order: Order, unit: OrderUnit) -> None:
            for change in changes:
                if bundle_id is not None:
                    _in_bundle(order, bundle_id, change.line_id)
                tax_class = None
                if change.tax_class is not None and change.tax_class.strip():
                    tax_class = config.tax_class(change.tax_class)
                    if tax_class is None:
                        raise InvalidInput(f"taxClass: the store has no tax class "
                                           f"{change.tax_class!r}")
                line = order.update_line(
                    change.line_id, quantity=change.quantity, increment=change.increment,
                    decrement=change.decrement, tax_class=tax_class,
                    properties=change.properties)
                await _check_stock(unit, config, order, line)

        return await self._change(config, order_id, action)

    async def remove_line(self, config: StoreConfig, order_id: UUID, line_id: UUID,
                          bundle_id: str | None = None) -> PricedOrder:
        async def action(order: Order, _: OrderUnit) -> None:
            if bundle_id is not None:
                _in_bundle(order, bundle_id, line_id)
            order.remove_line(line_id)

        return await self._change(config, order_id, action)

    async def clear_lines(self, config: StoreConfig, order_id: UUID,
                          bundle_id: str | None = None) -> PricedOrder:
        async def action(order: Order, _: OrderUnit) -> None:
            order.clear_lines(bundle_id)

        return await self._change(config, order_id, action)

    async def update(self, config: StoreConfig, order_id: UUID, change: OrderChange
                     ) -> PricedOrder:
        async def action(order: Order, unit: OrderUnit) -> None:
            await order_changes.apply(order, config, change, unit, self.clock())

        return await self._change(config, order_id, action)

    async def _change(self, config: StoreConfig, order_id: UUID, action: Action,
                      save: bool = True) -> PricedOrder:
        """Run ``action`` on the order in a unit of work; retry on a concurrent update."""
        async def work() -> PricedOrder:
            async with self.storage.ordering(write=True) as unit:
                order = await unit.orders.get(config.store.id, order_id, for_update=True)
                if order is None:
                    raise NotFound(f"no order with id {order_id}")
                # A checkout under way holds stock for the cart as it was: a change to
                # what the cart holds lets go of it (a new checkout holds it anew).
                held = shape_of(order) if order.payment_status is PaymentStatus.INITIALIZED \
                    else None
                await action(order, unit)
                if held is not None and save and shape_of(order) != held:
                    await unit.stock.release(order.id)
                if save:
                    order.updated_at = self.clock()
                    await unit.orders.save(order)
            return priced(order, config)

        return await retrying(work, f"order {order_id}", self.attempts)


async def _product(unit: OrderUnit, config: StoreConfig, reference: str, order_id: UUID
                   ) -> Product:
    """The product with the stock available to the order (what it holds counts)."""
    if not reference or not reference.strip():
        raise InvalidInput("productReference is required")
    products = await unit.catalog.products_by_reference(config.store, [reference.strip()],
                                                        order_id=order_id)
    if not products:
        raise NotFound(f"no product with reference {reference.strip()!r}")
    return products[0]


async def _check_stock(unit: OrderUnit, config: StoreConfig, order: Order, line: OrderLine
                       ) -> None:
    items = list(line.walk())
    references = sorted({item.product_reference for item, _ in items})
    products = {p.reference: p for p in await unit.catalog.products_by_reference(
        config.store, references, order_id=order.id)}
    for item, _ in items:
        product = products.get(item.product_reference)
        if product is None:
            continue  # no longer in the catalog: nothing to count against
        variant = product.variant(item.variant_reference) if item.variant_reference else None
        order.check_stock(product, variant)


def _in_bundle(order: Order, bundle_id: str, line_id: UUID) -> None:
    if all(child.id != line_id for child in order.bundle(bundle_id).children):
        raise NotFound(f"bundle {bundle_id!r} has no item {line_id}")
