"""Cart and order operations (tag "Order") and a customer's orders (tag "Customer")."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Request

from kasse.api import dto
from kasse.api import order_dto as odto
from kasse.api.deps import PREFIX, ApiKey, Shape, parse_id, session, shape, store_config
from kasse.api.order_view import OrderView
from kasse.api.responses import NOTIFICATIONS, JsonResponse, notifications_header
from kasse.api.serializers import View
from kasse.api.shaping import apply_fields
from kasse.domain import payment_link
from kasse.domain.order import Notice
from kasse.domain.session import Session
from kasse.domain.store import StoreConfig
from kasse.services import order_changes as changes
from kasse.services.orders import AddProduct, LineChange, NewOrder, Orders, PricedOrder

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

Sess = Annotated[Session, Depends(session)]
Config = Annotated[StoreConfig, Depends(store_config)]
ShapeDep = Annotated[Shape, Depends(shape)]
OrderId = Annotated[str, Path(description="The ID of the order", json_schema_extra={
    "format": "uuid"})]
OrderIdOrLink = Annotated[str, Path(
    description="The ID of the order, or a payment link token")]
LineId = Annotated[str, Path(description="The ID of the order line", json_schema_extra={
    "format": "uuid"})]
BundleId = Annotated[str, Path(description="The bundle ID of the bundle order line")]


def _orders(request: Request) -> Orders:
    orders: Orders = request.app.state.orders
    return orders


OrdersDep = Annotated[Orders, Depends(_orders)]


def _respond(priced: PricedOrder, config: StoreConfig, s: Shape, *, mutation: bool = True
             ) -> JsonResponse:
    body = apply_fields(OrderView(View(config), s.expand).order(priced), s.fields)
    headers = notifications_header(priced.notices) if mutation else None
    return JsonResponse(body, headers=headers)


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
async def create_order(config: Config, sess: Sess, s: ShapeDep, orders: OrdersDep,
                       body: Annotated[odto.CreateOrderRequestDto | None, Body()] = None
                       ) -> JsonResponse:
    body = body or odto.CreateOrderRequestDto()
    priced = await orders.create(config, sess, NewOrder(
        currency=body.currency, language=body.language, tax_class=body.taxClass,
        customer_reference=body.customerReference))
    return _respond(priced, config, s)


@router.get("/v1/order/{orderId}", operation_id="getOrderById", tags=["Order"],
            summary="Gets an order by ID", response_model=odto.OrderDto)
async def get_order(request: Request, orderId: OrderIdOrLink, config: Config,  # noqa: N803
                    _: Sess, s: ShapeDep, orders: OrdersDep) -> JsonResponse:
    """An order by id, or the open cart of a payment link (the same path in the contract:
    ``v1/order/{paymentLinkToken}``)."""
    if payment_link.looks_like_link(orderId.strip()):
        priced = await orders.by_payment_link(config, orderId, request.app.state.secret_key)
    else:
        priced = await orders.get(config, parse_id(orderId, "order"))
    return _respond(priced, config, s, mutation=False)


@router.post("/v1/order/{orderId}", operation_id="addProductToOrder", tags=["Order"],
             summary="Adds a product to an order", response_model=odto.OrderDto,
             responses=MUTATION)
async def add_product(orderId: OrderId, body: odto.AddProductRequestDto,  # noqa: N803
                      config: Config, _: Sess, s: ShapeDep, orders: OrdersDep) -> JsonResponse:
    priced = await orders.add_product(config, parse_id(orderId, "order"), _add(body))
    return _respond(priced, config, s)


@router.patch("/v1/order/{orderId}", operation_id="updateOrder", tags=["Order"],
              summary="Updates an order", response_model=odto.OrderDto, responses=MUTATION)
async def update_order(orderId: OrderId, body: odto.UpdateOrderRequestDto,  # noqa: N803
                       config: Config, _: Sess, s: ShapeDep, orders: OrdersDep
                       ) -> JsonResponse:
    priced = await orders.update(config, parse_id(orderId, "order"), _order_change(body))
    return _respond(priced, config, s)


@router.delete("/v1/order/{orderId}", operation_id="deleteOrder", tags=["Order"],
               summary="Deletes an open order (a cart)", responses=MUTATION)
async def delete_order(orderId: OrderId, config: Config, _: Sess,  # noqa: N803
                       orders: OrdersDep) -> JsonResponse:
    order_id = parse_id(orderId, "order")
    await orders.delete(config, order_id)
    notice = Notice("cart deleted", "Success")
    return JsonResponse({"id": str(order_id), "deleted": True},
                        headers=notifications_header([notice]))


# --- order lines ------------------------------------------------------------------------


@router.patch("/v1/order/{orderId}/items", operation_id="updateOrderLines", tags=["Order"],
              summary="Updates several order lines at once (all or nothing)",
              response_model=odto.OrderDto, responses=MUTATION)
async def update_lines(orderId: OrderId,  # noqa: N803
                       body: list[odto.UpdateOrderLineWithIdRequestDto],
                       config: Config, _: Sess, s: ShapeDep, orders: OrdersDep
                       ) -> JsonResponse:
    priced = await orders.update_lines(config, parse_id(orderId, "order"),
                                       [_line_change(item.id, item) for item in body])
    return _respond(priced, config, s)


@router.delete("/v1/order/{orderId}/items", operation_id="deleteAllOrderLines",
               tags=["Order"], summary="Removes every line of an order",
               response_model=odto.OrderDto, responses=MUTATION)
async def delete_lines(orderId: OrderId, config: Config, _: Sess, s: ShapeDep,  # noqa: N803
                       orders: OrdersDep) -> JsonResponse:
    priced = await orders.clear_lines(config, parse_id(orderId, "order"))
    return _respond(priced, config, s)


@router.patch("/v1/order/{orderId}/item/{orderLineId}", operation_id="updateOrderLine",
              tags=["Order"], summary="Updates an order line", response_model=odto.OrderDto,
              responses=MUTATION)
async def update_line(orderId: OrderId, orderLineId: LineId,  # noqa: N803
                      body: odto.UpdateOrderLineRequestDto, config: Config, _: Sess,
                      s: ShapeDep, orders: OrdersDep) -> JsonResponse:
    change = _line_change(parse_id(orderLineId, "order line"), body)
    priced = await orders.update_lines(config, parse_id(orderId, "order"), [change])
    return _respond(priced, config, s)


@router.delete("/v1/order/{orderId}/item/{orderLineId}", operation_id="deleteOrderLine",
               tags=["Order"], summary="Removes an order line", response_model=odto.OrderDto,
               responses=MUTATION)
async def delete_line(orderId: OrderId, orderLineId: LineId, config: Config,  # noqa: N803
                      _: Sess, s: ShapeDep, orders: OrdersDep) -> JsonResponse:
    priced = await orders.remove_line(config, parse_id(orderId, "order"),
                                      parse_id(orderLineId, "order line"))
    return _respond(priced, config, s)


# --- bundles ----------------------------------------------------------------------------


@router.post("/v1/order/{orderId}/bundle/{bundleId}", operation_id="addProductToBundle",
             tags=["Order"], summary="Adds a product to a bundle of an order",
             response_model=odto.OrderDto, responses=MUTATION)
async def add_to_bundle(orderId: OrderId, bundleId: BundleId,  # noqa: N803
                        body: odto.AddProductRequestDto, config: Config, _: Sess,
                        s: ShapeDep, orders: OrdersDep) -> JsonResponse:
    priced = await orders.add_product(config, parse_id(orderId, "order"), _add(body),
                                      into_bundle=bundleId)
    return _respond(priced, config, s)


@router.patch("/v1/order/{orderId}/bundle/{bundleId}/items",
              operation_id="updateBundleOrderLines", tags=["Order"],
              summary="Updates several items of a bundle at once (all or nothing)",
              response_model=odto.OrderDto, responses=MUTATION)
async def update_bundle_lines(orderId: OrderId, bundleId: BundleId,  # noqa: N803
                              body: list[odto.UpdateOrderLineWithIdRequestDto],
                              config: Config, _: Sess, s: ShapeDep, orders: OrdersDep
                              ) -> JsonResponse:
    priced = await orders.update_lines(config, parse_id(orderId, "order"),
                                       [_line_change(item.id, item) for item in body],
                                       bundle_id=bundleId)
    return _respond(priced, config, s)


@router.delete("/v1/order/{orderId}/bundle/{bundleId}/items",
               operation_id="deleteAllBundleOrderLines", tags=["Order"],
               summary="Removes every item of a bundle", response_model=odto.OrderDto,
               responses=MUTATION)
async def delete_bundle_lines(orderId: OrderId, bundleId: BundleId,  # noqa: N803
                              config: Config, _: Sess, s: ShapeDep, orders: OrdersDep
                              ) -> JsonResponse:
    priced = await orders.clear_lines(config, parse_id(orderId, "order"), bundle_id=bundleId)
    return _respond(priced, config, s)


@router.patch("/v1/order/{orderId}/bundle/{bundleId}/item/{orderLineId}",
              operation_id="updateBundleOrderLine", tags=["Order"],
              summary="Updates an item of a bundle", response_model=odto.OrderDto,
              responses=MUTATION)
async def update_bundle_line(orderId: OrderId, bundleId: BundleId,  # noqa: N803
                             orderLineId: LineId, body: odto.UpdateOrderLineRequestDto,  # noqa: N803
                             config: Config, _: Sess, s: ShapeDep, orders: OrdersDep
                             ) -> JsonResponse:
    change = _line_change(parse_id(orderLineId, "order line"), body)
    priced = await orders.update_lines(config, parse_id(orderId, "order"), [change],
                                       bundle_id=bundleId)
    return _respond(priced, config, s)


@router.delete("/v1/order/{orderId}/bundle/{bundleId}/item/{orderLineId}",
               operation_id="deleteBundleOrderLine", tags=["Order"],
               summary="Removes an item of a bundle", response_model=odto.OrderDto,
               responses=MUTATION)
async def delete_bundle_line(orderId: OrderId, bundleId: BundleId,  # noqa: N803
                             orderLineId: LineId, config: Config, _: Sess,  # noqa: N803
                             s: ShapeDep, orders: OrdersDep) -> JsonResponse:
    priced = await orders.remove_line(config, parse_id(orderId, "order"),
                                      parse_id(orderLineId, "order line"), bundle_id=bundleId)
    return _respond(priced, config, s)


# --- customer -------------------------------------------------------------------------


@router.get("/v1/customer/{customerReferenceOrEmail}/orders", operation_id="getCustomerOrders",
            tags=["Customer"], summary="Gets a customer's finalized orders, newest first",
            response_model=list[odto.OrderDto])
async def customer_orders(customerReferenceOrEmail: str, config: Config,  # noqa: N803
                          s: ShapeDep, orders: OrdersDep) -> JsonResponse:
    found = await orders.customer_orders(config, customerReferenceOrEmail)
    view = OrderView(View(config), s.expand)
    return JsonResponse([apply_fields(view.order(p), s.fields) for p in found])
