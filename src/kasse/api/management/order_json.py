"""Placed orders and what happened to them, as the management API's JSON: the order
summary (a list's row and every order action's answer), an order's history and timeline,
and audit entries.

Field names are camelCase, times ISO 8601 in UTC, money a decimal string with the
currency's decimals (``"12.50"``). What is not known is ``null``, never a guess.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from kasse.domain.audit import AuditEntry
from kasse.domain.money import decimal_places_of, quantum
from kasse.domain.store import Currency, StoreConfig
from kasse.services.order_records import (
    CheckoutPayment,
    MoneyMovement,
    OrderHistory,
    OrderSummary,
    TimelineItem,
)

Json = dict[str, Any]


def when(value: datetime | None) -> str | None:
    """ISO 8601 in UTC (``2026-01-31T09:30:00.123456Z``)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def money(value: Decimal | None, currency: Currency | None) -> str | None:
    """An amount as a decimal string with the currency's decimals (more only where the
    amount has them: nothing is rounded away)."""
    if value is None:
        return None
    places = currency.decimal_places if currency is not None else decimal_places_of(value)
    if decimal_places_of(value) <= places:
        value = value.quantize(quantum(places))
    return f"{value:f}"


def _id(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def order_status(config: StoreConfig, status_id: UUID | None) -> Json | None:
    status = config.order_status_by_id(status_id)
    if status is None:
        return None if status_id is None else {"id": str(status_id), "alias": None,
                                               "name": None}
    return {"id": str(status.id), "alias": status.alias, "name": status.name}


def summary(order: OrderSummary, config: StoreConfig) -> Json:
    """The order summary: the same fields in lists and in the answers to actions."""
    currency = config.currency_by_id(order.currency_id)
    return {
        "id": str(order.id),
        "storeId": str(order.store_id),
        "orderNumber": order.order_number,
        "cartNumber": order.cart_number,
        "placedAt": when(order.placed_at),
        "customer": {"email": order.email, "firstName": order.first_name,
                     "lastName": order.last_name, "reference": order.customer_reference},
        "currency": currency.code if currency is not None else None,
        "totalPrice": money(order.total_price, currency),
        "orderStatus": order_status(config, order.order_status_id),
        "paymentStatus": order.payment_status,
        "fulfilmentStatus": order.fulfilment_status,
        "captured": money(order.captured, currency),
        "refunded": money(order.refunded, currency),
        "refundable": money(order.refundable, currency),
        "canceledAt": when(order.canceled_at),
        "tags": list(order.tags),
        "version": order.version,
    }


def audit_entry(entry: AuditEntry) -> Json:
    return {"id": str(entry.id), "at": when(entry.at), "action": entry.action,
            "actor": {"kind": entry.actor_kind, "id": entry.actor_id,
                      "name": entry.actor_name},
            "storeId": _id(entry.store_id), "orderId": _id(entry.order_id),
            "detail": entry.detail, "versionBefore": entry.version_before,
            "versionAfter": entry.version_after, "requestId": entry.request_id}


def _movement(m: MoneyMovement, config: StoreConfig) -> Json:
    currency = config.currency(m.currency_code)
    return {"id": str(m.id), "kind": m.kind, "status": m.status,
            "amount": money(m.amount, currency), "currency": m.currency_code,
            "provider": m.provider_alias, "transactionId": m.transaction_id,
            "manual": m.manual, "reference": m.reference, "reason": m.reason,
            "lines": list(m.lines), "actor": m.actor, "error": m.error, "at": when(m.at),
            "completedAt": when(m.completed_at)}


def _checkout(payment: CheckoutPayment, currency: Currency | None) -> Json:
    return {"kind": "checkout", "transactionId": payment.transaction_id,
            "provider": payment.provider_alias, "paymentMethod": payment.payment_method,
            "paymentStatus": payment.payment_status,
            "amount": money(payment.authorized, currency),
            "fee": money(payment.fee, currency), "checkout": payment.kind,
            "at": when(payment.at)}


def history(order: OrderSummary, checkout: CheckoutPayment | None, recorded: OrderHistory,
            items: list[TimelineItem], config: StoreConfig) -> Json:
    """An order's payments (its checkout's transaction first), refunds, shipments,
    notes, status history, audit entries, webhook deliveries and their timeline."""
    currency = config.currency_by_id(order.currency_id)
    payments = [_checkout(checkout, currency)] if checkout is not None else []
    payments += [_movement(m, config) for m in recorded.movements if m.kind != "refund"]
    return {
        "payments": payments,
        "refunds": [_movement(m, config) for m in recorded.movements if m.kind == "refund"],
        "fulfilments": [{"id": str(s.id), "lines": list(s.lines), "carrier": s.carrier,
                         "trackingNumber": s.tracking_number, "trackingUrl": s.tracking_url,
                         "actor": s.actor, "at": when(s.at)} for s in recorded.shipments],
        "notes": [{"id": str(n.id), "body": n.body, "actor": n.actor, "at": when(n.at)}
                  for n in recorded.notes],
        "statusHistory": [{"id": str(c.id), "from": order_status(config, c.from_status_id),
                           "to": order_status(config, c.to_status_id), "actor": c.actor,
                           "at": when(c.at)} for c in recorded.status_changes],
        "audit": [audit_entry(a) for a in recorded.audit],
        "webhookDeliveries": [
            {"id": str(d.id), "topic": d.topic, "endpointUrl": d.endpoint_url,
             "status": d.status, "attempts": d.attempts,
             "lastStatusCode": d.last_status_code, "lastError": d.last_error,
             "createdAt": when(d.at), "lastAttemptAt": when(d.last_attempt_at),
             "completedAt": when(d.completed_at)} for d in recorded.deliveries],
        "timeline": [{"at": when(item.at), "kind": item.kind, "summary": item.summary,
                      **item.detail} for item in items],
    }
