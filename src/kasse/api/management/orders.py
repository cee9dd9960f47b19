"""Reading placed orders: the list with its filters, the CSV export, one order with its
history and timeline, and the audit log of an order or a store."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from kasse.api.ids import ORDER
from kasse.api.management import MANAGEMENT_PREFIX, order_csv, order_json
from kasse.api.management.actions import etag
from kasse.api.management.auth import allowed
from kasse.api.order_view import OrderView
from kasse.api.responses import JsonResponse
from kasse.api.serializers import View
from kasse.api.shaping import parse_tree
from kasse.api.state import app_state
from kasse.domain.access import Permission, Principal
from kasse.services.order_filters import DEFAULT_LIMIT, MAX_LIMIT
from kasse.services.order_queries import AuditPage, OrderQueries, OrderQuery

router = APIRouter(prefix=MANAGEMENT_PREFIX, tags=["Orders"])

Reader = Annotated[Principal, allowed(Permission.ORDERS_READ)]
Exporter = Annotated[Principal, allowed(Permission.ORDERS_EXPORT)]
Auditor = Annotated[Principal, allowed(Permission.AUDIT_READ)]
OrderId = Annotated[UUID, ORDER.validator, Path(alias="orderId",
                                                description="The id of a placed order")]
Cursor = Annotated[str | None, Query(
    description="Where the page starts: `nextCursor` of the page before")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")]


def _queries(request: Request) -> OrderQueries:
    return app_state(request).container.order_queries


Queries = Annotated[OrderQueries, Depends(_queries)]


def order_query(
    store: Annotated[str | None, Query(description="A store's id or alias")] = None,
    order_status: Annotated[str | None, Query(
        alias="orderStatus", description="An order status's id or alias")] = None,
    payment_status: Annotated[str | None, Query(
        alias="paymentStatus", description="e.g. `Authorized`, `Captured`, `Refunded`")] = None,
    fulfilment_status: Annotated[str | None, Query(
        alias="fulfilmentStatus", description="`unfulfilled`, `partial` or `fulfilled`")
    ] = None,
    placed_from: Annotated[datetime | None, Query(
        alias="placedFrom", description="Placed at or after (ISO 8601; UTC if no zone)")
    ] = None,
    placed_to: Annotated[datetime | None, Query(
        alias="placedTo", description="Placed before (ISO 8601; UTC if no zone)")] = None,
    email: Annotated[str | None, Query(
        description="The customer's email (exact, any case)")] = None,
    customer_reference: Annotated[str | None, Query(alias="customerReference")] = None,
    order_number: Annotated[str | None, Query(alias="orderNumber")] = None,
    total_min: Annotated[Decimal | None, Query(
        alias="totalMin", description="Total price at least (a decimal)")] = None,
    total_max: Annotated[Decimal | None, Query(
        alias="totalMax", description="Total price at most (a decimal)")] = None,
    code: Annotated[str | None, Query(
        description="A discount or gift card code the order used")] = None,
    q: Annotated[str | None, Query(
        description="Text found in the order number, the customer's name or email")] = None,
    sort: Annotated[str, Query(description="`placedAt` or `totalPrice` (orders whose "
                                           "total is not known come last)")] = "placedAt",
    direction: Annotated[str, Query(description="`desc` (newest or largest first) or "
                                                "`asc`")] = "desc",
) -> OrderQuery:
    return OrderQuery(
        store=store, order_status=order_status, payment_status=payment_status,
        fulfilment_status=fulfilment_status, placed_from=placed_from, placed_to=placed_to,
        email=email, customer_reference=customer_reference, order_number=order_number,
        total_min=total_min, total_max=total_max, code=code, text=q, sort=sort,
        direction=direction)


Filters = Annotated[OrderQuery, Depends(order_query)]


@router.get("/orders", summary="Placed orders, filtered and sorted, a page at a time")
async def list_orders(principal: Reader, queries: Queries, filters: Filters,
                      cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT,
                      count: Annotated[bool, Query(
                          description="Also count every matching order (`total`)")] = False,
                      ) -> JsonResponse:
    page = await queries.find(principal, replace(filters, cursor=cursor, limit=limit,
                                                  count=count))
    return JsonResponse({
        "items": [order_json.summary(order, page.stores[order.store_id])
                  for order in page.orders],
        "nextCursor": page.next_cursor, "total": page.total})


@router.get("/orders/export.csv", summary="Placed orders as CSV, streamed",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}},
                             "description": "RFC 4180 CSV with a header line"}})
async def export_orders(principal: Exporter, queries: Queries, filters: Filters
                        ) -> StreamingResponse:
    export = await queries.export(principal, filters)
    return StreamingResponse(order_csv.stream(export), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition":
                                      'attachment; filename="orders.csv"',
                                      "Cache-Control": "no-store"})


@router.get("/orders/{orderId}", summary="One placed order with its history and timeline")
async def get_order(principal: Reader, queries: Queries, order_id: OrderId,
                    expand: Annotated[str | None, Query(
                        description="Expand the storefront view of the order, e.g. "
                                    "`$prices,orderLines`")] = None) -> Response:
    record = await queries.order(principal, order_id)
    view = OrderView(View(record.config), parse_tree(expand, "expand"))
    body = {**order_json.summary(record.summary, record.config),
            "order": view.order(record.priced),
            **order_json.history(record.summary, record.checkout, record.history,
                                 record.timeline, record.config)}
    return JsonResponse(body, headers={"ETag": etag(record.summary.version)})


@router.get("/orders/{orderId}/audit", summary="The audit entries of an order, newest first")
async def order_audit(principal: Auditor, queries: Queries, order_id: OrderId,
                      cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> JsonResponse:
    return _audit(await queries.order_audit(principal, order_id,
                                            cursor=cursor, limit=limit))


@router.get("/stores/{store}/audit", summary="The audit entries of a store, newest first")
async def store_audit(principal: Auditor, queries: Queries,
                      store: Annotated[str, Path(description="A store's id or alias")],
                      cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> JsonResponse:
    return _audit(await queries.store_audit(principal, store, cursor=cursor, limit=limit))


def _audit(page: AuditPage) -> JsonResponse:
    return JsonResponse({"items": [order_json.audit_entry(e) for e in page.entries],
                         "nextCursor": page.next_cursor})

