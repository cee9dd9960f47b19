"""Placed orders as CSV (RFC 4180), streamed batch by batch.

A cell that a spreadsheet would read as a formula (one starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) gets a leading single quote: a shopper's name is data,
never a formula that runs on the merchant's machine.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable

from kasse.api.management.order_json import money, when
from kasse.domain.store import StoreConfig
from kasse.services.order_queries import OrderExport
from kasse.services.order_records import OrderSummary

COLUMNS = ("orderNumber", "placedAt", "store", "customerEmail", "customerName", "currency",
           "total", "paymentStatus", "fulfilmentStatus", "orderStatus", "captured",
           "refunded", "tags")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe(cell: str) -> str:
    """The cell as text no spreadsheet runs as a formula."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def row(order: OrderSummary, config: StoreConfig | None) -> list[str]:
    currency = config.currency_by_id(order.currency_id) if config is not None else None
    status = config.order_status_by_id(order.order_status_id) if config is not None else None
    cells = [order.order_number, when(order.placed_at),
             config.store.alias if config is not None else str(order.store_id),
             order.email, order.customer_name, currency.code if currency else None,
             money(order.total_price, currency), order.payment_status,
             order.fulfilment_status, status.name if status is not None else None,
             money(order.captured, currency), money(order.refunded, currency),
             ";".join(order.tags)]
    return [safe(cell or "") for cell in cells]


def lines(rows: Iterable[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


async def stream(export: OrderExport) -> AsyncIterator[bytes]:
    """The header, then one chunk per batch of orders read (never the whole list)."""
    yield lines([list(COLUMNS)])
    async for batch in export.batches():
        yield lines(row(order, export.stores.get(order.store_id)) for order in batch)
