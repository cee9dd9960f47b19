"""One request context for every route: what a route reads from its request, resolved in
one step.

A route names the parts it reads, ``Annotated[RequestContext, context(STORE, SESSION,
SHAPE)]``, and gets one :class:`RequestContext`. The parts are resolved in the order named,
so the first one that is wrong is the one reported (an unknown store before a malformed
``fields``). One FastAPI dependency resolves them all: each dependency FastAPI solves costs
more CPU than what most of these do, so the parts read raw headers and query strings and
are documented through ``deps.reads`` instead of declared parameters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from fastapi import Depends, Request

from kasse.api.deps import Param, check_key_serves, reads
from kasse.api.problems import ApiProblem
from kasse.api.shaping import UNSHAPED, Shape
from kasse.api.state import AppState, app_state
from kasse.bootstrap import Container
from kasse.domain.session import Session, SessionHeaders, resolve_session
from kasse.domain.store import StoreConfig
from kasse.logs import request_id as current_request_id


class RequestContext:
    """The app's parts and what the route read from this request: its store, session
    defaults, response shape and list filter."""

    __slots__ = ("_config", "_headers", "_session", "allowed_in", "request", "shape", "state")

    def __init__(self, request: Request, state: AppState) -> None:
        self.request = request
        self.state = state
        """The container, the rendered orders kept and the public address."""
        self._config: StoreConfig | None = None
        self._headers: SessionHeaders | None = None
        self._session: Session | None = None
        self.shape: Shape = UNSHAPED
        """``fields`` and ``expand`` (everything, nothing expanded unless read: ``SHAPE``)."""
        self.allowed_in: str | None = None
        """The country of ``filter=allowedInCountry:XX``; ``None`` for no filter (or not
        read: ``ALLOWED_IN``)."""

    async def store(self, id_or_alias: str) -> StoreConfig:
        """The store with this id or alias, if the request's Api-Key serves it (403
        otherwise; 404 for no such store)."""
        return check_key_serves(self.request, await self.state.container.stores.get(
            id_or_alias))

    @property
    def container(self) -> Container:
        """The application's parts (services, storage, settings, keys)."""
        return self.state.container

    @property
    def config(self) -> StoreConfig:
        """The store named by the ``Store`` header."""
        if self._config is None:
            raise _not_read(STORE)
        return self._config

    @property
    def session(self) -> Session:
        """The session headers resolved against the store."""
        if self._session is None:
            raise _not_read(SESSION)
        return self._session

    @property
    def session_headers(self) -> SessionHeaders:
        """The session headers as sent."""
        if self._headers is None:
            raise _not_read(SESSION_HEADERS)
        return self._headers

    @property
    def query(self) -> str:
        """The raw query string: part of what a kept rendering of an order depends on."""
        return self.request.url.query

    @property
    def request_id(self) -> str | None:
        """The request's ``X-Request-Id`` (the caller's, or the one kasse gave it)."""
        return current_request_id.get()

    def base_url(self) -> str:
        """kasse's base URL for the URLs in this answer; never taken from an unlisted Host."""
        return self.state.public_address.base_url(self.request.scope)


@dataclass(frozen=True, slots=True)
class Part:
    """Something a route reads from its request: how it gets into the context, and the
    parameters that document it."""

    name: str
    params: tuple[Param, ...]
    resolve: Callable[[RequestContext], Awaitable[None]]


def _not_read(part: Part) -> RuntimeError:
    return RuntimeError(f"the route did not declare that it reads {part.name}")


async def _store(ctx: RequestContext) -> None:
    store = ctx.request.headers.get("store")
    if store is None or not store.strip():
        raise ApiProblem(400, "the Store header is required (a store id or alias)",
                         "store-missing")
    ctx._config = await ctx.store(store)


def _headers(request: Request) -> SessionHeaders:
    h = request.headers
    return SessionHeaders(
        currency=h.get("currency"), tax_class=h.get("tax-class"),
        billing_country=h.get("billing-country"), billing_region=h.get("billing-region"),
        shipping_country=h.get("shipping-country"), shipping_region=h.get("shipping-region"),
        language=request.query_params.get("LanguageIsoCode") or h.get("accept-language"),
        customer_reference=h.get("customer-reference"), current_order=h.get("current-order"))


async def _session(ctx: RequestContext) -> None:
    ctx._headers = _headers(ctx.request)
    ctx._session = resolve_session(ctx.config, ctx._headers)  # unknown values are a 400


async def _session_headers(ctx: RequestContext) -> None:
    ctx._headers = _headers(ctx.request)


async def _shape(ctx: RequestContext) -> None:
    query = ctx.request.query_params
    ctx.shape = Shape.parse(query.get("fields"), query.get("expand"))


async def _allowed_in(ctx: RequestContext) -> None:
    filter = ctx.request.query_params.get("filter")  # noqa: A001 (the contract's name)
    if filter is None or not filter.strip():
        return
    name, _, value = filter.strip().partition(":")
    if name.strip().lower() != "allowedincountry" or not value.strip():
        raise ApiProblem(400, f"unknown filter {filter.strip()!r}; supported: "
                              "allowedInCountry:<country id or code>", "invalid-filter")
    ctx.allowed_in = value.strip()


_SESSION_PARAMS = (
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

STORE = Part("the Store header", (
    Param("Store", "header", "The ID or the alias of the store", required=True),), _store)
"""The store of the ``Store`` header: a 400 without one, a 404 for an unknown one."""
SESSION = Part("the session headers", _SESSION_PARAMS, _session)
"""The session defaults resolved against the store (after ``STORE``); unknown values are
a 400."""
SESSION_HEADERS = Part("the session headers", _SESSION_PARAMS, _session_headers)
"""The session headers as sent, for a route that finds its store elsewhere."""
SHAPE = Part("fields and expand", (
    Param("fields", "query", "Limit the properties returned in the response, e.g. "
                             "`orderLines[sku,quantity],totalPrice`"),
    Param("expand", "query", "Defines the properties that should be expanded in the "
                             "response, e.g. `$prices,paymentInfo[country]`"),
), _shape)
"""``fields`` and ``expand``; malformed, a 400."""
ALLOWED_IN = Part("the list filter", (
    Param("filter", "query", "Filter the returned list of items, e.g. `allowedInCountry:GB`"),
), _allowed_in)
"""``filter=allowedInCountry:XX`` of a list; any other filter is a 400."""


@cache
def resolver(*parts: Part) -> Callable[[Request], Awaitable[RequestContext]]:
    """The one function that resolves these parts, in this order, into a context; the
    same function for the same parts."""
    if SESSION in parts and (STORE not in parts or parts.index(SESSION) < parts.index(STORE)):
        raise ValueError("SESSION is resolved against the store: read STORE before it")

    @reads(*(param for part in parts for param in part.params))
    async def resolve(request: Request) -> RequestContext:
        ctx = RequestContext(request, app_state(request))
        for part in parts:
            await part.resolve(ctx)
        return ctx

    return resolve


def context(*parts: Part) -> Any:
    """The dependency of a route that reads ``parts``: ``Annotated[RequestContext,
    context(STORE, SHAPE)]``; with no parts, a context of the app's parts alone."""
    return Depends(resolver(*parts))
