"""What the shop did with a placed order, kept beside it: payments (captures, voids,
refunds, payments recorded by hand), shipments, notes and status changes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kasse.adapters.db.tables import (
    fulfilments,
    order_notes,
    order_payments,
    order_status_changes,
)
from kasse.adapters.db.types import utc
from kasse.domain.fulfilment import Shipment
from kasse.domain.order_management import OrderNote, StatusChange
from kasse.domain.payment_operations import PaymentOperationKind, PaymentRecord, RecordStatus
from kasse.domain.placed_order import LineQuantity


def _lines(lines: tuple[LineQuantity, ...], restock: bool = False) -> list[dict[str, Any]]:
    return [{**item.as_json(), **({"restock": True} if restock else {})} for item in lines]


def _payment_values(record: PaymentRecord) -> dict[str, Any]:
    return {
        "kind": record.kind.value, "status": record.status.value, "amount": record.amount,
        "currency_code": record.currency_code, "provider_alias": record.provider_alias,
        "transaction_id": record.transaction_id, "operation_id": record.operation_id,
        "manual": record.manual, "reference": record.reference, "reason": record.reason,
        "lines": _lines(record.lines, record.restock), "actor": record.actor,
        "error": record.error, "created_at": record.created_at,
        "completed_at": record.completed_at,
    }


def _payment_from(row: Any) -> PaymentRecord:
    lines = list(row.lines or [])
    return PaymentRecord(
        id=row.id, order_id=row.order_id, store_id=row.store_id,
        kind=PaymentOperationKind(row.kind), status=RecordStatus(row.status),
        amount=row.amount, currency_code=row.currency_code,
        created_at=utc(row.created_at) or row.created_at,
        provider_alias=row.provider_alias, transaction_id=row.transaction_id,
        operation_id=row.operation_id, manual=row.manual, reference=row.reference,
        reason=row.reason,
        lines=tuple(LineQuantity(UUID(item["lineId"]), Decimal(item["quantity"]))
                    for item in lines),
        restock=any(item.get("restock") for item in lines), actor=row.actor,
        error=row.error, completed_at=utc(row.completed_at))


class SqlOrderRecords:
    """One per unit of work, in its transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add_payment(self, record: PaymentRecord) -> None:
        await self.conn.execute(insert(order_payments).values(
            id=record.id, order_id=record.order_id, store_id=record.store_id,
            **_payment_values(record)))

    async def save_payment(self, record: PaymentRecord) -> None:
        await self.conn.execute(update(order_payments)
                                .where(order_payments.c.id == record.id)
                                .values(**_payment_values(record)))

    async def payment(self, record_id: UUID) -> PaymentRecord | None:
        row = (await self.conn.execute(
            select(order_payments).where(order_payments.c.id == record_id))).first()
        return None if row is None else _payment_from(row)

    async def payments(self, order_id: UUID) -> list[PaymentRecord]:
        rows = (await self.conn.execute(
            select(order_payments).where(order_payments.c.order_id == order_id)
            .order_by(order_payments.c.created_at, order_payments.c.id))).all()
        return [_payment_from(row) for row in rows]

    async def add_shipment(self, shipment: Shipment) -> None:
        await self.conn.execute(insert(fulfilments).values(
            id=shipment.id, order_id=shipment.order_id, store_id=shipment.store_id,
            lines=_lines(shipment.lines), carrier=shipment.carrier,
            tracking_number=shipment.tracking_number, tracking_url=shipment.tracking_url,
            actor=shipment.actor, created_at=shipment.created_at))

    async def add_note(self, note: OrderNote) -> None:
        await self.conn.execute(insert(order_notes).values(
            id=note.id, order_id=note.order_id, store_id=note.store_id, body=note.body,
            actor=note.actor, created_at=note.created_at))

    async def add_status_change(self, change: StatusChange) -> None:
        await self.conn.execute(insert(order_status_changes).values(
            id=change.id, order_id=change.order_id, store_id=change.store_id,
            from_status_id=change.from_status_id, to_status_id=change.to_status_id,
            actor=change.actor, created_at=change.created_at))
