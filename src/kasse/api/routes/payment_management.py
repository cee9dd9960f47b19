"""Managing a finalized order's payment: capture, cancel (void) and refund.

A kasse extension, not part of the Storefront API: it lives outside the Storefront base
path and out of the OpenAPI document, and needs the ``Api-Key`` and ``Store`` headers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, ConfigDict

from kasse.api.context import STORE, RequestContext, context
from kasse.api.deps import ApiKey
from kasse.api.ids import OrderId
from kasse.api.order_dto import Number
from kasse.api.responses import JsonResponse
from kasse.domain.errors import NotFound
from kasse.domain.payment_operations import PaymentOperationKind
from kasse.services.payment_operations import manage_payment

MANAGEMENT_PREFIX = "/kasse/management/v1"
router = APIRouter(prefix=MANAGEMENT_PREFIX, dependencies=[ApiKey], include_in_schema=False)


class PaymentOperationBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    amount: Number | None = None
    """Capture or refund this much (the order's currency); none: all of it."""


@router.post("/order/{orderId}/payment/{operation}")
async def payment_operation(
    orderId: OrderId,  # noqa: N803
    operation: Annotated[str, Path()],
    ctx: Annotated[RequestContext, context(STORE)],
    body: Annotated[PaymentOperationBody | None, Body()] = None,
) -> JsonResponse:
    try:
        kind = PaymentOperationKind(operation.lower())
    except ValueError:
        raise NotFound(f"no payment operation {operation[:40]!r}; use capture, cancel or "
                       "refund") from None
    change = await manage_payment(ctx.container.checkout, ctx.config, orderId, kind,
                                  body.amount if body is not None else None)
    return JsonResponse({
        "orderId": str(change.order.id), "orderNumber": change.order.order_number,
        "operation": kind.value, "paymentStatus": change.status.value,
        "amount": None if change.amount is None else float(change.amount),
        "changed": change.changed})
