"""Request dependencies: Api-Key, Store, session headers, fields/expand."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Request

from kasse.api.problems import ApiProblem
from kasse.api.shaping import Tree, parse_tree
from kasse.api.state import app_state
from kasse.domain.errors import NotFound
from kasse.domain.session import Session, SessionHeaders, resolve_session
from kasse.domain.store import StoreConfig

PREFIX = "/umbraco/commerce/storefront/api"
"""Where the Storefront API lives."""


def parse_id(value: str, what: str) -> UUID:
    """A path id; one that is not a UUID names nothing, so it is "not found"."""
    try:
        return UUID(value.strip())
    except ValueError:
        raise NotFound(f"no {what} with id {value.strip()[:100]!r}") from None


@dataclass(frozen=True, slots=True)
class Param:
    """A header or query parameter a dependency reads, as the OpenAPI document lists it."""

    name: str
    location: str  # "header" or "query"
    description: str | None = None
    required: bool = False

    def openapi(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "in": self.location,
                                "required": self.required, "schema": {"type": "string"}}
        if self.description:
            body["description"] = self.description
        return body


_DOCUMENTED: dict[Callable[..., Any], tuple[Param, ...]] = {}

_F = TypeVar("_F", bound=Callable[..., Any])


def reads(*params: Param) -> Callable[[_F], _F]:
    """Declare the parameters a dependency reads straight from the request.

    The hot dependencies read raw headers and query strings instead of declaring a
    FastAPI parameter each: resolving a dozen declared parameters cost more CPU than the
    rest of a cart read. The OpenAPI document still lists them (``documented_params``).
    """

    def register(fn: _F) -> _F:
        _DOCUMENTED[fn] = params
        return fn

    return register


def documented_params(fn: Callable[..., Any]) -> tuple[Param, ...]:
    return _DOCUMENTED.get(fn, ())


API_KEY = Param("Api-Key", "header", "API key specified through configuration to authorize "
                "access to the API.", required=True)
STORE = Param("Store", "header", "The ID or the alias of the store", required=True)


@reads(API_KEY)
async def require_api_key(request: Request) -> None:
    """401 unless the header matches one of the configured keys (constant-time)."""
    keys = app_state(request).container.api_keys
    api_key = request.headers.get("api-key")
    if not api_key:
        raise ApiProblem(401, "the Api-Key header is required", "api-key-missing")
    supplied = api_key.encode("utf-8", "surrogateescape")
    matched = False
    for key in keys:  # compare against every key so timing does not tell which matched
        matched |= hmac.compare_digest(supplied, key)
    if not matched:
        raise ApiProblem(401, "the Api-Key header does not match a configured key",
                         "api-key-invalid")


@reads(STORE)
async def store_config(request: Request) -> StoreConfig:
    store = request.headers.get("store")
    if store is None or not store.strip():
        raise ApiProblem(400, "the Store header is required (a store id or alias)",
                         "store-missing")
    return await app_state(request).container.stores.get(store)


@reads(
    Param("Current-Order", "header",
          "The ID of the current order associated with the current session"),
    Param("Billing-Country", "header", "The ID or alias of the session default billing country"),
    Param("Billing-Region", "header", "The ID or alias of the session default billing region"),
    Param("Shipping-Country", "header",
          "The ID or alias of the session default shipping country"),
    Param("Shipping-Region", "header",
          "The ID or alias of the session default shipping region"),
    Param("Tax-Class", "header", "The ID or alias of the session default tax class"),
    Param("Currency", "header", "The ID or alias of the session currency"),
    Param("Accept-Language", "header", "The ISO culture code of the current session culture"),
    Param("LanguageIsoCode", "query"),
    Param("Customer-Reference", "header",
          "The unique reference for the customer associated with the current session"),
)
async def session_headers(request: Request) -> SessionHeaders:
    h = request.headers
    return SessionHeaders(
        currency=h.get("currency"), tax_class=h.get("tax-class"),
        billing_country=h.get("billing-country"), billing_region=h.get("billing-region"),
        shipping_country=h.get("shipping-country"), shipping_region=h.get("shipping-region"),
        language=request.query_params.get("LanguageIsoCode") or h.get("accept-language"),
        customer_reference=h.get("customer-reference"), current_order=h.get("current-order"))


async def session(
    config: Annotated[StoreConfig, Depends(store_config)],
    headers: Annotated[SessionHeaders, Depends(session_headers)],
) -> Session:
    """The session defaults resolved against the store (unknown values are a 400)."""
    return resolve_session(config, headers)


@dataclass(frozen=True, slots=True)
class Shape:
    fields: Tree
    expand: Tree


@reads(
    Param("fields", "query", "Limit the properties returned in the response, e.g. "
                             "`orderLines[sku,quantity],totalPrice`"),
    Param("expand", "query", "Defines the properties that should be expanded in the "
                             "response, e.g. `$prices,paymentInfo[country]`"),
)
async def shape(request: Request) -> Shape:
    query = request.query_params
    return Shape(fields=parse_tree(query.get("fields"), "fields"),
                 expand=parse_tree(query.get("expand"), "expand"))


@reads(Param("filter", "query",
             "Filter the returned list of items, e.g. `allowedInCountry:GB`"))
async def list_filter(request: Request) -> str | None:
    """The country code of ``allowedInCountry:XX``; ``None`` for no filter."""
    filter = request.query_params.get("filter")  # noqa: A001 (the contract's name)
    if filter is None or not filter.strip():
        return None
    name, _, value = filter.strip().partition(":")
    if name.strip().lower() != "allowedincountry" or not value.strip():
        raise ApiProblem(400, f"unknown filter {filter.strip()!r}; supported: "
                              "allowedInCountry:<country id or code>", "invalid-filter")
    return value.strip()


ApiKey = Depends(require_api_key)
