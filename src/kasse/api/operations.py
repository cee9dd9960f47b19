"""What an operator needs around the API: request ids and access logs, per-client rate
limits on the keyless checkout endpoints, Prometheus metrics at ``/metrics`` (with the
API key, as ``Api-Key`` or ``Authorization: Bearer``), and the periodic cleanup of
abandoned carts."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI, Request
from starlette.responses import Response

from kasse.api.observability import RequestMetrics, RequestTelemetry
from kasse.api.problems import ApiProblem
from kasse.api.rate_limit import RateLimit, TokenBuckets
from kasse.api.state import app_state
from kasse.config import Settings
from kasse.services import housekeeping, telemetry
from kasse.services.ports import Storage


def install(app: FastAPI, settings: Settings, metrics: RequestMetrics) -> None:
    """Metrics and the outer middlewares; call after every other middleware is added."""
    telemetry.use(metrics)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        _require_key(request)
        return Response(metrics.render(), media_type=metrics.content_type)

    if settings.checkout_rate_per_minute > 0:
        app.add_middleware(RateLimit, buckets=TokenBuckets(settings.checkout_rate_per_minute,
                                                           settings.checkout_rate_burst))
    app.add_middleware(RequestTelemetry, metrics=metrics)


def _require_key(request: Request) -> None:
    keys = app_state(request).container.api_keys
    supplied = request.headers.get("api-key") or ""
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    if not supplied and scheme.lower() == "bearer":
        supplied = bearer.strip()
    given = supplied.encode("utf-8", "surrogateescape")
    matched = False
    for key in keys:  # every key, so that timing does not tell which matched
        matched |= hmac.compare_digest(given, key)
    if not matched:
        raise ApiProblem(401, "metrics need the API key (Api-Key header or a bearer token)",
                         "api-key-invalid")


@asynccontextmanager
async def housekeeping_task(storage: Storage, settings: Settings) -> AsyncIterator[None]:
    """Deletes abandoned carts now and then while the server runs."""
    if settings.abandoned_cart_days <= 0:
        yield
        return
    task = asyncio.create_task(housekeeping.run_periodically(
        storage, lambda: datetime.now(UTC), timedelta(days=settings.abandoned_cart_days),
        timedelta(minutes=settings.housekeeping_minutes)))
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
