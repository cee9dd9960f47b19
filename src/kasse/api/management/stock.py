"""Stock in the management API: levels per product and variant (on hand, held by
checkouts, available), adjustments with a reason (a delivery received, a count, breakage,
a return), and each item's ledger.

An item is ``{reference}``: a product's reference, or ``product:variant`` for stock kept
per variant (references never hold a ``:``), as in ``kasse stock``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from kasse.api.management import MANAGEMENT_PREFIX
from kasse.api.management.actions import ActionDep
from kasse.api.management.auth import allowed
from kasse.api.management.paging import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from kasse.api.responses import JsonResponse
from kasse.api.state import app_state
from kasse.domain.access import Permission, Principal
from kasse.domain.events import units
from kasse.domain.stock import LedgerEntry, StockLevel
from kasse.domain.store import StoreConfig
from kasse.domain.webhooks import timestamp
from kasse.services.stock import StockBook

router = APIRouter(prefix=f"{MANAGEMENT_PREFIX}/stores/{{store}}/stock", tags=["Stock"])


def _decimal_input(value: Any) -> Any:
    """A decimal string or a JSON number; never a boolean (which Python counts as 1)."""
    if isinstance(value, bool):
        raise ValueError("must be a number or a decimal string")
    if isinstance(value, float):  # read back as it was written, not as binary
        return Decimal(repr(value))
    return value


Units = Annotated[Decimal, BeforeValidator(_decimal_input),
                  WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}]})]


class AdjustmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    change: Units | None = Field(None, description="Units to add (+) or take away (-)")
    setTo: Units | None = Field(  # noqa: N815 (the JSON name)
        None, description="Units counted: on hand becomes exactly this; the ledger entry "
                          "records the difference")
    reason: str = Field(description="received, counted, damaged, returned or other")
    note: str | None = Field(None, description="Up to 300 characters (a delivery number …)")


def level_json(level: StockLevel) -> dict[str, Any]:
    return {"reference": level.reference, "productReference": level.product_reference,
            "variantReference": level.variant_reference, "sku": level.sku,
            "name": level.name, "onHand": units(level.on_hand),
            "reserved": units(level.reserved), "available": units(level.available),
            "ledgerTotal": units(level.ledger)}


def entry_json(entry: LedgerEntry) -> dict[str, Any]:
    return {"id": str(entry.id), "at": timestamp(entry.at), "change": units(entry.change),
            "reason": entry.cause, "note": entry.note, "actor": entry.actor,
            "orderId": str(entry.order_id) if entry.order_id else None,
            "orderNumber": entry.order_number}


async def _store(request: Request, principal: Principal, store: str,
                 permission: Permission) -> tuple[StoreConfig, StockBook]:
    container = app_state(request).container
    config = await container.stores.get(store)
    principal.require(permission, config.store.id)
    return config, StockBook(container.storage)


Reader = Annotated[Principal, allowed(Permission.STOCK_READ)]
Adjuster = Annotated[Principal, allowed(Permission.STOCK_ADJUST)]


@router.get("", summary="Stock of every tracked product and variant")
async def stock_levels(request: Request, store: str, principal: Reader) -> JsonResponse:
    config, book = await _store(request, principal, store, Permission.STOCK_READ)
    levels = await book.levels(config)
    return JsonResponse({"storeId": str(config.store.id),
                         "items": [level_json(level) for level in levels]})


@router.post("/{reference:path}/adjustments", status_code=201,
             summary="Adjust an item's stock on hand with a reason, or set what was counted")
async def adjust_stock(request: Request, store: str, reference: str,
                       body: AdjustmentRequest, principal: Adjuster,
                       action: ActionDep) -> Any:
    config, book = await _store(request, principal, store, Permission.STOCK_ADJUST)

    async def work() -> dict[str, Any]:
        done = await book.adjust(config, reference, change=body.change, set_to=body.setTo,
                                 reason=body.reason, note=body.note, actor=action.actor)
        return {"item": level_json(done.level), "entry": entry_json(done.entry)}

    return await action.run(work, status=201)


@router.get("/{reference:path}/ledger", summary="An item's stock ledger, newest first")
async def stock_ledger(request: Request, store: str, reference: str, principal: Reader,
                       cursor: str | None = None,
                       limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT
                       ) -> JsonResponse:
    config, book = await _store(request, principal, store, Permission.STOCK_READ)
    page = await book.ledger(config, reference, before=decode_cursor(cursor), limit=limit)
    last = page.entries[-1] if page.entries and page.more else None
    return JsonResponse({"item": level_json(page.level),
                         "entries": [entry_json(entry) for entry in page.entries],
                         "nextCursor": encode_cursor(last.at, last.id) if last else None})


@router.get("/{reference:path}", summary="One item's stock")
async def stock_level(request: Request, store: str, reference: str,
                      principal: Reader) -> JsonResponse:
    config, book = await _store(request, principal, store, Permission.STOCK_READ)
    return JsonResponse(level_json(await book.level(config, reference)))
