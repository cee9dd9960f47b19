"""Request dependencies: Api-Key, Store, session headers, fields/expand."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Query, Request

from kasse.api.problems import ApiProblem
from kasse.api.shaping import Tree, parse_tree
from kasse.domain.errors import NotFound
from kasse.domain.session import Session, SessionHeaders, resolve_session
from kasse.domain.store import StoreConfig
from kasse.services.catalog import StoreDirectory

PREFIX = "/umbraco/commerce/storefront/api"
"""Where the Storefront API lives."""


def parse_id(value: str, what: str) -> UUID:
    """A path id; one that is not a UUID names nothing, so it is "not found"."""
    try:
        return UUID(value.strip())
    except ValueError:
        raise NotFound(f"no {what} with id {value.strip()[:100]!r}") from None


def _directory(request: Request) -> StoreDirectory:
    directory: StoreDirectory = request.app.state.stores
    return directory


async def require_api_key(
    request: Request,
    api_key: Annotated[str | None, Header(
        alias="Api-Key",
        description="API key specified through configuration to authorize access to the API.",
    )] = None,
) -> None:
    """401 unless the header matches one of the configured keys (constant-time)."""
    keys: list[bytes] = request.app.state.api_keys
    if not api_key:
        raise ApiProblem(401, "the Api-Key header is required", "api-key-missing")
    supplied = api_key.encode("utf-8", "surrogateescape")
    matched = False
    for key in keys:  # compare against every key so timing does not tell which matched
        matched |= hmac.compare_digest(supplied, key)
    if not matched:
        raise ApiProblem(401, "the Api-Key header does not match a configured key",
                         "api-key-invalid")


StoreHeader = Annotated[str | None, Header(
    alias="Store", description="The ID or the alias of the store")]


async def store_config(request: Request, store: StoreHeader = None) -> StoreConfig:
    if store is None or not store.strip():
        raise ApiProblem(400, "the Store header is required (a store id or alias)",
                         "store-missing")
    return await _directory(request).get(store)


def _h(alias: str, description: str) -> object:
    return Header(alias=alias, description=description)


async def session_headers(
    current_order: Annotated[str | None, _h(
        "Current-Order", "The ID of the current order associated with the current session")
    ] = None,
    billing_country: Annotated[str | None, _h(
        "Billing-Country", "The ID or alias of the session default billing country")] = None,
    billing_region: Annotated[str | None, _h(
        "Billing-Region", "The ID or alias of the session default billing region")] = None,
    shipping_country: Annotated[str | None, _h(
        "Shipping-Country", "The ID or alias of the session default shipping country")] = None,
    shipping_region: Annotated[str | None, _h(
        "Shipping-Region", "The ID or alias of the session default shipping region")] = None,
    tax_class: Annotated[str | None, _h(
        "Tax-Class", "The ID or alias of the session default tax class")] = None,
    currency: Annotated[str | None, _h(
        "Currency", "The ID or alias of the session currency")] = None,
    accept_language: Annotated[str | None, _h(
        "Accept-Language", "The ISO culture code of the current session culture")] = None,
    language_iso_code: Annotated[str | None, Query(alias="LanguageIsoCode")] = None,
    customer_reference: Annotated[str | None, _h(
        "Customer-Reference",
        "The unique reference for the customer associated with the current session")] = None,
) -> SessionHeaders:
    return SessionHeaders(
        currency=currency, tax_class=tax_class, billing_country=billing_country,
        billing_region=billing_region, shipping_country=shipping_country,
        shipping_region=shipping_region, language=language_iso_code or accept_language,
        customer_reference=customer_reference, current_order=current_order)


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


async def shape(
    fields: Annotated[str | None, Query(
        description="Limit the properties returned in the response, e.g. "
                    "`orderLines[sku,quantity],totalPrice`")] = None,
    expand: Annotated[str | None, Query(
        description="Defines the properties that should be expanded in the response, e.g. "
                    "`$prices,paymentInfo[country]`")] = None,
) -> Shape:
    return Shape(fields=parse_tree(fields, "fields"), expand=parse_tree(expand, "expand"))


async def list_filter(
    filter: Annotated[str | None, Query(  # noqa: A002 (the contract's name)
        description="Filter the returned list of items, e.g. `allowedInCountry:GB`")] = None,
) -> str | None:
    """The country code of ``allowedInCountry:XX``; ``None`` for no filter."""
    if filter is None or not filter.strip():
        return None
    name, _, value = filter.strip().partition(":")
    if name.strip().lower() != "allowedincountry" or not value.strip():
        raise ApiProblem(400, f"unknown filter {filter.strip()!r}; supported: "
                              "allowedInCountry:<country id or code>", "invalid-filter")
    return value.strip()


ApiKey = Depends(require_api_key)
