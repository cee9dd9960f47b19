"""Fill a kasse database with finalized orders, fast, for the growth runs.

    python -m bench.load_orders --database-url sqlite:///var/kasse.db --until 1000000

Adds finalized orders (two lines each, with the checkout attempt and the outbox event a
real checkout leaves) to the demo store until the ``orders`` table holds ``--until`` rows.
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
SHIPPING = Decimal("4.95")


@dataclass(frozen=True)
class Ids:
    store: UUID
    currency: UUID
    country: UUID
    status: UUID
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
               status=one(order_statuses, "alias", "new"),
               payment=one(payment_methods, "alias", "invoicing"),
               shipping=one(shipping_methods, "alias", "standard"), products=catalog)


def batches(ids: Ids, first: int, count: int, seed: int = 7
            ) -> Iterator[dict[Table, list[dict[str, Any]]]]:
    """Rows for orders ``first`` … ``first + count - 1``, ``BATCH`` orders at a time."""
    rng = random.Random(seed + first)  # noqa: S311 (test data, not security)
    now = datetime.now(UTC)
    subtotal = sum(ids.products[r][2] * q for r, q in LINES)
    total = subtotal + SHIPPING
    for start in range(first, first + count, BATCH):
        rows: dict[Table, list[dict[str, Any]]] = {t: [] for t in TABLES}
        for n in range(start, min(start + BATCH, first + count)):
            order_id, attempt_id = uuid4(), uuid4()
            placed = now - timedelta(seconds=rng.randrange(365 * 24 * 3600))
            email = f"customer{n % 50_000}@example.com"
            transaction = f"load-{n}"
            rows[orders].append({
                "id": order_id, "store_id": ids.store, "cart_number": f"LOAD-C{n:07d}",
                "order_number": f"LOAD-{n:07d}", "currency_id": ids.currency,
                "tax_class_id": None, "language": None, "customer_reference": None,
                "customer_email": email, "order_status_id": ids.status,
                "billing_country_id": ids.country, "billing_region_id": None,
                "shipping_country_id": ids.country, "shipping_region_id": None,
                "shipping_same_as_billing": True, "shipping_method_id": ids.shipping,
                "shipping_option_id": None, "payment_method_id": ids.payment,
                "properties": {"firstName": "Erika", "lastName": f"Muster{n}",
                               "email": email, "billingAddressLine1": "Hauptstrasse 5",
                               "billingCity": "Berlin", "billingZipCode": "10115",
                               "shippingSameAsBilling": "1"},
                "server_properties": {}, "tags": [], "discount_codes": [],
                "gift_card_codes": [], "created_at": placed,
                "updated_at": placed, "finalized_at": placed, "payment_status": "Authorized",
                "transaction_id": transaction, "authorized_amount": total,
                "fee_amount": Decimal(0), "version": 6})
            for position, (reference, quantity) in enumerate(LINES):
                sku, name, price = ids.products[reference]
                rows[order_lines].append({
                    "id": uuid4(), "order_id": order_id, "parent_id": None,
                    "position": position, "product_reference": reference,
                    "variant_reference": None, "sku": sku, "name": name,
                    "quantity": quantity, "unit_price": price, "product_tax_class_id": None,
                    "tax_class_id": None, "properties": {}, "attributes": [],
                    "bundle_id": None, "is_gift_card": False})
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
                "created_at": placed, "delivered_at": placed,
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
        value = row[column.name]
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

