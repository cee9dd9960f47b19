"""Actions on a placed order: its status, notes and tags, capture, a payment recorded by
hand, refunds, cancel, and shipments.

Each takes an ``Idempotency-Key`` (a retry acts once) and, optionally, ``If-Match`` with
the order's ETag (a stale one is a 412), and answers the order summary with the record it
made and its new ETag. An order of a store the token may not act on is not found.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Path, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from starlette.responses import Response

from kasse.api.ids import ORDER
from kasse.api.management import MANAGEMENT_PREFIX
from kasse.api.management.actions import Action, ActionDep
from kasse.api.management.auth import allowed
from kasse.api.management.order_answers import answer
from kasse.api.state import app_state
from kasse.domain.access import Permission, Principal
from kasse.domain.placed_order import LineQuantity
from kasse.domain.refunds import RefundRequest
from kasse.domain.store import StoreConfig
from kasse.services.order_actions import Done
from kasse.services.order_management import OrderManagement

router = APIRouter(prefix=MANAGEMENT_PREFIX, tags=["Order actions"])

OrderId = Annotated[UUID, ORDER.validator, Path(alias="orderId", description="The order's id")]


def _decimal(value: Any) -> Any:
    """A decimal given as a string ("12.50") or a JSON number, never a boolean."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("must be a decimal number, as a string (\"12.50\") or a number")
    try:
        parsed = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("must be a decimal number, e.g. \"12.50\"") from None
    if not parsed.is_finite():
        raise ValueError("must be a finite number")
    return parsed


DecimalText = Annotated[Decimal, BeforeValidator(_decimal),
                        WithJsonSchema({"type": "string", "format": "decimal",
                                        "examples": ["12.50"]})]


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineBody(ActionBody):
    lineId: UUID = Field(description="A top-level line of the order (a bundle's line, not "
                                     "its items)")
    quantity: DecimalText


def _lines(given: list[LineBody] | None) -> tuple[LineQuantity, ...] | None:
    if given is None:
        return None
    return tuple(LineQuantity(line.lineId, line.quantity) for line in given)


class StatusBody(ActionBody):
    status: str = Field(max_length=200, description="One of the store's order statuses, "
                                                    "by id or alias")


class NoteBody(ActionBody):
    body: str = Field(max_length=20000, description="Up to 5000 printable characters")


class TagsBody(ActionBody):
    add: list[str] = Field(default_factory=list, max_length=100)
    remove: list[str] = Field(default_factory=list, max_length=100)


class ReplaceTagsBody(ActionBody):
    tags: list[str] = Field(max_length=100)


class CaptureBody(ActionBody):
    amount: DecimalText | None = Field(None, description="Default: all that was authorized")


class PaymentBody(ActionBody):
    amount: DecimalText | None = Field(None, description="Default: the order's amount due")
    reference: str = Field(max_length=1000, description="The payment's reference, e.g. "
                                                         "the bank transfer's")


class RefundBody(ActionBody):
    amount: DecimalText | None = Field(
        None, description="Default: what the lines cost, or without lines all that is left")
    lines: list[LineBody] | None = Field(None, min_length=1, max_length=500)
    reason: str | None = Field(None, max_length=2000)
    restock: bool = Field(False, description="Put the lines' units back into stock")
    manual: bool = Field(False, description="Record a refund made outside kasse instead "
                                            "of asking the payment provider")


class CancelBody(ActionBody):
    reason: str | None = Field(None, max_length=2000)
    restock: bool = Field(True, description="Put the units not shipped back into stock")


class FulfilmentBody(ActionBody):
    lines: list[LineBody] | None = Field(None, min_length=1, max_length=500,
                                         description="Default: everything left to ship")
    carrier: str | None = Field(None, max_length=1000)
    trackingNumber: str | None = Field(None, max_length=1000)  # noqa: N815
    trackingUrl: str | None = Field(None, max_length=10000)  # noqa: N815


Use = Callable[[OrderManagement, StoreConfig, UUID, dict[str, Any]], Awaitable[Done]]
"""What an action asks of the order management, given the order's store and id and who
acts on which version (``actor``, ``expected_version``)."""


async def _act(request: Request, principal: Principal, order_id: UUID,
               permission: Permission, action: Action, use: Use, *,
               record: str | None = None, status: int = 200) -> Response:
    """Run ``use`` once per Idempotency-Key on an order the principal may act on, and
    answer the order summary with the record it made under ``record``."""
    async def work() -> dict[str, Any]:
        management = app_state(request).container.order_management
        config = await management.store_for(principal, order_id)
        principal.require(permission, config.store.id)
        who = {"actor": action.actor, "expected_version": action.expected_version}
        return answer(await use(management, config, order_id, who), config, record)

    return await action.run(work, status=status)


@router.post("/orders/{orderId}/status", summary="Move the order to another status")
async def change_status(request: Request, order: OrderId, body: StatusBody,
                        principal: Annotated[Principal, allowed(Permission.ORDERS_EDIT)],
                        action: ActionDep) -> Response:
    return await _act(request, principal, order, Permission.ORDERS_EDIT, action,
                      lambda m, c, o, who: m.change_status(c, o, body.status, **who),
                      record="statusChange")


@router.post("/orders/{orderId}/notes", status_code=201, summary="Add a staff note")
async def add_note(request: Request, order: OrderId, body: NoteBody,
                   principal: Annotated[Principal, allowed(Permission.ORDERS_NOTE)],
                   action: ActionDep) -> Response:
    return await _act(request, principal, order, Permission.ORDERS_NOTE, action,
                      lambda m, c, o, who: m.add_note(c, o, body.body, **who),
                      record="note", status=201)


@router.post("/orders/{orderId}/tags", summary="Add and remove tags")
async def change_tags(request: Request, order: OrderId, body: TagsBody,
                      principal: Annotated[Principal, allowed(Permission.ORDERS_EDIT)],
                      action: ActionDep) -> Response:
    return await _act(request, principal, order, Permission.ORDERS_EDIT, action,
                      lambda m, c, o, who: m.change_tags(c, o, add=body.add, remove=body.remove,
                                                         **who))


@router.put("/orders/{orderId}/tags", summary="Replace the tags")
async def replace_tags(request: Request, order: OrderId, body: ReplaceTagsBody,
                       principal: Annotated[Principal, allowed(Permission.ORDERS_EDIT)],
                       action: ActionDep) -> Response:
    return await _act(request, principal, order, Permission.ORDERS_EDIT, action,
                      lambda m, c, o, who: m.change_tags(c, o, replace=body.tags, **who))


@router.post("/orders/{orderId}/capture", summary="Capture the authorized payment")
async def capture(request: Request, order: OrderId,
                  principal: Annotated[Principal, allowed(Permission.PAYMENTS)],
                  action: ActionDep,
                  body: Annotated[CaptureBody | None, Body()] = None) -> Response:
    return await _act(request, principal, order, Permission.PAYMENTS, action,
                      lambda m, c, o, who: m.capture(c, o, body.amount if body else None, **who),
                      record="payment")


@router.post("/orders/{orderId}/payments", status_code=201,
             summary="Record a payment made outside kasse (mark an invoice paid)")
async def record_payment(request: Request, order: OrderId, body: PaymentBody,
                         principal: Annotated[Principal, allowed(Permission.PAYMENTS)],
                         action: ActionDep) -> Response:
    return await _act(request, principal, order, Permission.PAYMENTS, action,
                      lambda m, c, o, who: m.record_payment(c, o, body.amount, body.reference,
                                                           **who),
                      record="payment", status=201)


@router.post("/orders/{orderId}/refunds", status_code=201,
             summary="Refund by amount or by lines (never more than was captured)")
async def refund(request: Request, order: OrderId,
                 principal: Annotated[Principal, allowed(Permission.PAYMENTS)],
                 action: ActionDep,
                 body: Annotated[RefundBody | None, Body()] = None) -> Response:
    given = body or RefundBody()
    wanted = RefundRequest(amount=given.amount, lines=_lines(given.lines) or (),
                           reason=given.reason, restock=given.restock, manual=given.manual)

    return await _act(request, principal, order, Permission.PAYMENTS, action,
                      lambda m, c, o, who: m.refund(c, o, wanted, **who),
                      record="refund", status=201)


@router.post("/orders/{orderId}/cancel",
             summary="Cancel the order: void or refund its payment, restock its lines")
async def cancel(request: Request, order: OrderId,
                 principal: Annotated[Principal, allowed(Permission.PAYMENTS)],
                 action: ActionDep,
                 body: Annotated[CancelBody | None, Body()] = None) -> Response:
    given = body or CancelBody()

    return await _act(request, principal, order, Permission.PAYMENTS, action,
                      lambda m, c, o, who: m.cancel(c, o, reason=given.reason,
                                                    restock=given.restock, **who),
                      record="payment")


@router.post("/orders/{orderId}/fulfilments", status_code=201,
             summary="Ship some or all of the order's lines")
async def fulfil(request: Request, order: OrderId,
                 principal: Annotated[Principal, allowed(Permission.FULFIL)],
                 action: ActionDep,
                 body: Annotated[FulfilmentBody | None, Body()] = None) -> Response:
    given = body or FulfilmentBody()

    return await _act(request, principal, order, Permission.FULFIL, action,
                      lambda m, c, o, who: m.fulfil(
                          c, o, _lines(given.lines), carrier=given.carrier,
                          tracking_number=given.trackingNumber, tracking_url=given.trackingUrl,
                          **who),
                      record="fulfilment", status=201)
