"""Hosted checkout (tag "Checkout (Hosted)"): token, pay page, the return pages, and the
payment gateways' callback endpoint. None of these take the ``Api-Key``: the token or
the gateway's signature is the authority."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import APIRouter, Header, Path, Query
from starlette.responses import RedirectResponse, Response

from kasse.api import checkout_dto as cdto
from kasse.api import dto
from kasse.api.context import STORE, RequestContext, context
from kasse.api.deps import PREFIX
from kasse.api.ids import OrderId, PaymentMethodId
from kasse.api.pages import render
from kasse.api.problems import ApiProblem
from kasse.api.responses import JsonResponse
from kasse.api.wire import shape
from kasse.domain.checkout import Mode
from kasse.domain.errors import InvalidInput
from kasse.payments.provider import CallbackRejected
from kasse.services.checkout import HOSTED, Outcome, pay_url
from kasse.services.client_payments import create_client_payment

_PROBLEM: dict[int | str, dict[str, Any]] = {
    400: {"model": dto.ProblemDetails, "description": "Bad Request"},
    404: {"model": dto.ProblemDetails, "description": "Not Found"},
}
router = APIRouter(prefix=PREFIX, tags=["Checkout (Hosted)"], responses=_PROBLEM)
callbacks = APIRouter(tags=["Payment callbacks"])

Token = Annotated[str, Path(description="The checkout token", max_length=200)]
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:]+\]"
                     r"(:[0-9]{1,5})?$")
STATUSES = {"completed": "completed", "canceled": "canceled", "errored": "errored"}
MESSAGES = {
    "completed": ("Thank you", "Your payment was received and your order is placed."),
    "canceled": ("Payment cancelled", "The payment was cancelled. Nothing was charged."),
    "errored": ("Payment failed", "The payment did not go through. Nothing was charged."),
}


Ctx = Annotated[RequestContext, context()]
"""The app's parts only: these pages and callbacks read no store or session headers."""
StoreCtx = Annotated[RequestContext, context(STORE)]
_TOKEN = shape(cdto.CheckoutTokenDto)


def parse_origin(value: str | None) -> str | None:
    """An origin is ``scheme://host[:port]`` and nothing else (no path, no spaces)."""
    if value is None or not value.strip() or value.strip() == "null":
        return None
    origin = value.strip().rstrip("/")
    try:
        valid = len(origin) <= 300 and bool(_ORIGIN.match(origin)) and (
            urlsplit(origin).port or 0) <= 65535
    except ValueError:  # a port out of range
        valid = False
    if not valid:
        raise InvalidInput("Origin header must be an origin such as https://shop.example "
                           "(scheme, host and optional port)")
    return origin


@router.get("/v1/checkout/{orderId}/token", operation_id="token",
            summary="Prepares an order for a hosted checkout and returns its pay URL",
            response_model=cdto.CheckoutTokenDto)
async def token(
    orderId: OrderId, ctx: StoreCtx,  # noqa: N803
    origin: Annotated[str | None, Header(
        alias="Origin", description="Base URL of the page embedding the checkout; the "
                                    "status pages post messages to it only")] = None,
    mode: Annotated[str | None, Header(
        alias="Mode", description="Redirect (default) or Framed")] = None,
) -> JsonResponse:
    checkout_mode = Mode.parse(mode)
    registered = parse_origin(origin)
    if checkout_mode is Mode.FRAMED and registered is None:
        raise InvalidInput("a Framed checkout needs the Origin header of the embedding page")
    prepared = await ctx.container.checkout.prepare(ctx.config, orderId, HOSTED,
                                                    mode=checkout_mode, origin=registered)
    assert prepared.token is not None  # noqa: S101 (hosted attempts always have one)
    return JsonResponse(
        _TOKEN(token=prepared.token, orderNumber=prepared.order.order_number,
               payUrl=pay_url(ctx.base_url(), prepared.order.id, prepared.token)),
        headers={"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"})


@router.get("/v1/checkout/{orderId}/pay/{token}", operation_id="pay",
            summary="The page that hands the shopper to the payment gateway",
            response_class=Response,
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}}},
                             "description": "OK"}})
async def pay(orderId: OrderId, token: Token, ctx: Ctx) -> Response:  # noqa: N803
    page = await ctx.container.checkout.pay_page(orderId, token, ctx.base_url())
    config = await ctx.container.stores.get(str(page.order.store_id))
    return render("pay.html", frame_origin=page.attempt.origin
                  if page.attempt.mode is Mode.FRAMED else None,
                  store_name=config.store.name, order_number=page.order.order_number,
                  amount=page.amount_text, form=page.form)


async def _status_page(ctx: RequestContext, outcome: Outcome, token: str) -> Response:
    attempt = outcome.attempt
    if attempt.mode is Mode.REDIRECT:
        key = {"completed": "ContinueUrl", "canceled": "CancelUrl",
               "errored": "ErrorUrl"}[outcome.status]
        target = outcome.settings.get(key, "").strip()
        if target and _safe_redirect(target):
            return RedirectResponse(target, status_code=303)
    config = await ctx.container.stores.get(str(attempt.store_id))
    heading, message = MESSAGES[outcome.status]
    framed = attempt.mode is Mode.FRAMED and attempt.origin
    return render("status.html", frame_origin=attempt.origin if framed else None,
                  store_name=config.store.name, heading=heading, message=message,
                  order_number=outcome.order.order_number,
                  post_message=f"UC:{outcome.order.id}:{token}:{outcome.status}"
                  if framed else None, origin=attempt.origin)


def _safe_redirect(target: str) -> bool:
    parts = urlsplit(target)
    if target.startswith("/"):
        return not target.startswith("//")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


async def _return(ctx: RequestContext, order_id: UUID, token: str, status: str) -> Response:
    request = ctx.request
    query = {k: v for k, v in request.query_params.items()}
    if request.method == "POST":
        form = await request.form()
        query.update({k: v for k, v in form.items() if isinstance(v, str)})
    outcome = await ctx.container.checkout.returned(order_id, token, status, query)
    return await _status_page(ctx, outcome, token)


for _status in STATUSES:
    def _make(status: str) -> Any:
        async def page(orderId: OrderId, token: Token, ctx: Ctx) -> Response:  # noqa: N803
            return await _return(ctx, orderId, token, status)
        page.__name__ = f"pay_{status}"
        return page

    router.add_api_route(
        f"/v1/checkout/{{orderId}}/pay/{{token}}/{_status}", _make(_status),
        methods=["GET", "POST"], include_in_schema=False, response_class=Response)


CALLBACK = "/umbraco/commerce/payment/callback/{providerAlias}/{paymentMethodId}"
ProviderAlias = Annotated[str, Path(description="The alias of the payment provider")]


@callbacks.get(f"{CALLBACK}/{{orderId}}", operation_id="createClientPayment",
               summary="What the browser needs to take an inline payment",
               description="The storefront asks `GET {urls.callback}?create=KIND` of an "
                           "initialized inline checkout; the provider creates the payment "
                           "(e.g. a Stripe PaymentIntent) and answers what the browser needs "
                           "to complete it (e.g. `{\"clientSecret\": …}`), the same answer "
                           "when asked again.",
               response_model=dict[str, str], responses=_PROBLEM)
async def client_payment(
    providerAlias: ProviderAlias,  # noqa: N803
    paymentMethodId: PaymentMethodId, orderId: OrderId, ctx: Ctx,  # noqa: N803
    create: Annotated[str, Query(min_length=1, max_length=100,
                                 description="What to create, e.g. `paymentIntent`")],
) -> JsonResponse:
    answer = await create_client_payment(ctx.container.checkout, providerAlias,
                                         paymentMethodId, orderId, create, ctx.base_url())
    return JsonResponse(dict(answer), headers={"Cache-Control": "no-store"})


# Only POST reaches a gateway's notification: a GET there is a 405 (with ``Allow``).
@callbacks.post(CALLBACK, operation_id="paymentCallback",
                summary="Server-to-server notifications from payment gateways")
async def payment_callback(providerAlias: ProviderAlias,  # noqa: N803
                           paymentMethodId: PaymentMethodId, ctx: Ctx,  # noqa: N803
                           ) -> JsonResponse:
    request = ctx.request
    body = await request.body()  # the raw bytes: signatures are over them
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        outcome = await ctx.container.checkout.callback(providerAlias, paymentMethodId, body,
                                                        headers)
    except CallbackRejected as exc:
        raise ApiProblem(401, str(exc), "callback-rejected") from None
    return JsonResponse({"received": True, "outcome": outcome})


@callbacks.post(f"{CALLBACK}/{{orderId}}", operation_id="paymentCallbackForOrder",
                summary="Server-to-server notifications from payment gateways, at an inline "
                        "checkout's `urls.callback`")
async def payment_callback_for_order(
    providerAlias: ProviderAlias,  # noqa: N803
    paymentMethodId: PaymentMethodId, orderId: OrderId, ctx: Ctx,  # noqa: N803
) -> JsonResponse:
    # The notification itself names its payment; the order in the path is for the reader.
    return await payment_callback(providerAlias, paymentMethodId, ctx)
