"""The one content delivery operation of the contract (tag "Content"): a product variant by
its attribute combination. kasse has no CMS, so the product itself is the content item."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, ConfigDict

from kasse.api import dto
from kasse.api.context import RequestContext, context
from kasse.api.deps import ApiKey
from kasse.api.ids import ProductId
from kasse.api.responses import JsonResponse
from kasse.api.serializers import number
from kasse.api.wire import shape
from kasse.services.catalog import variant_by_attributes

router = APIRouter(prefix="/umbraco/delivery/api", tags=["Content"], dependencies=[ApiKey],
                   responses={400: {"model": dto.ProblemDetails, "description": "Bad Request"},
                              404: {"model": dto.ProblemDetails, "description": "Not Found"}})


class ApiElementModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: UUID
    contentType: str
    properties: dict[str, Any]


class ProductVariantItemDto(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: ApiElementModel | None = None
    attributes: dict[str, str] | None = None
    isDefault: bool | None = None


_VARIANT_ITEM = shape(ProductVariantItemDto)
_ELEMENT = shape(ApiElementModel)


@router.get("/v1/content/item/{id}/variant", operation_id="getVariant",
            response_model=ProductVariantItemDto,
            summary="A product variant by its attribute combination")
async def get_variant(
    id: ProductId,  # noqa: A002 (the contract's name)
    ctx: Annotated[RequestContext, context()],
    attribute: Annotated[list[str], Query(
        description="The attribute combination, e.g. `size:m` (repeatable)")],
    expand: Annotated[str | None, Query(description="Accepted for compatibility")] = None,
    accept_language: Annotated[str | None, Header(alias="Accept-Language")] = None,
    accept_segment: Annotated[str | None, Header(alias="Accept-Segment")] = None,
    preview: Annotated[bool | None, Header(alias="Preview")] = None,
    start_item: Annotated[str | None, Header(alias="Start-Item")] = None,
) -> JsonResponse:
    kasse = ctx.container
    product, variant = await variant_by_attributes(kasse.storage, id, attribute)
    config = await ctx.store(str(product.store_id))
    prices = {c.code: number(product.price_in(c.id, variant.reference))
              for c in config.currencies if product.price_in(c.id, variant.reference) is not None}
    return JsonResponse(_VARIANT_ITEM(
        content=_ELEMENT(
            id=str(variant.id),
            contentType="productVariant",
            properties={
                "productReference": product.reference,
                "productVariantReference": variant.reference,
                "sku": variant.sku,
                "name": variant.name,
                "stock": number(variant.stock),
                "prices": prices,
                **dict(variant.properties),
            },
        ),
        attributes={alias: value_alias for alias, _, value_alias, _ in variant.attributes},
        isDefault=product.variants[0].id == variant.id,
    ))
