"""Cart and order operations (tag "Order") and a customer's orders (tag "Customer")."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Body, Path, Request
from starlette.responses import Response

from kasse.api import dto
from kasse.api import order_dto as odto
from kasse.api.context import SESSION, SHAPE, STORE, RequestContext, context, resolver
from kasse.api.deps import PREFIX, ApiKey, documented_params, reads, require_api_key
from kasse.api.ids import ORDER, OrderId, OrderLineId
from kasse.api.order_view import OrderView
from kasse.api.rendered_orders import Key
from kasse.api.responses import NOTIFICATIONS, JsonResponse, notifications_header
from kasse.api.serializers import View
from kasse.api.shaping import apply_fields
from kasse.domain import payment_link
from kasse.domain.order import Notice, Order
from kasse.domain.store import StoreConfig
from kasse.services import order_changes as changes
from kasse.services.orders import AddProduct, LineChange, NewOrder, PricedOrder

_NOTIFY_HEADER = {NOTIFICATIONS: {
    "description": "JSON array of notifications: `[{message, category, type}]`",
    "schema": {"type": "string"}}}
_PROBLEM = {"model": dto.ProblemDetails}

router = APIRouter(prefix=PREFIX, dependencies=[ApiKey], responses={
    400: {**_PROBLEM, "description": "Bad Request"},
    401: {**_PROBLEM, "description": "Missing or wrong Api-Key"},
    404: {**_PROBLEM, "description": "Not Found"},
})
MUTATION: dict[int | str, dict[str, Any]] = {
    200: {"description": "OK", "headers": _NOTIFY_HEADER},
    409: {**_PROBLEM, "description": "The order is being changed by many requests at once"},
}

OrderIdOrLink = Annotated[str, Path(
    description="The ID of the order, or a payment link token")]
BundleId = Annotated[str, Path(description="The bundle ID of the bundle order line")]

Ctx = Annotated[RequestContext, context(STORE, SESSION, SHAPE)]
"""What every order operation reads: the store, the session defaults, the shape."""
ShapedCtx = Annotated[RequestContext, context(STORE, SHAPE)]


def _key(config: StoreConfig, query: str, order_id: UUID, version: int) -> Key:
    return (order_id, version, config.store.config_version, query)


def _respond(ctx: RequestContext, priced: PricedOrder, *, mutation: bool = True) -> Response:
    """The order as this request shapes it, kept for the next read when it may be."""
    config, order = ctx.config, priced.order
    body = orjson.dumps(apply_fields(
        OrderView(View(config), ctx.shape.expand).order(priced), ctx.shape.fields))
    if _keepable(order, config):
        ctx.state.rendered_orders.put(_key(config, ctx.query, order.id, order.version), body)
    headers = notifications_header(priced.notices) if mutation else None
    return Response(body, media_type=JsonResponse.media_type, headers=headers)


def _keepable(order: Order, config: StoreConfig) -> bool:
    """Whether the rendering depends on nothing but the order and the configuration: the
    uses left of a discount code, a gift card's balance or a discount's date window can
    change what an unchanged order shows."""
    return not (order.discount_codes or order.gift_card_codes or config.has_timed_discounts)


def _line_change(line_id: UUID, body: odto.UpdateOrderLineRequestDto) -> LineChange:
    return LineChange(line_id=line_id, quantity=body.quantity, increment=body.quantityIncrement,
                      decrement=body.quantityDecrement, tax_class=body.taxClass,
                      properties=body.properties)


def _order_change(body: odto.UpdateOrderRequestDto) -> changes.OrderChange:
    given = body.model_fields_set

    def field(name: str) -> Any:
        return getattr(body, name) if name in given else changes.UNSET

    shipping = None
    if body.shippingAddress is not None:
        a = body.shippingAddress
        shipping = changes.ShippingAddressChange(
            fields={"line1": a.line1, "line2": a.line2, "city": a.city, "zipCode": a.zipCode},
            country=a.country, region=a.region, same_as_billing=a.sameAsBilling,
            contact=a.contact.model_dump() if a.contact else None)
    billing = None
    if body.billingAddress is not None:
        b = body.billingAddress
        billing = changes.AddressChange(
            fields={"line1": b.line1, "line2": b.line2, "city": b.city, "zipCode": b.zipCode},
            country=b.country, region=b.region)
    return changes.OrderChange(
        language=field("language"), currency=field("currency"), tax_class=field("taxClass"),
        customer_reference=field("customerReference"),
        customer=body.customer.model_dump() if body.customer else None,
        billing_address=billing, shipping_address=shipping,
        shipping_method=field("shippingMethod"), shipping_option=field("shippingOption"),
        payment_method=field("paymentMethod"), redeem=body.redeem or [],
        unredeem=body.unredeem or [], properties=body.properties, tags=body.tags)


def _add(body: odto.AddProductRequestDto) -> AddProduct:
    return AddProduct(product_reference=body.productReference, quantity=body.quantity,
                      variant_reference=body.productVariantReference,
                      properties=body.properties or {}, bundle_id=body.bundleId)


# --- orders ---------------------------------------------------------------------------


@router.post("/v1/orders", operation_id="createOrder", tags=["Order"],
             summary="Creates a new order (a cart)", response_model=odto.OrderDto,
             responses=MUTATION)
async def create_order(ctx: Ctx,
                       body: Annotated[odto.CreateOrderRequestDto | None, Body()] = None
                       ) -> Response:
    body = body or odto.CreateOrderRequestDto()
    priced = await ctx.container.orders.create(ctx.config, ctx.session, NewOrder(
        currency=body.currency, language=body.language, tax_class=body.taxClass,
        customer_reference=body.customerReference))
    return _respond(ctx, priced)


# A storefront reads its cart on nearly every page: this route resolves what it needs
# itself instead of through FastAPI's dependencies, which cost more than answering with a
# kept body. It checks the same key, headers and query, in the same order.
reads_router = APIRouter(prefix=PREFIX, responses=router.responses)
_order_context = resolver(STORE, SESSION, SHAPE)


@reads_router.get("/v1/order/{orderId}", operation_id="getOrderById", tags=["Order"],
                  summary="Gets an order by ID", response_model=odto.OrderDto)
@reads(*documented_params(require_api_key), *documented_params(_order_context))
async def get_order(request: Request, orderId: OrderIdOrLink) -> Response:  # noqa: N803
    """An order by id, or the open cart of a payment link (the same path in the contract:
    ``v1/order/{paymentLinkToken}``)."""
    await require_api_key(request)
    ctx = await _order_context(request)
    config, orders = ctx.config, ctx.container.orders
    if payment_link.looks_like_link(orderId.strip()):
        priced = await orders.by_payment_link(config, orderId, ctx.container.secret_key)
        return _respond(ctx, priced, mutation=False)
    order_id = ORDER.parse(orderId)
    version = await orders.version(config, order_id)
    body = ctx.state.rendered_orders.get(_key(config, ctx.query, order_id, version))
    if body is not None:
        return Response(body, media_type=JsonResponse.media_type)
    return _respond(ctx, await orders.get(config, order_id), mutation=False)


@router.post("/v1/order/{orderId}", operation_id="addProductToOrder", tags=["Order"],
             summary="Adds a product to an order", response_model=odto.OrderDto,
             responses=MUTATION)
async def add_product(orderId: OrderId, body: odto.AddProductRequestDto,  # noqa: N803
                      ctx: Ctx) -> Response:
    priced = await ctx.container.orders.add_product(ctx.config, orderId, _add(body))
    return _respond(ctx, priced)


@router.patch("/v1/order/{orderId}", operation_id="updateOrder", tags=["Order"],
              summary="Updates an order", response_model=odto.OrderDto, responses=MUTATION)
async def update_order(orderId: OrderId, body: odto.UpdateOrderRequestDto,  # noqa: N803
                       ctx: Ctx) -> Response:
    priced = await ctx.container.orders.update(ctx.config, orderId, _order_change(body))
    return _respond(ctx, priced)


@router.delete("/v1/order/{orderId}", operation_id="deleteOrder", tags=["Order"],
               summary="Deletes an open order (a cart)", responses=MUTATION)
async def delete_order(orderId: OrderId, ctx: Ctx) -> Response:  # noqa: N803
    await ctx.container.orders.delete(ctx.config, orderId)
    notice = Notice("cart deleted", "Success")
    return JsonResponse({"id": str(orderId), "deleted": True},
                        headers=notifications_header([notice]))


# --- order lines ------------------------------------------------------------------------


@router.patch("/v1/order/{orderId}/items", operation_id="updateOrderLines", tags=["Order"],
              summary="Updates several order lines at once (all or nothing)",
              response_model=odto.OrderDto, responses=MUTATION)
async def update_lines(orderId: OrderId,  # noqa: N803
                       body: list[odto.UpdateOrderLineWithIdRequestDto], ctx: Ctx
                       ) -> Response:
    priced = await ctx.container.orders.update_lines(
        ctx.config, orderId, [_line_change(item.id, item) for item in body])
    return _respond(ctx, priced)


@router.delete("/v1/order/{orderId}/items", operation_id="deleteAllOrderLines",
               tags=["Order"], summary="Removes every line of an order",
               response_model=odto.OrderDto, responses=MUTATION)
async def delete_lines(orderId: OrderId, ctx: Ctx) -> Response:  # noqa: N803
    priced = await ctx.container.orders.clear_lines(ctx.config, orderId)
    return _respond(ctx, priced)


@router.patch("/v1/order/{orderId}/item/{orderLineId}", operation_id="updateOrderLine",
              tags=["Order"], summary="Updates an order line", response_model=odto.OrderDto,
              responses=MUTATION)
async def update_line(orderId: OrderId, orderLineId: OrderLineId,  # noqa: N803
                      body: odto.UpdateOrderLineRequestDto, ctx: Ctx) -> Response:
    priced = await ctx.container.orders.update_lines(
        ctx.config, orderId, [_line_change(orderLineId, body)])
    return _respond(ctx, priced)


@router.delete("/v1/order/{orderId}/item/{orderLineId}", operation_id="deleteOrderLine",
               tags=["Order"], summary="Removes an order line", response_model=odto.OrderDto,
               responses=MUTATION)
async def delete_line(orderId: OrderId, orderLineId: OrderLineId, ctx: Ctx  # noqa: N803
                      ) -> Response:
    priced = await ctx.container.orders.remove_line(ctx.config, orderId, orderLineId)
    return _respond(ctx, priced)


# --- bundles ----------------------------------------------------------------------------


@router.post("/v1/order/{orderId}/bundle/{bundleId}", operation_id="addProductToBundle",
             tags=["Order"], summary="Adds a product to a bundle of an order",
             response_model=odto.OrderDto, responses=MUTATION)
async def add_to_bundle(orderId: OrderId, bundleId: BundleId,  # noqa: N803
                        body: odto.AddProductRequestDto, ctx: Ctx) -> Response:
    priced = await ctx.container.orders.add_product(ctx.config, orderId, _add(body),
                                                    into_bundle=bundleId)
    return _respond(ctx, priced)


@router.patch("/v1/order/{orderId}/bundle/{bundleId}/items",
              operation_id="updateBundleOrderLines", tags=["Order"],
              summary="Updates several items of a bundle at once (all or nothing)",
              response_model=odto.OrderDto, responses=MUTATION)
async def update_bundle_lines(orderId: OrderId, bundleId: BundleId,  # noqa: N803
                              body: list[odto.UpdateOrderLineWithIdRequestDto], ctx: Ctx
                              ) -> Response:
    priced = await ctx.container.orders.update_lines(
        ctx.config, orderId, [_line_change(item.id, item) for item in body],
        bundle_id=bundleId)
    return _respond(ctx, priced)


@router.delete("/v1/order/{orderId}/bundle/{bundleId}/items",
               operation_id="deleteAllBundleOrderLines", tags=["Order"],
               summary="Removes every item of a bundle", response_model=odto.OrderDto,
               responses=MUTATION)
async def delete_bundle_lines(orderId: OrderId, bundleId: BundleId,  # noqa: N803
                              ctx: Ctx) -> Response:
    priced = await ctx.container.orders.clear_lines(ctx.config, orderId, bundle_id=bundleId)
    return _respond(ctx, priced)


@router.patch("/v1/order/{orderId}/bundle/{bundleId}/item/{orderLineId}",
              operation_id="updateBundleOrderLine", tags=["Order"],
              summary="Updates an item of a bundle", response_model=odto.OrderDto,
              responses=MUTATION)
async def update_bundle_line(orderId: OrderId, bundleId: BundleId,  # noqa: N803
                             orderLineId: OrderLineId,  # noqa: N803
                             body: odto.UpdateOrderLineRequestDto, ctx: Ctx) -> Response:
    priced = await ctx.container.orders.update_lines(
        ctx.config, orderId, [_line_change(orderLineId, body)], bundle_id=bundleId)
    return _respond(ctx, priced)


@router.delete("/v1/order/{orderId}/bundle/{bundleId}/item/{orderLineId}",
               operation_id="deleteBundleOrderLine", tags=["Order"],
               summary="Removes an item of a bundle", response_model=odto.OrderDto,
               responses=MUTATION)
async def delete_bundle_line(orderId: OrderId, bundleId: BundleId,  # noqa: N803
                             orderLineId: OrderLineId, ctx: Ctx) -> Response:  # noqa: N803
    priced = await ctx.container.orders.remove_line(ctx.config, orderId, orderLineId,
                                                    bundle_id=bundleId)
    return _respond(ctx, priced)


# --- customer -------------------------------------------------------------------------


@router.get("/v1/customer/{customerReferenceOrEmail}/orders", operation_id="getCustomerOrders",
            tags=["Customer"], summary="Gets a customer's finalized orders, newest first",
            response_model=list[odto.OrderDto])
async def customer_orders(customerReferenceOrEmail: str,  # noqa: N803
                          ctx: ShapedCtx) -> Response:
    found = await ctx.container.orders.customer_orders(ctx.config, customerReferenceOrEmail)
    view = OrderView(View(ctx.config), ctx.shape.expand)
    return JsonResponse([apply_fields(view.order(p), ctx.shape.fields) for p in found])
