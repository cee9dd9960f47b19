"""Inline checkout (tag "Checkout (Inline)") and the methods valid for an order (tag
"Checkout")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from kasse.api import checkout_dto as cdto
from kasse.api import dto
from kasse.api.deps import (
    PREFIX,
    ApiKey,
    Shape,
    documented_params,
    parse_id,
    reads,
    session_headers,
    shape,
    store_config,
)
from kasse.api.order_view import OrderView
from kasse.api.responses import NOTIFICATIONS, JsonResponse, notifications_header
from kasse.api.routes.hosted_checkout import base_url
from kasse.api.serializers import View
from kasse.api.shaping import apply_fields
from kasse.api.state import app_state
from kasse.domain.order import Notice
from kasse.domain.session import resolve_session
from kasse.domain.store import StoreConfig
from kasse.services import inline_checkout as inline
from kasse.services.checkout import Checkout

router = APIRouter(prefix=PREFIX, dependencies=[ApiKey], responses={
    400: {"model": dto.ProblemDetails, "description": "Bad Request"},
    401: {"model": dto.ProblemDetails, "description": "Missing or wrong Api-Key"},
    404: {"model": dto.ProblemDetails, "description": "Not Found"},
})


@dataclass(frozen=True, slots=True)
class CheckoutCall:
    """The store, the response shape and the checkout service, resolved in one step (one
    dependency instead of four: resolving each costs more than what it does)."""

    config: StoreConfig
    shape: Shape
    checkout: Checkout


def _checkout(request: Request) -> Checkout:
    return app_state(request).container.checkout


@reads(*documented_params(store_config))
async def store_call(request: Request) -> CheckoutCall:
    return CheckoutCall(await store_config(request), Shape({}, {}), _checkout(request))


@reads(*documented_params(store_config), *documented_params(shape))
async def shaped_call(request: Request) -> CheckoutCall:
    return CheckoutCall(await store_config(request), await shape(request), _checkout(request))


@reads(*documented_params(store_config), *documented_params(session_headers),
       *documented_params(shape))
async def session_call(request: Request) -> CheckoutCall:
    """As ``shaped_call``; the session headers are checked too (an unknown value is a 400)."""
    config = await store_config(request)
    resolve_session(config, await session_headers(request))
    return CheckoutCall(config, await shape(request), _checkout(request))


StoreCall = Annotated[CheckoutCall, Depends(store_call)]
ShapedCall = Annotated[CheckoutCall, Depends(shaped_call)]
SessionCall = Annotated[CheckoutCall, Depends(session_call)]
OrderId = Annotated[str, Path(description="The ID of the order", json_schema_extra={
    "format": "uuid"})]
_NOTIFY: dict[int | str, dict[str, Any]] = {
    200: {"description": "OK", "headers": {NOTIFICATIONS: {
        "description": "JSON array of notifications", "schema": {"type": "string"}}}},
    409: {"model": dto.ProblemDetails,
          "description": "The order is already finalized with another transaction"},
}


@router.get("/v1/checkout/{orderId}/initialize", operation_id="initialize",
            tags=["Checkout (Inline)"], response_model=cdto.CheckoutInitializedDto,
            summary="Prepares an order for an inline checkout")
async def initialize(request: Request, orderId: OrderId, call: StoreCall,  # noqa: N803
                     ) -> JsonResponse:
    ready = await inline.initialize(call.checkout, call.config, parse_id(orderId, "order"),
                                    base_url(request))
    return JsonResponse({
        "orderNumber": ready.order_number,
        "paymentMethod": {
            "settings": ready.settings,
            "metaDataDefinitions": ready.metadata_definitions,
            "urls": {"continue": ready.urls.continue_url, "cancel": ready.urls.cancel_url,
                     "error": ready.urls.error_url, "callback": ready.urls.callback_url},
        },
    }, headers={"Cache-Control": "no-store"})


@router.post("/v1/checkout/{orderId}/confirm", operation_id="confirm",
             tags=["Checkout (Inline)"], response_model=cdto.CheckoutConfirmDto,
             summary="Confirms an inline payment and finalizes the order", responses=_NOTIFY)
async def confirm(orderId: OrderId, body: cdto.CheckoutConfirmRequestDto,  # noqa: N803
                  call: ShapedCall) -> JsonResponse:
    config, s = call.config, call.shape
    order, newly = await inline.confirm(
        call.checkout, config, parse_id(orderId, "order"), inline.Confirmation(
            amount=body.amount, fee=body.fee, transaction_id=body.transactionId,
            payment_status=body.paymentStatus.value, metadata=body.metaData or {}))
    view = OrderView(View(config), s.expand)
    notice = Notice(f"order {order.order_number} placed" if newly
                    else f"order {order.order_number} was already placed", "Success")
    return JsonResponse(
        apply_fields({"orderNumber": order.order_number,
                      "transactionInfo": view.transaction_info(order)}, s.fields),
        headers=notifications_header([notice]))


@router.get("/v1/checkout/{orderId}/paymentmethods",
            operation_id="getValidPaymentMethodsByOrderId", tags=["Checkout"],
            response_model=list[dto.PaymentMethodWithFeeDto],
            summary="The payment methods the order can use, with their fee")
async def payment_methods(orderId: OrderId, call: SessionCall,  # noqa: N803
                          ) -> JsonResponse:
    config, s = call.config, call.shape
    view = View(config)
    choices = await inline.payment_methods(call.checkout, config, parse_id(orderId, "order"))
    body = [{**view.payment_method(c.method, s.expand), "fee": view.price(c.fee)}
            for c in choices]
    return JsonResponse(apply_fields(body, s.fields))


@router.get("/v1/checkout/{orderId}/shippingmethods",
            operation_id="getValidShippingMethodsByOrderId", tags=["Checkout"],
            response_model=list[dto.ShippingMethodWithRatesDto],
            summary="The shipping methods the order can use, with a rate per option")
async def shipping_methods(orderId: OrderId, call: SessionCall,  # noqa: N803
                           ) -> JsonResponse:
    config, s = call.config, call.shape
    view = View(config)
    choices = await inline.shipping_methods(call.checkout, config, parse_id(orderId, "order"))
    body = [{**view.shipping_method(c.method, s.expand),
             "rates": [{"option": {"id": r.option.alias, "name": r.option.name}
                        if r.option else None, "packageId": None, "value": view.price(r.price)}
                       for r in c.rates]} for c in choices]
    return JsonResponse(apply_fields(body, s.fields))
