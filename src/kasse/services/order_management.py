"""The shop's actions on a placed order, for the management API and the ``kasse``
commands: its status, notes and tags, shipments, and its money (``order_payments.py``:
capture, a payment recorded by hand, refunds, cancel).

Every action takes the store, the order, who acts (``Actor``: the principal and the
request) and the order's version the caller read (``If-Match``; ``None``: whatever it
is now). It runs on the order locked at that version, writes one audit entry with the
versions before and after, and records the domain events that leave through the outbox
to merchant webhooks.
"""

from __future__ import annotations

from uuid import UUID

from kasse.domain import order_management as management
from kasse.domain.audit import Actor
from kasse.domain.fulfilment import fulfil
from kasse.domain.order import Order
from kasse.domain.placed_order import LineQuantity
from kasse.domain.store import StoreConfig
from kasse.services.order_actions import Done
from kasse.services.order_payments import PaymentActions
from kasse.services.ports import OrderUnit


class OrderManagement(PaymentActions):
    async def change_status(self, config: StoreConfig, order_id: UUID, status: str, *,
                            actor: Actor, expected_version: int | None) -> Done:
        """Move the order to one of the store's order statuses (by id or alias)."""
        wanted = management.find_status(config, status)

        async def change(unit: OrderUnit, order: Order) -> Done:
            before = order.version
            moved = management.change_status(order, config, wanted, self.clock(),
                                             self.new_id, actor.name)
            if moved is None:
                return Done(order, changed=False)
            await unit.orders.save(order)
            await unit.records.add_status_change(moved)
            previous = config.order_status_by_id(moved.from_status_id)
            await self._audit(unit, actor, "order.status_changed", order, before, {
                "from": previous.alias if previous else None, "to": wanted.alias})
            return Done(order, moved)

        return await self._act(config, order_id, expected_version, change)

    async def add_note(self, config: StoreConfig, order_id: UUID, body: str, *,
                       actor: Actor, expected_version: int | None) -> Done:
        """A staff note on the order. The order itself does not change: its version
        stays."""
        async def change(unit: OrderUnit, order: Order) -> Done:
            written = management.note(order, body, self.clock(), self.new_id, actor.name)
            await unit.records.add_note(written)
            await self._audit(unit, actor, "order.note_added", order, order.version,
                              {"noteId": str(written.id), "length": len(written.body)})
            return Done(order, written)

        return await self._act(config, order_id, expected_version, change)

    async def change_tags(self, config: StoreConfig, order_id: UUID, *,
                          add: list[str] | None = None, remove: list[str] | None = None,
                          replace: list[str] | None = None, actor: Actor,
                          expected_version: int | None) -> Done:
        """Add and remove tags, or (``replace``) set them all."""
        async def change(unit: OrderUnit, order: Order) -> Done:
            before, tags = order.version, list(order.tags)
            if not management.change_tags(order, add=add, remove=remove, replace=replace,
                                          at=self.clock()):
                return Done(order, changed=False)
            await unit.orders.save(order)
            await self._audit(unit, actor, "order.tags_changed", order, before, {
                "added": [t for t in order.tags if t not in tags],
                "removed": [t for t in tags if t not in order.tags]})
            return Done(order)

        return await self._act(config, order_id, expected_version, change)

    async def fulfil(self, config: StoreConfig, order_id: UUID,
                     lines: tuple[LineQuantity, ...] | None, *, carrier: str | None = None,
                     tracking_number: str | None = None, tracking_url: str | None = None,
                     actor: Actor, expected_version: int | None) -> Done:
        """A shipment of ``lines`` (``None``: everything left to ship). Refused for a
        canceled order, or one being canceled."""
        async def change(unit: OrderUnit, order: Order) -> Done:
            before = order.version
            shipment = fulfil(order, lines, self.clock(), self.new_id, carrier=carrier,
                              tracking_number=tracking_number,
                              tracking_url_value=tracking_url, actor=actor.name[:320])
            await unit.orders.save(order)
            await unit.records.add_shipment(shipment)
            await self._audit(unit, actor, "order.fulfilled", order, before, {
                "fulfilmentId": str(shipment.id),
                "lines": [item.as_json() for item in shipment.lines],
                "carrier": shipment.carrier, "trackingNumber": shipment.tracking_number,
                "fulfilmentStatus": order.fulfilment_status.value
                if order.fulfilment_status else None})
            return Done(order, shipment)

        return await self._act(config, order_id, expected_version, change)
