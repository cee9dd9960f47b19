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
from kasse.api.openapi_links import add_links

REQUIRED_HEADERS = {"api-key", "store"}
PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}


def openapi_document(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    _add_raw_parameters(app, schema)
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            _adjust(operation)
    add_links(schema)
    _add_payment_link_lookup(schema)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    app.openapi_schema = schema
    return schema


def _raw_parameters(dependant: Dependant) -> list[Param]:
    """The parameters that a route's dependencies read from the raw request, in order."""
    found: list[Param] = []
    for sub in dependant.dependencies:
        found.extend(_raw_parameters(sub))
        if sub.call is not None:
            found.extend(documented_params(sub.call))
    return found


def _add_raw_parameters(app: FastAPI, schema: dict[str, Any]) -> None:
    paths = schema.get("paths", {})
    for route in iter_route_contexts(app.routes):
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
