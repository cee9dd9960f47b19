"""How the management API shows a placed order and what an action made of it: the order
summary (the same fields as the staff's order lists), and the record an action created
(a payment, refund, shipment, note or status change), with what the shop should know.

Money is a decimal string with the currency's decimals; times are ISO 8601 in UTC.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kasse.api.management import order_json
from kasse.api.management.order_json import order_status, when
from kasse.domain.fulfilment import Shipment
from kasse.domain.money import round_to
from kasse.domain.order import Order
from kasse.domain.order_management import OrderNote, StatusChange
from kasse.domain.payment_operations import PaymentRecord
from kasse.domain.store import StoreConfig
from kasse.services.order_actions import Done
from kasse.services.order_records import OrderSummary


class Money:
    """Amounts in one currency, to its decimals."""

    def __init__(self, config: StoreConfig, order: Order) -> None:
        currency = config.currency_by_id(order.currency_id)
        self.code = currency.code if currency else None
        self.places = currency.decimal_places if currency else 2

    def __call__(self, value: Decimal | None) -> str | None:
        return None if value is None else f"{round_to(value, self.places):f}"


def order_summary(order: Order, config: StoreConfig) -> dict[str, Any]:
    """The order as the staff's lists show it (one rendering: ``order_json.summary``)."""
    return order_json.summary(OrderSummary.of_order(order), config)


def payment_record(record: PaymentRecord, money: Money) -> dict[str, Any]:
    return {
        "id": str(record.id), "kind": record.kind.value, "status": record.status.value,
        "amount": money(record.amount), "currency": record.currency_code,
        "manual": record.manual, "reference": record.reference, "reason": record.reason,
        "lines": [item.as_json() for item in record.lines], "restock": record.restock,
        "provider": record.provider_alias, "transactionId": record.transaction_id,
        "operationId": record.operation_id, "error": record.error,
        "createdAt": when(record.created_at), "completedAt": when(record.completed_at),
    }


def shipment(record: Shipment) -> dict[str, Any]:
    return {"id": str(record.id), "lines": [item.as_json() for item in record.lines],
            "carrier": record.carrier, "trackingNumber": record.tracking_number,
            "trackingUrl": record.tracking_url, "createdAt": when(record.created_at)}


def note(record: OrderNote) -> dict[str, Any]:
    return {"id": str(record.id), "body": record.body, "author": record.actor,
            "createdAt": when(record.created_at)}


def status_change(record: StatusChange, config: StoreConfig) -> dict[str, Any]:
    return {"id": str(record.id), "from": order_status(config, record.from_status_id),
            "to": order_status(config, record.to_status_id),
            "createdAt": when(record.created_at)}


def answer(done: Done, config: StoreConfig, name: str | None = None) -> dict[str, Any]:
    """The order summary, with the record the action made under ``name``, what was put
    back into stock, and the warnings (e.g. a shipped line was refunded)."""
    body = order_summary(done.order, config)
    money = Money(config, done.order)
    record = done.record
    if name is not None:
        if isinstance(record, PaymentRecord):
            body[name] = payment_record(record, money)
        elif isinstance(record, Shipment):
            body[name] = shipment(record)
        elif isinstance(record, OrderNote):
            body[name] = note(record)
        elif isinstance(record, StatusChange):
            body[name] = status_change(record, config)
        else:
            body[name] = None
    if done.restocked:
        body["restocked"] = [{"lineId": str(line.id), "sku": line.sku,
                              "quantity": f"{units:f}"} for line, units in done.restocked]
    body["changed"] = done.changed
    body["warnings"] = list(done.warnings)
    return body
