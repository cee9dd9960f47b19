"""Store, country, currency, payment method, shipping method and product reads."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query

from kasse.api import dto
from kasse.api.context import (
    ALLOWED_IN,
    SESSION,
    SESSION_HEADERS,
    SHAPE,
    STORE,
    RequestContext,
    context,
)
from kasse.api.deps import PREFIX, ApiKey
from kasse.api.problems import ApiProblem
from kasse.api.responses import JsonResponse
from kasse.api.serializers import View, number
from kasse.api.shaping import Shape, apply_fields
from kasse.api.wire import shape
from kasse.domain.errors import NotFound
from kasse.domain.pricing import Price, PricingPolicy
from kasse.domain.session import Session, resolve_session
from kasse.domain.store import Country, PaymentMethod, Region, ShippingMethod, StoreConfig
from kasse.services import catalog

router = APIRouter(prefix=PREFIX, dependencies=[ApiKey], responses={
    400: {"model": dto.ProblemDetails, "description": "Bad Request"},
    401: {"model": dto.ProblemDetails, "description": "Missing or wrong Api-Key"},
    404: {"model": dto.ProblemDetails, "description": "Not Found"},
})

Ctx = Annotated[RequestContext, context(STORE, SESSION, SHAPE)]
"""What a catalog read reads: the store, the session (its prices), the response shape."""
ListCtx = Annotated[RequestContext, context(STORE, SESSION, SHAPE, ALLOWED_IN)]
"""A list's, with its ``filter``."""
Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: {"model": dto.ProblemDetails, "description": "Not Found"}}
BAD: Responses = {400: {"model": dto.ProblemDetails, "description": "Bad Request"}}


def respond(body: Any, s: Shape, headers: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse(apply_fields(body, s.fields), headers=headers)


def _country(config: StoreConfig, id_or_code: str) -> Country:
    country = config.country(id_or_code)
    if country is None:
        raise NotFound(f"the store has no country {id_or_code!r}")
    return country


def _region(country: Country, id_or_code: str) -> Region:
    region = country.region(id_or_code)
    if region is None:
        raise NotFound(f"{country.code} has no region {id_or_code!r}")
    return region


def _at(sess: Session, country: Country, region: Region | None = None) -> Session:
    """Price a country's methods for that country unless the session says otherwise."""
    if sess.shipping_country is not None:
        return sess
    currency = sess.currency
    if not sess.currency_from_header:
        currency = sess.config.currency_by_id(country.default_currency_id) or currency
    return replace(sess, shipping_country=country, shipping_region=region, currency=currency)


def _filter_country(config: StoreConfig, code: str | None) -> Country | None:
    if code is None:
        return None
    country = config.country(code)
    if country is None:
        raise ApiProblem(400, f"filter allowedInCountry: the store has no country {code!r}",
                         "invalid-filter")
    return country


def _payment_methods(sess: Session, methods: list[PaymentMethod], s: Shape, v1: bool
                     ) -> list[dict[str, Any]]:
    view = View(sess.config)
    pricing = sess.pricing()
    currency_id = pricing.currency_id
    return [
        view.payment_method(m, s.expand, pricing.price(
            m.fee_in(currency_id) if currency_id else None, m.tax_class_id), v1)
        for m in methods
    ]


def _shipping_methods(sess: Session, methods: list[ShippingMethod], s: Shape, v1: bool
                      ) -> list[dict[str, Any]]:
    view = View(sess.config)
    pricing = sess.pricing()
    currency_id = pricing.currency_id
    return [
        view.shipping_method(m, s.expand, pricing.price(
            m.price_in(currency_id) if currency_id else None, m.tax_class_id), v1)
        for m in methods
    ]


# --- store ----------------------------------------------------------------------


@router.get("/v1/store/{idOrAlias}", operation_id="getStoreByIdOrAlias", tags=["Store"],
            summary="Gets a Store by ID or Alias", response_model=dto.StoreDto,
            responses=NOT_FOUND)
async def get_store(idOrAlias: str,  # noqa: N803
                    ctx: Annotated[RequestContext, context(SHAPE, SESSION_HEADERS)]
                    ) -> JsonResponse:
    config = await ctx.store(idOrAlias)  # the path names the store
    resolve_session(config, ctx.session_headers)  # unknown values are reported, as elsewhere
    return respond(View(config).store(config.store, ctx.shape.expand), ctx.shape)


# --- countries --------------------------------------------------------------------


@router.get("/v1/countries", operation_id="searchCountries", tags=["Country"],
            summary="Gets all the Countries in a Store", response_model=list[dto.CountryDto])
async def search_countries(ctx: ListCtx) -> JsonResponse:
    config, s = ctx.config, ctx.shape
    view = View(config)
    only = _filter_country(config, ctx.allowed_in)
    countries = [c for c in config.countries if only is None or c.id == only.id]
    return respond([view.country(c, s.expand) for c in countries], s)


@router.get("/v1/country/{idOrAlias}", operation_id="getCountryByIdOrAlias", tags=["Country"],
            summary="Gets a Country by ID or Alias", response_model=dto.CountryDto,
            responses=NOT_FOUND)
async def get_country(idOrAlias: str, ctx: Ctx) -> JsonResponse:  # noqa: N803
    config, s = ctx.config, ctx.shape
    return respond(View(config).country(_country(config, idOrAlias), s.expand), s)


@router.get("/v1/country/{idOrAlias}/currencies", operation_id="getCurrenciesByCountryIdOrAlias",
            tags=["Country"], summary="Gets the Currencies allowed in a Country", deprecated=True,
            response_model=list[dto.CurrencyDto], responses=NOT_FOUND)
async def country_currencies(idOrAlias: str, ctx: Ctx) -> JsonResponse:  # noqa: N803
    config, s = ctx.config, ctx.shape
    country = _country(config, idOrAlias)
    view = View(config)
    return respond([view.currency(c, s.expand) for c in config.currencies_in(country)], s)


@router.get("/v1/country/{idOrAlias}/paymentmethods",
            operation_id="getPaymentMethodsByCountryIdOrAlias", tags=["Country"],
            summary="Gets the Payment Methods allowed in a Country", deprecated=True,
            response_model=list[dto.PaymentMethodDto], responses=NOT_FOUND)
async def country_payment_methods(idOrAlias: str, ctx: Ctx) -> JsonResponse:  # noqa: N803
    country = _country(ctx.config, idOrAlias)
    return respond(_payment_methods(_at(ctx.session, country),
                                    ctx.config.payment_methods_in(country), ctx.shape, True),
                   ctx.shape)


@router.get("/v1/country/{idOrAlias}/shippingmethods",
            operation_id="getShippingMethodsByCountryIdOrAlias", tags=["Country"],
            summary="Gets the Shipping Methods allowed in a Country", deprecated=True,
            response_model=list[dto.ShippingMethodDto], responses=NOT_FOUND)
async def country_shipping_methods(idOrAlias: str, ctx: Ctx) -> JsonResponse:  # noqa: N803
    country = _country(ctx.config, idOrAlias)
    return respond(_shipping_methods(_at(ctx.session, country),
                                     ctx.config.shipping_methods_in(country), ctx.shape, True),
                   ctx.shape)


@router.get("/v1/country/{countryIdOrAlias}/region/{regionIdOrAlias}/paymentmethods",
            operation_id="getPaymentMethodsByCountryAndRegionIdOrAlias", tags=["Country"],
            summary="Gets the Payment Methods allowed in a Region", deprecated=True,
            response_model=list[dto.PaymentMethodDto], responses=NOT_FOUND)
async def region_payment_methods(countryIdOrAlias: str, regionIdOrAlias: str,  # noqa: N803
                                 ctx: Ctx) -> JsonResponse:
    country = _country(ctx.config, countryIdOrAlias)
    region = _region(country, regionIdOrAlias)
    return respond(_payment_methods(_at(ctx.session, country, region),
                                    ctx.config.payment_methods_in(country, region), ctx.shape,
                                    True), ctx.shape)


@router.get("/v1/country/{countryIdOrAlias}/region/{regionIdOrAlias}/shippingmethods",
            operation_id="getShippingMethodsByCountryAndRegionIdOrAlias", tags=["Country"],
            summary="Gets the Shipping Methods allowed in a Region", deprecated=True,
            response_model=list[dto.ShippingMethodDto], responses=NOT_FOUND)
async def region_shipping_methods(countryIdOrAlias: str, regionIdOrAlias: str,  # noqa: N803
                                  ctx: Ctx) -> JsonResponse:
    country = _country(ctx.config, countryIdOrAlias)
    region = _region(country, regionIdOrAlias)
    return respond(_shipping_methods(_at(ctx.session, country, region),
                                     ctx.config.shipping_methods_in(country, region),
                                     ctx.shape, True), ctx.shape)


# --- currencies -------------------------------------------------------------------


@router.get("/v1/currencies", operation_id="searchCurrencies", tags=["Currency"],
            summary="Gets all the Currencies in a Store", response_model=list[dto.CurrencyDto])
async def search_currencies(ctx: ListCtx) -> JsonResponse:
    config, s = ctx.config, ctx.shape
    only = _filter_country(config, ctx.allowed_in)
    currencies = config.currencies_in(only) if only else list(config.currencies)
    view = View(config)
    return respond([view.currency(c, s.expand) for c in currencies], s)


@router.get("/v1/currency/{idOrAlias}", operation_id="getCurrencyByIdOrAlias", tags=["Currency"],
            summary="Gets a Currency by ID or Alias", response_model=dto.CurrencyDto,
            responses=NOT_FOUND)
async def get_currency(idOrAlias: str, ctx: Ctx) -> JsonResponse:  # noqa: N803
    currency = ctx.config.currency(idOrAlias)
    if currency is None:
        raise NotFound(f"the store has no currency {idOrAlias!r}")
    return respond(View(ctx.config).currency(currency, ctx.shape.expand), ctx.shape)


# --- payment methods --------------------------------------------------------------


def _pm_list(ctx: RequestContext) -> list[PaymentMethod]:
    only = _filter_country(ctx.config, ctx.allowed_in)
    return ctx.config.payment_methods_in(only) if only else list(ctx.config.payment_methods)


def _pm(config: StoreConfig, id_or_alias: str) -> PaymentMethod:
    method = config.payment_method(id_or_alias)
    if method is None:
        raise NotFound(f"the store has no payment method {id_or_alias!r}")
    return method


@router.get("/v1/paymentmethods", operation_id="searchPaymentMethods", tags=["Payment Method"],
            summary="Gets all the Payment Methods in a Store", deprecated=True,
            response_model=list[dto.PaymentMethodDto])
async def search_payment_methods(ctx: ListCtx) -> JsonResponse:
    return respond(_payment_methods(ctx.session, _pm_list(ctx), ctx.shape, True), ctx.shape)


@router.get("/v2/paymentmethods", operation_id="searchPaymentMethodsV2", tags=["Payment Method"],
            summary="Gets all the Payment Methods in a Store",
            response_model=list[dto.PaymentMethodV2Dto])
async def search_payment_methods_v2(ctx: ListCtx) -> JsonResponse:
    return respond(_payment_methods(ctx.session, _pm_list(ctx), ctx.shape, False), ctx.shape)


@router.get("/v1/paymentmethod/{idOrAlias}", operation_id="getPaymentMethodByIdOrAlias",
            tags=["Payment Method"], summary="Get a Payment Method by ID or Alias",
            deprecated=True, response_model=dto.PaymentMethodDto, responses=NOT_FOUND)
async def get_payment_method(idOrAlias: str, ctx: Ctx) -> JsonResponse:  # noqa: N803
    method = _pm(ctx.config, idOrAlias)
    return respond(_payment_methods(ctx.session, [method], ctx.shape, True)[0], ctx.shape)


@router.get("/v2/paymentmethod/{idOrAlias}", operation_id="getPaymentMethodByIdOrAliasV2",
            tags=["Payment Method"], summary="Get a Payment Method by ID or Alias",
            response_model=dto.PaymentMethodV2Dto, responses=NOT_FOUND)
async def get_payment_method_v2(idOrAlias: str, ctx: Ctx) -> JsonResponse:  # noqa: N803
    method = _pm(ctx.config, idOrAlias)
    return respond(_payment_methods(ctx.session, [method], ctx.shape, False)[0], ctx.shape)


# --- shipping methods -------------------------------------------------------------


def _sm_list(ctx: RequestContext) -> list[ShippingMethod]:
    only = _filter_country(ctx.config, ctx.allowed_in)
    return ctx.config.shipping_methods_in(only) if only else list(ctx.config.shipping_methods)


def _sm(config: StoreConfig, id_or_alias: str) -> ShippingMethod:
    method = config.shipping_method(id_or_alias)
    if method is None:
        raise NotFound(f"the store has no shipping method {id_or_alias!r}")
    return method


@router.get("/v1/shippingmethods", operation_id="searchShippingMethods",
            tags=["Shipping Method"], summary="Gets all the Shipping Methods in a Store",
            deprecated=True, response_model=list[dto.ShippingMethodDto])
async def search_shipping_methods(ctx: ListCtx) -> JsonResponse:
    return respond(_shipping_methods(ctx.session, _sm_list(ctx), ctx.shape, True), ctx.shape)


@router.get("/v2/shippingmethods", operation_id="searchShippingMethodsV2",
            tags=["Shipping Method"], summary="Gets all the Shipping Methods in a Store",
            response_model=list[dto.ShippingMethodV2Dto])
async def search_shipping_methods_v2(ctx: ListCtx) -> JsonResponse:
    return respond(_shipping_methods(ctx.session, _sm_list(ctx), ctx.shape, False), ctx.shape)


@router.get("/v1/shippingmethod/{idOrAlias}", operation_id="getShippingMethodByIdOrAlias",
            tags=["Shipping Method"], summary="Get a Shipping Method by ID or Alias",
            deprecated=True, response_model=dto.ShippingMethodDto, responses=NOT_FOUND)
async def get_shipping_method(idOrAlias: str, ctx: Ctx) -> JsonResponse:  # noqa: N803
    method = _sm(ctx.config, idOrAlias)
    return respond(_shipping_methods(ctx.session, [method], ctx.shape, True)[0], ctx.shape)


@router.get("/v2/shippingmethod/{idOrAlias}", operation_id="getShippingMethodByIdOrAliasV2",
            tags=["Shipping Method"], summary="Get a Shipping Method by ID or Alias",
            response_model=dto.ShippingMethodV2Dto, responses=NOT_FOUND)
async def get_shipping_method_v2(idOrAlias: str, ctx: Ctx) -> JsonResponse:  # noqa: N803
    method = _sm(ctx.config, idOrAlias)
    return respond(_shipping_methods(ctx.session, [method], ctx.shape, False)[0], ctx.shape)


# --- products ---------------------------------------------------------------------


_ADJUSTED_PRODUCT_PRICE = shape(dto.AdjustedProductPriceDto)
_ADJUSTED_PRICE = shape(dto.AdjustedPriceDto)


def _adjusted(view: View, pricing: PricingPolicy, price: Price | None, quantity: Any
              ) -> dict[str, Any] | None:
    """Adjusted prices without discounts: the unit and line price as they stand."""
    if price is None:
        return None
    line = pricing.line_price(price, quantity)
    zero = Price.zero(price.currency_id)

    def adjusted(p: Price) -> dict[str, Any]:
        return _ADJUSTED_PRICE(adjustments=[], withoutAdjustments=view.price(p),
                               adjustment=view.price(zero), value=view.price(p))

    return _ADJUSTED_PRODUCT_PRICE(
        unitPrice=view.price(price), quantity=number(quantity),
        adjustedUnitPrice=adjusted(price), adjustedLineTotalPrice=adjusted(line),
        effectiveUnitPrice=view.price(price), totalDiscountPerUnit=view.price(zero),
        totalDiscountPercentage=0, discountCodes=[], discounts=[])


@router.get(
    "/v1/products", operation_id="getProducts", tags=["Product"],
    summary="Gets one or more Products by product reference",
    description=(
        "With `productReference`: the named products or product variants (`product:variant`)."
        "<br /><br />kasse extension: without `productReference`, a page of the store's "
        "catalog in catalog order (`skip`, `take`, text filter `q`, `includeVariants`); the "
        "total number of matches is in the `X-Total-Count` header."),
    response_model=list[dto.ProductDto], responses={**NOT_FOUND, **BAD})
async def get_products(
    ctx: Ctx,
    productReference: Annotated[list[str] | None, Query(  # noqa: N803
        description="One or more product references of products / product variants to "
                    "retrieve (`product` or `product:variant`).")] = None,
    CalculateAdjustedPrices: Annotated[bool | None, Query()] = None,  # noqa: N803
    AdjustedPriceCalculationQuantity: Annotated[float | None, Query()] = None,  # noqa: N803
    AdjustedPriceCalculationDiscountCodes: Annotated[list[str] | None, Query()] = None,  # noqa: N803
    AdjustedPriceCalculationPriceCacheDuration: Annotated[int | None, Query()] = None,  # noqa: N803
    AdjustedPriceCalculationTempOrderCacheDuration: Annotated[int | None, Query()] = None,  # noqa: N803
    skip: Annotated[int, Query(description="kasse extension: catalog page offset")] = 0,
    take: Annotated[int, Query(description="kasse extension: catalog page size (1-100)")] = 50,
    q: Annotated[str | None, Query(max_length=200,
                                   description="kasse extension: text in name, SKU or reference")
                 ] = None,
    includeVariants: Annotated[bool, Query(  # noqa: N803
        description="kasse extension: list each product's variants after it")] = False,
) -> JsonResponse:
    sess, s = ctx.session, ctx.shape
    storage = ctx.container.storage
    headers: dict[str, str] | None = None
    if productReference:
        items = await catalog.get_products(storage, sess.config, productReference)
    else:
        items, total = await catalog.browse_products(storage, sess.config, skip=skip, take=take,
                                                     text=q, include_variants=includeVariants)
        headers = {"X-Total-Count": str(total)}
    quantity = catalog.adjusted_quantity(AdjustedPriceCalculationQuantity)
    view = View(sess.config)
    pricing = sess.pricing()
    body = []
    for item in items:
        price = pricing.product_price(item.product, item.variant)
        tax_class = pricing.tax_class(product=item.product.tax_class_id)
        adjusted = (partial(_adjusted, view, pricing, price, quantity)
                    if CalculateAdjustedPrices else None)
        body.append(view.product(item.product, item.variant, price, tax_class, s.expand,
                                 adjusted))
    return respond(body, s, headers)
