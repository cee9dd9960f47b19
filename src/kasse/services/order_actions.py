"""What every management action on a placed order shares: finding the order (and its
store) as a principal may see it, loading it locked at the version the caller read
(``If-Match``), the audit entry of each change, putting units back into stock, and the
payment method and provider that took the order's payment.

Each action is one unit of work, run again when another request saved the order in
between (``retry.py``); an action that calls a payment gateway is two, one on each side
of the call (``order_payments.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID, uuid4

from kasse.domain.access import Principal
from kasse.domain.audit import Actor, AuditEntry
from kasse.domain.checkout import AttemptStatus, CheckoutAttempt
from kasse.domain.errors import NotFound, StaleVersion
from kasse.domain.fulfilment import Shipment
from kasse.domain.order import Order, OrderLine
from kasse.domain.order_management import OrderNote, StatusChange
from kasse.domain.payment_operations import PaymentOperationKind, PaymentRecord
from kasse.domain.placed_order import ensure_placed, label, units_with_items
from kasse.domain.store import PaymentMethod, StoreConfig
from kasse.payments.provider import CANCEL, CAPTURE, REFUND, ManagesPayments, PaymentProvider
from kasse.services.catalog import StoreDirectory
from kasse.services.checkout import HOSTED, INLINE
from kasse.services.orders import utcnow
from kasse.services.ports import OrderUnit, Storage
from kasse.services.retry import retrying

T = TypeVar("T")
Record = PaymentRecord | Shipment | OrderNote | StatusChange

CAPABILITY = {PaymentOperationKind.CAPTURE: CAPTURE, PaymentOperationKind.VOID: CANCEL,
              PaymentOperationKind.REFUND: REFUND}
"""The provider capability each operation needs."""

EARLIER_REFUNDS = "kasseRefunds"
"""Order (server-side) property: refunds of the order made before the records were kept."""

RETURNED, CANCELED = "returned", "canceled"
"""Stock ledger causes: units a refund puts back, units a cancel puts back."""


@dataclass(frozen=True, slots=True)
class Done:
    """What an action did: the order as it is now, the record it made, and what the shop
    should know (e.g. a shipped line was refunded)."""

    order: Order
    record: Record | None = None
    warnings: tuple[str, ...] = ()
    restocked: tuple[tuple[OrderLine, Decimal], ...] = field(default=())
    changed: bool = True
    """False when the order already was as asked (nothing was written)."""


@dataclass(frozen=True, slots=True)
class Payer:
    """The payment method and provider that took the order's payment."""

    method: PaymentMethod | None
    provider: PaymentProvider | None
    reference: str
    """The checkout attempt's reference (the gateway knows the payment by it)."""

    def can(self, kind: PaymentOperationKind) -> bool:
        provider = self.provider
        return (provider is not None and CAPABILITY.get(kind) in provider.capabilities
                and isinstance(provider, ManagesPayments))

    @property
    def alias(self) -> str | None:
        return self.provider.alias if self.provider is not None else None


class OrderActions:
    def __init__(self, storage: Storage, stores: StoreDirectory,
                 provider_for: Callable[[PaymentMethod], PaymentProvider], *,
                 clock: Callable[[], datetime] = utcnow,
                 new_id: Callable[[], UUID] = uuid4) -> None:
        self.storage = storage
        self.stores = stores
        self.provider_for = provider_for
        self.clock = clock
        self.new_id = new_id

    async def store_for(self, principal: Principal, order_id: UUID) -> StoreConfig:
        """The store of an order the principal may see; an order of another store is as
        unknown as one that does not exist."""
        async with self.storage.ordering(write=False) as unit:
            store_id = await unit.orders.store_of(order_id)
        if store_id is None or not principal.visible_stores([store_id]):
            raise NotFound(f"no order with id {order_id}")
        return await self.stores.get(str(store_id))

    async def _act(self, config: StoreConfig, order_id: UUID, expected_version: int | None,
                   change: Callable[[OrderUnit, Order], Awaitable[T]]) -> T:
        """Run ``change`` on the placed order, loaded locked, in one unit of work (again
        if another request saved the order meanwhile)."""
        async def work() -> T:
            async with self.storage.ordering(write=True) as unit:
                order = await self._load(unit, config, order_id, expected_version)
                return await change(unit, order)

        return await retrying(work, f"order {order_id}")

    async def _load(self, unit: OrderUnit, config: StoreConfig, order_id: UUID,
                    expected_version: int | None) -> Order:
        order = await unit.orders.get(config.store.id, order_id, for_update=True)
        if order is None:
            raise NotFound(f"no order with id {order_id}")
        ensure_placed(order)
        # Checked on the order as loaded for this change, before anything is written.
        if expected_version is not None and order.version != expected_version:
            raise StaleVersion(
                f"order {label(order)} is at version {order.version}, not "
                f"{expected_version}: it changed since it was read; read it again")
        return order

    async def _audit(self, unit: OrderUnit, actor: Actor, action: str, order: Order,
                     version_before: int, detail: dict[str, Any]) -> None:
        await unit.audit.add(AuditEntry.of(
            actor, action, order.store_id, self.clock(), order_id=order.id, detail=detail,
            version_before=version_before, version_after=order.version))

    async def _restock(self, unit: OrderUnit, config: StoreConfig, order: Order,
                       lines: list[tuple[OrderLine, Decimal]], cause: str, actor: Actor
                       ) -> None:
        """Put units (and their bundle items) back into stock, each a ledger entry about
        the order; untracked items are left alone."""
        items = [pair for line, units in lines for pair in units_with_items(line, units)]
        if not items:
            return
        found = await unit.catalog.products_by_reference(
            config.store, [line.product_reference for line, _ in items], order_id=order.id)
        products = {product.reference: product for product in found}
        now = self.clock()
        # In one order of items, as sales and holds take them, so that they queue.
        for line, units in sorted(items, key=lambda pair: (
                pair[0].product_reference, pair[0].variant_reference or "")):
            product = products.get(line.product_reference)
            if product is None:
                continue  # no longer in the store's catalog
            variant = (product.variant(line.variant_reference)
                       if line.variant_reference else None)
            if (variant.stock if variant is not None else product.stock) is None:
                continue
            item = variant.id if variant is not None else product.id
            await unit.stock.adjust(config.store.id, item, variant is not None, units, cause,
                                    now, reason=f"order {label(order)}",
                                    actor=actor.name[:200], order_id=order.id)

    async def _payer(self, unit: OrderUnit, config: StoreConfig, order: Order) -> Payer:
        attempt = await _paying_attempt(unit, order)
        method = config.payment_method_by_id(
            attempt.payment_method_id if attempt is not None else order.payment_method_id)
        provider = self.provider_for(method) if method is not None else None
        return Payer(method, provider,
                     attempt.reference if attempt is not None else order.id.hex)

    async def _operation_id(self, unit: OrderUnit, order: Order, payer: Payer,
                            kind: PaymentOperationKind) -> str:
        """The gateway's idempotency key: the payment's reference, the operation and its
        number (one more than the order's records of that kind, counted under the
        order's lock: the next refund gets a new one, a retry of this one the same)."""
        done = [r for r in await unit.records.payments(order.id) if r.kind is kind]
        # Refunds made before kasse kept records were counted on the order instead.
        before = (int(order.server_properties.get(EARLIER_REFUNDS, "0") or 0)
                  if kind is PaymentOperationKind.REFUND else 0)
        return f"{payer.reference}-{kind.value}-{max(len(done), before) + 1}"


async def _paying_attempt(unit: OrderUnit, order: Order) -> CheckoutAttempt | None:
    """The checkout attempt whose payment finalized the order."""
    for kind in (HOSTED, INLINE):
        attempt = await unit.checkout.latest_attempt(order.id, kind)
        if attempt is not None and attempt.status is AttemptStatus.COMPLETED \
                and attempt.transaction_id == order.transaction_id:
            return attempt
    return None
