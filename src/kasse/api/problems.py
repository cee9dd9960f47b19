"""RFC 9457 problem documents: the one table from error codes to HTTP statuses."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from kasse.api.ids import MALFORMED_ID
from kasse.api.responses import JsonResponse, notifications_header
from kasse.api.shaping import ShapeSyntaxError
from kasse.domain.errors import Conflict, DomainError, NotFound
from kasse.domain.order import Notice
from kasse.logs import redact_path

log = logging.getLogger("kasse.api")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:kasse:problem:"

# Domain error code -> HTTP status. Codes not listed are 400.
STATUS_BY_CODE: dict[str, int] = {
    "not_found": 404,
    "store_not_found": 404,
    "invalid_input": 400,
    "too_many_decimals": 400,
    "currency_mismatch": 400,
    "conflict": 409,
    "concurrent_update": 409,
    "gateway_unavailable": 502,
    "not_allowed": 403,
    "stale_version": 412,
    "idempotency_key_reused": 422,
    "idempotency_key_in_use": 409,
}


def status_of(error: DomainError) -> int:
    """The table first, then the error's kind: not found 404, conflict 409, else 400."""
    status = STATUS_BY_CODE.get(error.code)
    if status is not None:
        return status
    if isinstance(error, NotFound):
        return 404
    return 409 if isinstance(error, Conflict) else 400


class ApiProblem(Exception):
    """An HTTP-level failure raised by the API layer itself (auth, headers, limits)."""

    def __init__(self, status: int, detail: str, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or HTTPStatus(status).phrase.lower().replace(" ", "-")
        self.headers = headers


def problem(status: int, detail: str | None, code: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    title = HTTPStatus(status).phrase
    slug = (code or title.lower()).replace("_", "-").replace(" ", "-")
    body: dict[str, Any] = {"type": TYPE_BASE + slug, "title": title, "status": status,
                            "detail": detail}
    body.update(extra)
    return JsonResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "header", "path"):
        where, rest = parts[0], parts[1:]
        return f"{where} {'.'.join(rest)}" if rest else where
    return ".".join(parts)


def _notifying(request: Request, detail: str) -> dict[str, str] | None:
    return _notifying_method(request.method, detail)


def _notifying_method(method: str, detail: str) -> dict[str, str] | None:
    """Failed changes are also reported in ``Umb-Notifications``, as the reference does."""
    if method == "GET":
        return None
    return notifications_header([Notice(detail, "Error", "Validation")])


def invalid_fields(method: str, errors: list[tuple[str, str]]) -> Response:
    """The 400 for a request whose fields failed validation: each ``(location, message)``
    named in the detail (the first ten) and listed in ``errors`` (the first fifty)."""
    detail = "; ".join(f"{location}: {message.removeprefix('Value error, ')}"
                       for location, message in errors[:10])
    return problem(400, detail, "validation-failed", _notifying_method(method, detail),
                   errors=[{"location": location, "message": message}
                           for location, message in errors[:50]])


def _domain_problem(request: Request, error: DomainError) -> Response:
    return problem(status_of(error), error.detail, error.code,
                   _notifying(request, error.detail))


def allowed_methods(request: Request) -> list[str]:
    """Every method the API documents at this path (several routes may share a path)."""
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(
        request.app.state, "allowed_methods", None)
    if table is None:
        table = []
        for template, item in request.app.openapi().get("paths", {}).items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            table.append((re.compile(f"^{pattern}$"), {m.upper() for m in item}))
        request.app.state.allowed_methods = table
    path = request.url.path
    return sorted({m for regex, methods in table if regex.match(path) for m in methods})


def install(app: FastAPI, database_error: type[Exception],
            unavailable: Callable[[BaseException], bool]) -> None:
    """Register handlers so that no error ever leaves as HTML or a stack trace.

    ``database_error`` is what the database raises when a statement fails, and
    ``unavailable`` tells which of those mean it is out of reach (a 503); the composition
    root says both, so that the API names no database library.
    """

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return _domain_problem(request, exc)

    @app.exception_handler(ApiProblem)
    async def _api(request: Request, exc: ApiProblem) -> Response:
        headers = dict(exc.headers or {})
        if exc.status != 401:
            headers.update(_notifying(request, exc.detail) or {})
        return problem(exc.status, exc.detail, exc.code, headers=headers or None)

    @app.exception_handler(ShapeSyntaxError)
    async def _shape(request: Request, exc: ShapeSyntaxError) -> Response:
        return problem(400, str(exc), "invalid-query", _notifying(request, str(exc)))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            detail = "the request body is not valid JSON"
            return problem(400, detail, "malformed-json", _notifying(request, detail))
        invalid = [e for e in errors if e.get("type") != MALFORMED_ID]
        if errors and not invalid:  # only ids that are no ids, which name nothing (see api.ids)
            return _domain_problem(request, NotFound(str(errors[0].get("msg"))))
        return invalid_fields(request.method, [
            (_location(tuple(e.get("loc", ()))), str(e.get("msg", "invalid")))
            for e in invalid[:50]])

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            detail = f"no resource at {request.url.path}"
        elif exc.status_code == 405:
            allowed = allowed_methods(request)
            detail = f"{request.method} is not allowed on {request.url.path}"
            if not allowed:
                return problem(405, detail)
            return problem(405, f"{detail}; allowed: {', '.join(allowed)}",
                           headers={"Allow": ", ".join(allowed)})
        else:
            detail = str(exc.detail)
        return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(database_error)
    async def _database_unavailable(request: Request, exc: Exception) -> Response:
        if not unavailable(exc):
            raise exc  # a fault in what was asked of the database: an unexpected error
        # A lock wait that ran out, the database unreachable or its connection lost:
        # worth a retry.
        log.warning("database unavailable on %s %s: %s", request.method,
                    redact_path(request.url.path), getattr(exc, "orig", exc))
        return problem(503, "the database is busy or unavailable; try again shortly",
                       "database-unavailable", headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method,
                      redact_path(request.url.path))
        return problem(500, "an unexpected error occurred; it has been logged", "internal")
