"""Inline checkout (tag "Checkout (Inline)") and the methods valid for an order (tag
"Checkout")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from kasse.api import checkout_dto as cdto
from kasse.api import dto
from kasse.api.context import SESSION, SHAPE, STORE, RequestContext, context
from kasse.api.deps import PREFIX, ApiKey
from kasse.api.ids import OrderId
from kasse.api.order_view import OrderView
from kasse.api.responses import NOTIFICATIONS, JsonResponse, notifications_header
from kasse.api.serializers import View
from kasse.api.shaping import apply_fields
from kasse.api.wire import shape
from kasse.domain.order import Notice
from kasse.services import inline_checkout as inline

router = APIRouter(prefix=PREFIX, dependencies=[ApiKey], responses={
    400: {"model": dto.ProblemDetails, "description": "Bad Request"},
    401: {"model": dto.ProblemDetails, "description": "Missing or wrong Api-Key"},
    404: {"model": dto.ProblemDetails, "description": "Not Found"},
})

_INITIALIZED = shape(cdto.CheckoutInitializedDto)
_PAYMENT_METHOD = shape(cdto.CheckoutPaymentMethodDto)
_URLS = shape(cdto.CheckoutPaymentMethodUrlsDto)
_CONFIRMED = shape(cdto.CheckoutConfirmDto)
_RATE = shape(dto.ShippingRateDto)
_OPTION = shape(dto.ShippingOptionDto)

StoreCtx = Annotated[RequestContext, context(STORE)]
ShapedCtx = Annotated[RequestContext, context(STORE, SHAPE)]
SessionCtx = Annotated[RequestContext, context(STORE, SESSION, SHAPE)]
"""The session is not used, but its headers are checked (an unknown value is a 400)."""
_NOTIFY: dict[int | str, dict[str, Any]] = {
    200: {"description": "OK", "headers": {NOTIFICATIONS: {
        "description": "JSON array of notifications", "schema": {"type": "string"}}}},
    409: {"model": dto.ProblemDetails,
          "description": "The order is already finalized with another transaction"},
}


@router.get("/v1/checkout/{orderId}/initialize", operation_id="initialize",
            tags=["Checkout (Inline)"], response_model=cdto.CheckoutInitializedDto,
            summary="Prepares an order for an inline checkout")
async def initialize(orderId: OrderId, ctx: StoreCtx) -> JsonResponse:  # noqa: N803
    ready = await inline.initialize(ctx.container.checkout, ctx.config, orderId,
                                    ctx.base_url())
    urls = ready.urls
    return JsonResponse(_INITIALIZED(
        orderNumber=ready.order_number,
        paymentMethod=_PAYMENT_METHOD(
            settings=ready.settings, metaDataDefinitions=ready.metadata_definitions,
            urls=_URLS(continue_=urls.continue_url, cancel=urls.cancel_url,
                       error=urls.error_url, callback=urls.callback_url)),
    ), headers={"Cache-Control": "no-store"})


@router.post("/v1/checkout/{orderId}/confirm", operation_id="confirm",
             tags=["Checkout (Inline)"], response_model=cdto.CheckoutConfirmDto,
             summary="Confirms an inline payment and finalizes the order", responses=_NOTIFY)
async def confirm(orderId: OrderId, body: cdto.CheckoutConfirmRequestDto,  # noqa: N803
                  ctx: ShapedCtx) -> JsonResponse:
    config, s = ctx.config, ctx.shape
    order, newly = await inline.confirm(
        ctx.container.checkout, config, orderId, inline.Confirmation(
            amount=body.amount, fee=body.fee, transaction_id=body.transactionId,
            payment_status=body.paymentStatus.value, metadata=body.metaData or {}))
    view = OrderView(View(config), s.expand)
    notice = Notice(f"order {order.order_number} placed" if newly
                    else f"order {order.order_number} was already placed", "Success")
    return JsonResponse(
        apply_fields(_CONFIRMED(orderNumber=order.order_number,
                                transactionInfo=view.transaction_info(order)), s.fields),
        headers=notifications_header([notice]))


@router.get("/v1/checkout/{orderId}/paymentmethods",
            operation_id="getValidPaymentMethodsByOrderId", tags=["Checkout"],
            response_model=list[dto.PaymentMethodWithFeeDto],
            summary="The payment methods the order can use, with their fee")
async def payment_methods(orderId: OrderId, ctx: SessionCtx) -> JsonResponse:  # noqa: N803
    config, s = ctx.config, ctx.shape
    view = View(config)
    choices = await inline.payment_methods(ctx.container.checkout, config, orderId)
    body = [view.payment_method_with_fee(c.method, s.expand, c.fee) for c in choices]
    return JsonResponse(apply_fields(body, s.fields))


@router.get("/v1/checkout/{orderId}/shippingmethods",
            operation_id="getValidShippingMethodsByOrderId", tags=["Checkout"],
            response_model=list[dto.ShippingMethodWithRatesDto],
            summary="The shipping methods the order can use, with a rate per option")
async def shipping_methods(orderId: OrderId, ctx: SessionCtx) -> JsonResponse:  # noqa: N803
    config, s = ctx.config, ctx.shape
    view = View(config)
    choices = await inline.shipping_methods(ctx.container.checkout, config, orderId)
    body = [view.shipping_method_with_rates(c.method, s.expand, [
        _RATE(option=_OPTION(id=r.option.alias, name=r.option.name) if r.option else None,
              packageId=None, value=view.price(r.price))
        for r in c.rates]) for c in choices]
    return JsonResponse(apply_fields(body, s.fields))
