"""Making a store's configuration tables hold exactly the rows of an import plan."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Table, and_, delete, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from kasse.adapters.db import tables as t

Row = dict[str, Any]

# Parents before children: inserts go in this order, deletes in the reverse.
ORDER = (
    "stores", "currencies", "countries", "regions", "tax_classes", "tax_rates",
    "order_statuses", "payment_methods", "payment_method_settings", "shipping_methods",
    "shipping_options", "allowed_countries", "products", "product_variants", "prices",
    "discounts", "discount_codes",
)
# Issued gift cards are added and updated by an import, never removed by one.
UPSERT_ONLY = ("gift_cards",)


def _scope(table: Table, store_id: UUID) -> ColumnElement[bool]:
    """Which existing rows of ``table`` belong to the store."""
    if table is t.stores:
        return t.stores.c.id == store_id
    if "store_id" in table.c:
        return table.c.store_id == store_id
    parents = {
        "regions": ("country_id", t.countries),
        "tax_rates": ("tax_class_id", t.tax_classes),
        "payment_method_settings": ("payment_method_id", t.payment_methods),
        "shipping_options": ("shipping_method_id", t.shipping_methods),
        "product_variants": ("product_id", t.products),
        "allowed_countries": ("country_id", t.countries),
        "prices": ("currency_id", t.currencies),
    }
    column, parent = parents[table.name]
    return table.c[column].in_(select(parent.c.id).where(parent.c.store_id == store_id))


def _key(table: Table, row: Any) -> tuple[Any, ...]:
    return tuple(row[c.name] for c in table.primary_key.columns)


def _same(stored: Any, wanted: Any) -> bool:
    """SQLite gives datetimes back without their zone (they are stored in UTC)."""
    if isinstance(stored, datetime) and isinstance(wanted, datetime):
        if stored.tzinfo is None:
            stored = stored.replace(tzinfo=UTC)
        return bool(stored == wanted)
    return bool(stored == wanted)


async def apply_plan(conn: AsyncConnection, store_id: UUID, plan: dict[str, list[Row]]
                     ) -> dict[str, tuple[int, int, int]]:
    """Insert, update and delete so the store matches ``plan``; counts per table.

    Bumps the store's ``config_version`` when anything changed so that every
    process drops its cached copy.
    """
    tables = {name: t.metadata.tables[name] for name in ORDER}
    existing: dict[str, dict[tuple[Any, ...], Row]] = {}
    for name in ORDER:
        table = tables[name]
        rows = await conn.execute(select(table).where(_scope(table, store_id)))
        existing[name] = {_key(table, r._mapping): dict(r._mapping) for r in rows}

    counts: dict[str, tuple[int, int, int]] = {}
    for name in reversed(ORDER):
        table = tables[name]
        wanted = {_key(table, row) for row in plan.get(name, [])}
        gone = [key for key in existing[name] if key not in wanted]
        if gone:
            pk = list(table.primary_key.columns)
            await conn.execute(delete(table).where(tuple_(*pk).in_(gone)) if len(pk) > 1
                               else delete(table).where(pk[0].in_([k[0] for k in gone])))
        counts[name] = (0, 0, len(gone))

    for name in ORDER:
        table = tables[name]
        created = updated = 0
        for row in plan.get(name, []):
            key = _key(table, row)
            current = existing[name].get(key)
            if current is None:
                await conn.execute(insert(table).values(**row))
                created += 1
            elif not all(_same(current.get(col), value) for col, value in row.items()):
                await conn.execute(update(table).where(
                    and_(*(c == v for c, v in zip(table.primary_key.columns, key, strict=True)))
                ).values(**row))
                updated += 1
        counts[name] = (created, updated, counts[name][2])

    for name in UPSERT_ONLY:
        counts[name] = await _upsert(conn, t.metadata.tables[name], store_id,
                                     plan.get(name, []))

    if any(sum(c) for c in counts.values()):
        await conn.execute(update(t.stores).where(t.stores.c.id == store_id)
                           .values(config_version=t.stores.c.config_version + 1))
    return counts


async def _upsert(conn: AsyncConnection, table: Table, store_id: UUID, rows: list[Row]
                  ) -> tuple[int, int, int]:
    existing = {r.id: dict(r._mapping) for r in await conn.execute(
        select(table).where(table.c.store_id == store_id))}
    created = updated = 0
    for row in rows:
        current = existing.get(row["id"])
        if current is None:
            await conn.execute(insert(table).values(created_at=datetime.now(UTC), **row))
            created += 1
        elif not all(_same(current.get(col), value) for col, value in row.items()):
            await conn.execute(update(table).where(table.c.id == row["id"]).values(**row))
            updated += 1
    return created, updated, 0


async def store_id_for(conn: AsyncConnection, alias: str, given: UUID | None) -> UUID | None:
    """The id of the store a file describes: by its explicit id, else by alias."""
    if given is not None:
        return given
    row = (await conn.execute(select(t.stores.c.id).where(t.stores.c.alias == alias))).first()
    return row.id if row else None
