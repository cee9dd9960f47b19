"""Every request gets an id (``X-Request-Id``: the caller's when it is sane, else a new
one), its duration in a ``Server-Timing`` header, one access log line and its latency in
the metrics, labelled by route template so that ids in paths do not explode the number
of series."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kasse.logs import redact_path, request_id
from kasse.services.telemetry import Meter

access_log = logging.getLogger("kasse.access")
REQUEST_ID = "x-request-id"
_REQUEST_ID_BYTES = REQUEST_ID.encode()
_SERVER_TIMING = b"server-timing"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,100}$")


def _route_of(scope: Scope) -> str:
    route: Any = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if template:
        return str(template)
    root = scope.get("root_path", "")
    return f"{root}/*" if root else "unmatched"


class RequestMetrics(Meter, Protocol):
    """The process's metrics as the API uses them (Prometheus in ``adapters.metrics``)."""

    @property
    def content_type(self) -> str:
        """The media type of :meth:`render`'s text."""

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record how long a request took, by its route template."""

    def render(self) -> bytes:
        """Every metric, for a scrape of ``/metrics``."""


class RequestTelemetry:
    """The outermost middleware: the request id, Server-Timing, the access log line and
    the latency metric of every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics | None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"]
                      if k == _REQUEST_ID_BYTES), "")
        rid = given if _SANE_ID.match(given) else secrets.token_hex(16)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # How long kasse worked on it (Server-Timing, shown by browsers' tools).
                took = (time.perf_counter() - started) * 1000
                message["headers"] = [*message.get("headers", []),
                                      (_REQUEST_ID_BYTES, rid.encode()),
                                      (_SERVER_TIMING, f"app;dur={took:.1f}".encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = _route_of(scope)
            if self.metrics is not None and route != "/metrics":
                self.metrics.observe(scope["method"], route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                path = redact_path(scope["path"])
                access_log.info("%s %s %s", scope["method"], path, status, extra={
                    "method": scope["method"], "path": path, "route": route,
                    "status": status, "durationMs": round(seconds * 1000, 3),
                    "client": client[0] if client else None, "requestId": rid})
            request_id.reset(token)
