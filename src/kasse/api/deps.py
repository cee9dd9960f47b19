"""The Api-Key check, and the register of the parameters read from the raw request.

The hot paths read headers and query strings straight from the request instead of
declaring a FastAPI parameter each (see ``api.context``); ``reads`` records what such a
function reads so that the OpenAPI document still lists it (``api.openapi``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Depends, Request

from kasse.api.problems import ApiProblem
from kasse.api.state import app_state
from kasse.domain.access import StorefrontKey
from kasse.domain.store import StoreConfig

PREFIX = "/umbraco/commerce/storefront/api"
"""Where the Storefront API lives."""


@dataclass(frozen=True, slots=True)
class Param:
    """A header or query parameter read from the raw request, as the OpenAPI document
    lists it."""

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
    """Declare the parameters a dependency (or an endpoint) reads straight from the
    request, in the order the OpenAPI document lists them.

    Resolving a dozen declared FastAPI parameters cost more CPU than the rest of a cart
    read, so the hot paths read the raw request; this keeps them documented.
    """

    def register(fn: _F) -> _F:
        _DOCUMENTED[fn] = params
        return fn

    return register


def documented_params(fn: Callable[..., Any]) -> tuple[Param, ...]:
    """What ``fn`` was declared to read with :func:`reads` (nothing if it was not)."""
    return _DOCUMENTED.get(fn, ())


API_KEY = Param("Api-Key", "header", "API key specified through configuration to authorize "
                "access to the API.", required=True)


@reads(API_KEY)
async def require_api_key(request: Request) -> None:
    """401 unless the header matches one of the configured keys (constant-time)."""
    keys = app_state(request).container.storefront_keys
    api_key = request.headers.get("api-key")
    if not api_key:
        raise ApiProblem(401, "the Api-Key header is required", "api-key-missing")
    supplied = api_key.encode("utf-8", "surrogateescape")
    matched: StorefrontKey | None = None
    for key in keys:  # compare against every key so timing does not tell which matched
        if hmac.compare_digest(supplied, key.secret):
            matched = key
    if matched is None:
        raise ApiProblem(401, "the Api-Key header does not match a configured key",
                         "api-key-invalid")
    if matched.stores is not None:  # checked when the store is known (``api.context``)
        request.state.key_stores = matched


ApiKey = Depends(require_api_key)


def check_key_serves(request: Request, config: StoreConfig) -> StoreConfig:
    """``config``, unless the request's Api-Key serves other stores only (a 403)."""
    key: StorefrontKey | None = getattr(request.state, "key_stores", None)
    if key is not None and not key.serves(config.store.id, config.store.alias):
        raise ApiProblem(403, f"this Api-Key does not serve store {config.store.alias!r}",
                         "api-key-not-for-store")
    return config
