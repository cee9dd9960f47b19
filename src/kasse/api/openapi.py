"""kasse's OpenAPI document: FastAPI's, adjusted to say what kasse really does.

- ``Api-Key`` and ``Store`` are required where they are parameters;
- every error is an RFC 9457 problem document (``application/problem+json``), declared
  per status where the contract lists one and as the ``default`` response everywhere;
- FastAPI's 422 validation shape is gone (kasse answers 400 problems);
- the payment-link lookup is listed under its own path, as in the contract;
- links say which answer's ids the next calls take (an order's id, its first line, the
  first item of a list), for client generators and stateful testers to follow.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import iter_route_contexts

from kasse.api.deps import PREFIX, Param, documented_params
from kasse.api.management import MANAGEMENT_PREFIX
from kasse.api.management.auth import permission_of
from kasse.api.openapi_links import add_links
from kasse.domain.access import Permission

REQUIRED_HEADERS = {"api-key", "store"}
PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The Storefront API's document (the management API has its own)."""
    if app.openapi_schema:
        return app.openapi_schema
    routes = [r for r in iter_route_contexts(app.routes) if not _is_management(r)]
    schema = _document(app, routes, app.title, app.description or "")
    add_links(schema)
    _add_payment_link_lookup(schema)
    app.openapi_schema = schema
    return schema


_MANAGEMENT_DOCUMENT: dict[int, dict[str, Any]] = {}


def management_document(app: FastAPI) -> dict[str, Any]:
    """The management API's document: its operations, each with the permission it needs
    (``x-kasse-permission``) and the bearer token scheme."""
    kept = _MANAGEMENT_DOCUMENT.get(id(app))
    if kept is not None:
        return kept
    routes = [r for r in iter_route_contexts(app.routes) if _is_management(r)]
    schema = _document(app, routes, "kasse management API", MANAGEMENT_DESCRIPTION)
    for route in iter_route_contexts(routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        permission = _permission(dependant)
        for method in route.methods or ():
            operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is not None:
                operation["x-kasse-permission"] = permission.value if permission else None
                operation["security"] = [{"managementToken": []}]
    schema.setdefault("components", {}).setdefault("securitySchemes", {})[
        "managementToken"] = {"type": "http", "scheme": "bearer",
                              "description": "A management API token (`kasse token create`)"}
    _MANAGEMENT_DOCUMENT[id(app)] = schema
    return schema


MANAGEMENT_DESCRIPTION = (
    "The merchant's side of kasse: placed orders, their money, shipments and stock, "
    "merchant webhooks, staff and tokens. Authenticate with `Authorization: Bearer "
    "<management API token>`; each operation names the permission it needs "
    "(`x-kasse-permission`). Every change takes an `Idempotency-Key` and, on an order, "
    "`If-Match` with the order's ETag. Money is a decimal string. Errors are RFC 9457 "
    "problem documents.")


def _is_management(route: Any) -> bool:
    return str(getattr(route, "path_format", "")).startswith(MANAGEMENT_PREFIX)


def _permission(dependant: Dependant) -> Permission | None:
    for sub in dependant.dependencies:
        found = permission_of(sub.call) or _permission(sub)
        if found is not None:
            return found
    return None


def _document(app: FastAPI, routes: list[Any], title: str, description: str
              ) -> dict[str, Any]:
    schema = get_openapi(title=title, version=app.version, description=description,
                         routes=routes)
    _add_raw_parameters(routes, schema)
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            _adjust(operation)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    return schema


def _raw_parameters(dependant: Dependant) -> list[Param]:
    """The parameters that a route's dependencies read from the raw request, in order."""
    found: list[Param] = []
    for sub in dependant.dependencies:
        found.extend(_raw_parameters(sub))
        if sub.call is not None:
            found.extend(documented_params(sub.call))
    return found


def _add_raw_parameters(routes: list[Any], schema: dict[str, Any]) -> None:
    paths = schema.get("paths", {})
    for route in iter_route_contexts(routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None or not getattr(route, "include_in_schema", False):
            continue
        extra = _raw_parameters(dependant)
        if dependant.call is not None:  # an endpoint that reads the raw request itself
            extra.extend(documented_params(dependant.call))
        for method in route.methods or ():
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            params: list[dict[str, Any]] = operation.setdefault("parameters", [])
            seen = {(p["in"], p["name"].lower()) for p in params}
            for param in extra:
                if (param.location, param.name.lower()) not in seen:
                    seen.add((param.location, param.name.lower()))
                    params.append(param.openapi())


RATE_LIMITED_OPERATIONS = {"token", "pay", "createClientPayment"}
"""Operations anyone may call without a key: a client calling too often gets a 429."""


def _adjust(operation: dict[str, Any]) -> None:
    for param in operation.get("parameters", []):
        if param.get("in") == "header" and param["name"].lower() in REQUIRED_HEADERS:
            param["required"] = True
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    if operation.get("operationId") in RATE_LIMITED_OPERATIONS:
        responses["429"] = {"description": "Too many requests from this client address; "
                                           "see the Retry-After header"}
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    responses["default"] = {"description": "A problem document (RFC 9457)",
                            "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


def _add_payment_link_lookup(schema: dict[str, Any]) -> None:
    """The contract lists the payment-link lookup as its own path, although it is the same
    route as the order read; document it the way the contract does."""
    paths = schema.get("paths", {})
    by_id = paths.get(f"{PREFIX}/v1/order/{{orderId}}", {}).get("get")
    if by_id is None:
        return
    lookup = copy.deepcopy(by_id)
    lookup["operationId"] = "getOrderByPaymentLinkToken"
    lookup["summary"] = "Gets the open order of a payment link"
    for param in lookup.get("parameters", []):
        if param.get("in") == "path":
            param["name"] = "paymentLinkToken"
            param["description"] = "A payment link token (`kasse payment-link`)"
    paths[f"{PREFIX}/v1/order/{{paymentLinkToken}}"] = {"get": lookup}
