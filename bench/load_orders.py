"""Fill a kasse database with finalized orders, fast, for the growth runs.

    python -m bench.load_orders --database-url sqlite:///var/kasse.db --until 1000000

Adds finalized orders (two lines each, with the checkout attempt and the outbox event a
real checkout leaves) to the demo store until the ``orders`` table holds ``--until`` rows,
spread as a shop's history is: over two years, among 100,000 customers, with payments
captured, authorized, refunded or cancelled and orders new, processing, shipped or
cancelled (see ``PAYMENTS`` and ``_progress_of``).
Rows go in through SQLAlchemy Core ``insert()`` with executemany in big batches, one
transaction per batch, on a plain synchronous SQLite connection; on PostgreSQL through
COPY. Order numbers are ``LOAD-0000001``… so they never collide with the store's own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, Table, create_engine, func, insert, select
from sqlalchemy.engine import Connection, make_url

from kasse.adapters.db.tables import (
    checkout_attempts,
    countries,
    currencies,
    order_lines,
    order_statuses,
    orders,
    outbox_events,
    payment_methods,
    prices,
    products,
    shipping_methods,
    stores,
)
from kasse.adapters.db.types import ScaledDecimal, to_scaled

BATCH = 20_000
TABLES = (orders, order_lines, checkout_attempts, outbox_events)
LINES = (("trail-backpack", Decimal(1)), ("trail-map", Decimal(2)))
"""The products of every loaded order (the map's quantity varies from 1 to 4)."""
SHIPPING = Decimal("4.95")


@dataclass(frozen=True)
class Ids:
    store: UUID
    currency: UUID
    country: UUID
    statuses: dict[str, UUID]
    """order status alias -> id"""
    payment: UUID
    shipping: UUID
    products: dict[str, tuple[str, str, Decimal]]
    """reference -> (sku, name, EUR price)"""


def _ids(conn: Connection, store_alias: str) -> Ids:
    store = conn.execute(select(stores.c.id).where(stores.c.alias == store_alias)).scalar_one()

    def one(table: Table, column: str, value: str) -> UUID:
        found: UUID = conn.execute(select(table.c.id).where(
            table.c.store_id == store, table.c[column] == value)).scalar_one()
        return found

    currency = one(currencies, "code", "EUR")
    catalog = {}
    for reference, _ in LINES:
        row = conn.execute(select(products.c.sku, products.c.name, prices.c.value)
                           .join(prices, prices.c.owner_id == products.c.id)
                           .where(products.c.store_id == store,
                                  products.c.reference == reference,
                                  prices.c.currency_id == currency)).one()
        catalog[reference] = (row.sku, row.name, row.value)
    return Ids(store=store, currency=currency, country=one(countries, "code", "DE"),
               statuses={alias: one(order_statuses, "alias", alias) for alias in STATUSES},
               payment=one(payment_methods, "alias", "invoicing"),
               shipping=one(shipping_methods, "alias", "standard"), products=catalog)


STATUSES = ("new", "processing", "shipped", "cancelled")
PAYMENTS = (("Captured", 0.50), ("Authorized", 0.25), ("PendingExternalSystem", 0.05),
            ("PartiallyRefunded", 0.06), ("Refunded", 0.06), ("Cancelled", 0.08))
"""How placed orders' payments stand, as a shop's history spreads them."""
CUSTOMERS = 100_000
"""Distinct customers (emails): ten orders each on average in a million."""
FIRST_NAMES = ("Erika", "Max", "Anna", "Lukas", "Sophie", "Jonas", "Marie", "Felix",
               "Emma", "Paul", "Lea", "Ben", "Hannah", "Finn", "Mia", "Elias")
LAST_NAMES = ("Mustermann", "Schmidt", "Meyer", "Weber", "Wagner", "Becker", "Hoffmann",
              "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Braun")
SPAN = 2 * 365 * 24 * 3600
"""Orders are spread over the last two years."""


def customer(number: int) -> tuple[str, str, str]:
    """(email, first name, last name) of a loaded customer."""
    return (f"customer{number}@example.com", FIRST_NAMES[number % len(FIRST_NAMES)],
            LAST_NAMES[(number // len(FIRST_NAMES)) % len(LAST_NAMES)])


def _payment(roll: float) -> str:
    for status, share in PAYMENTS:
        if roll < share:
            return status
        roll -= share
    return PAYMENTS[0][0]


def _progress_of(payment: str, roll: float) -> tuple[str, str]:
    """(order status, fulfilment status) that go with a payment."""
    if payment == "Cancelled" or (payment == "Refunded" and roll < 0.5):
        return "cancelled", "unfulfilled"
    if payment in ("Authorized", "PendingExternalSystem"):
        return ("new", "unfulfilled") if roll < 0.6 else ("processing", "unfulfilled")
    if payment == "Captured" and roll < 0.25:
        return "processing", "partial" if roll < 0.08 else "unfulfilled"
    return "shipped", "fulfilled"


def batches(ids: Ids, first: int, count: int, seed: int = 7
            ) -> Iterator[dict[Table, list[dict[str, Any]]]]:
    """Rows for orders ``first`` … ``first + count - 1``, ``BATCH`` orders at a time."""
    rng = random.Random(seed + first)  # noqa: S311 (test data, not security)
    now = datetime.now(UTC)
    for start in range(first, first + count, BATCH):
        rows: dict[Table, list[dict[str, Any]]] = {t: [] for t in TABLES}
        for n in range(start, min(start + BATCH, first + count)):
            order_id, attempt_id = uuid4(), uuid4()
            placed = now - timedelta(seconds=rng.randrange(SPAN))
            email, first_name, last_name = customer(rng.randrange(CUSTOMERS))
            quantities = {"trail-backpack": Decimal(1),
                          "trail-map": Decimal(1 + rng.randrange(4))}
            total = sum((ids.products[r][2] * q for r, q in quantities.items()),
                        SHIPPING)
            payment = _payment(rng.random())
            status, fulfilment = _progress_of(payment, rng.random())
            captured = total if payment in ("Captured", "PartiallyRefunded", "Refunded") \
                else Decimal(0)
            refunded = total if payment == "Refunded" else (
                Decimal("5.00") if payment == "PartiallyRefunded" else Decimal(0))
            transaction = f"load-{n}"
            rows[orders].append({
                "id": order_id, "store_id": ids.store, "cart_number": f"LOAD-C{n:07d}",
                "order_number": f"LOAD-{n:07d}", "currency_id": ids.currency,
                "tax_class_id": None, "language": None, "customer_reference": None,
                "customer_email": email, "order_status_id": ids.statuses[status],
                "billing_country_id": ids.country, "billing_region_id": None,
                "shipping_country_id": ids.country, "shipping_region_id": None,
                "shipping_same_as_billing": True, "shipping_method_id": ids.shipping,
                "shipping_option_id": None, "payment_method_id": ids.payment,
                "properties": {"firstName": first_name, "lastName": last_name,
                               "email": email, "billingAddressLine1": "Hauptstrasse 5",
                               "billingCity": "Berlin", "billingZipCode": "10115",
                               "shippingSameAsBilling": "1"},
                "server_properties": {}, "tags": ["vip"] if rng.random() < 0.05 else [],
                "discount_codes": [], "gift_card_codes": [], "created_at": placed,
                "updated_at": placed, "finalized_at": placed, "payment_status": payment,
                "transaction_id": transaction, "authorized_amount": total,
                "fee_amount": Decimal(0), "total_price": total,
                "customer_name": f"{first_name} {last_name}".lower(),
                "captured_amount": captured, "refunded_amount": refunded,
                "refund_pending_amount": Decimal(0), "fulfilment_status": fulfilment,
                "canceled_at": placed + timedelta(days=1) if status == "cancelled" else None,
                "version": 6})
            for position, (reference, quantity) in enumerate(quantities.items()):
                sku, name, price = ids.products[reference]
                shipped = quantity if fulfilment == "fulfilled" else Decimal(0)
                rows[order_lines].append({
                    "id": uuid4(), "order_id": order_id, "parent_id": None,
                    "position": position, "product_reference": reference,
                    "variant_reference": None, "sku": sku, "name": name,
                    "quantity": quantity, "unit_price": price, "product_tax_class_id": None,
                    "tax_class_id": None, "properties": {}, "attributes": [],
                    "bundle_id": None, "is_gift_card": False,
                    "fulfilled_quantity": shipped, "refunded_quantity": Decimal(0)})
            rows[checkout_attempts].append({
                "id": attempt_id, "order_id": order_id, "store_id": ids.store,
                "token_hash": None, "kind": "inline", "mode": None, "origin": None,
                "payment_method_id": ids.payment, "amount": total,
                "currency_id": ids.currency, "fingerprint": attempt_id.hex * 2,
                "status": "completed", "created_at": placed,
                "expires_at": placed + timedelta(hours=1), "transaction_id": transaction})
            rows[outbox_events].append({
                "id": uuid4(), "store_id": ids.store, "topic": "order.finalized",
                "aggregate_id": order_id,
                "payload": {"orderId": str(order_id), "orderNumber": f"LOAD-{n:07d}",
                            "transactionId": transaction, "paymentStatus": "Authorized",
                            "amount": f"{total:f}", "currency": "EUR"},
                # Relayed to webhooks and made into emails long ago.
                "created_at": placed, "delivered_at": placed, "emailed_at": placed,
                "dedupe_key": f"order.finalized:{order_id}"})
        yield rows


def _progress(done: int, count: int, started: float) -> None:
    rate = done / (time.monotonic() - started)
    print(f"  {done:>9} / {count} orders ({rate:,.0f} orders/s)", flush=True)


def load_sqlite(url: str, store_alias: str, until: int) -> int:
    engine = create_engine(make_url(url).set(drivername="sqlite"))
    try:
        with engine.connect() as conn:
            # Bench data only: a crash during the load may lose it, which is fine.
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()
            ids = _ids(conn, store_alias)
            have = conn.execute(select(func.count()).select_from(orders)).scalar_one()
            first = conn.execute(select(func.count()).select_from(orders).where(
                orders.c.order_number.like("LOAD-%"))).scalar_one() + 1
            conn.commit()
            count = max(0, until - have)
            started, done = time.monotonic(), 0
            for rows in batches(ids, first, count):
                with conn.begin():
                    for table in TABLES:
                        conn.execute(insert(table), rows[table])
                done += len(rows[orders])
                _progress(done, count, started)
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
            return count
    finally:
        engine.dispose()


def _record(table: Table, row: dict[str, Any]) -> tuple[Any, ...]:
    out = []
    for column in table.columns:
        if column.name in row:
            value = row[column.name]
        elif column.default is not None and column.default.is_scalar:
            value = column.default.arg  # a column added since, with its default
        elif column.nullable:
            value = None
        else:
            raise KeyError(f"bench rows of {table.name} lack its column {column.name}")
        if value is not None and isinstance(column.type, ScaledDecimal):
            value = to_scaled(value)
        elif value is not None and isinstance(column.type, JSON):
            value = json.dumps(value)
        out.append(value)
    return tuple(out)


async def load_postgres(url: str, store_alias: str, until: int) -> int:
    import asyncpg

    target = make_url(url)
    conn = await asyncpg.connect(host=target.host or "127.0.0.1", port=target.port or 5432,
                                 user=target.username or "postgres", password=target.password,
                                 database=target.database)
    try:
        ids = await _postgres_ids(url, store_alias)
        have = await conn.fetchval("SELECT count(*) FROM orders")
        first = await conn.fetchval(
            "SELECT count(*) FROM orders WHERE order_number LIKE 'LOAD-%'") + 1
        count = max(0, until - have)
        started, done = time.monotonic(), 0
        for rows in batches(ids, first, count):
            async with conn.transaction():
                for table in TABLES:
                    await conn.copy_records_to_table(
                        table.name, columns=[c.name for c in table.columns],
                        records=[_record(table, row) for row in rows[table]])
            done += len(rows[orders])
            _progress(done, count, started)
        await conn.execute("ANALYZE")
        return count
    finally:
        await conn.close()


async def _postgres_ids(url: str, store_alias: str) -> Ids:
    from kasse.adapters.db.database import Database

    db = Database.from_url(url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            return await conn.run_sync(lambda sync: _ids(sync, store_alias))
    finally:
        await db.dispose()


def load(url: str, until: int, store_alias: str = "demo") -> int:
    """Adds finalized orders until ``orders`` holds ``until`` rows; returns how many."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return load_sqlite(url, store_alias, until)
    return asyncio.run(load_postgres(url, store_alias, until))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load_orders", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True,
                        help="sqlite:///file.db or postgresql://user@host:port/db")
    parser.add_argument("--until", type=int, required=True,
                        help="stop when the orders table holds this many rows")
    parser.add_argument("--store", default="demo", help="the store's alias")
    args = parser.parse_args()
    started = time.monotonic()
    added = load(args.database_url, args.until, args.store)
    print(f"added {added} finalized orders in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

