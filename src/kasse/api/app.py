"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from kasse import __version__
from kasse.api import operations, problems
from kasse.api.deps import PREFIX
from kasse.api.formatting import format_amount
from kasse.api.limits import BodySizeLimit, RejectLoneSurrogates, RejectNulBytes, RequireJson
from kasse.api.management import MANAGEMENT_PREFIX
from kasse.api.management import routes as management
from kasse.api.openapi import openapi_document
from kasse.api.public_url import PublicAddress
from kasse.api.rendered_orders import RenderedOrders
from kasse.api.responses import JsonResponse
from kasse.api.routes import (
    catalog,
    content,
    hosted_checkout,
    inline_checkout,
    orders,
)
from kasse.api.state import AppState
from kasse.bootstrap import (
    DATABASE_ERROR,
    Database,
    MountedGateway,
    bootstrap,
    database_unavailable,
    process_metrics,
    running_email_worker,
    running_webhook_worker,
)
from kasse.config import Settings
from kasse.payments.testgateway_provider import MOUNT_PATH
from kasse.storefront_demo import DEMO_PATH, create_demo_app, open_demo

DESCRIPTION = (
    "kasse speaks the Umbraco Commerce Storefront API. Send `Api-Key` and `Store` headers "
    "(the hosted checkout endpoints need no key). Errors are RFC 9457 problem documents."
)


_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_server_app() -> FastAPI:
    """The app as each ``kasse serve`` worker process runs it, for the process's life."""
    return create_app(long_lived=True)


def create_app(settings: Settings | None = None, db: Database | None = None, *,
               long_lived: bool = False) -> FastAPI:
    """Build the app; its parts are wired by ``kasse.bootstrap`` when the app starts, so
    the database connects then, not at import.

    ``db``: a database the caller opened and closes (tests); by default the app opens its
    own from the settings. ``long_lived``: the app is its process's for good (``kasse
    serve``), so what start-up made is frozen out of the garbage collector's sight once it
    is ready."""
    settings = settings or Settings()
    address = PublicAddress.of(settings.public_url, settings.allowed_hosts)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bootstrap(settings, db=db, gateway=gateway) as kasse:
            app.state.kasse = AppState(kasse, RenderedOrders(settings.rendered_orders_bytes),
                                       address)
            # The demo storefront calls this app's API in process, with a key it keeps
            # server-side.
            open_demo(demo, app, api_key=kasse.api_keys[0].decode(),
                      secret=kasse.secret_key, address=address,
                      test_gateway=settings.test_gateway)
            configs = await kasse.stores.warm_up()
            for config in configs:
                for currency in config.currencies:  # loads the culture's formatting data
                    format_amount(Decimal(0), currency)
            await _prime_routes(app)
            if long_lived:
                # What exists now lives as long as the process: modules, the store
                # configuration, compiled statements. Frozen, the collector's full passes
                # no longer walk it (each took ~0.1 s of a busy worker).
                gc.collect()
                gc.freeze()
            async with AsyncExitStack() as stack:
                await stack.enter_async_context(
                    operations.housekeeping_task(kasse.storage, settings))
                if settings.webhook_worker:
                    await stack.enter_async_context(running_webhook_worker(kasse))
                if settings.email_worker:
                    await stack.enter_async_context(running_email_worker(kasse))
                yield  # background work ends before the container closes the database

    app = FastAPI(title="kasse Storefront API", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, default_response_class=JsonResponse,
                  docs_url="/docs", redoc_url=None,
                  telemetry=None if settings.opentelemetry else _NO_TELEMETRY)
    problems.install(app, DATABASE_ERROR, database_unavailable)
    # Requests are matched against routes in this order: the busiest first.
    app.include_router(orders.reads_router)
    app.include_router(orders.router)
    app.include_router(inline_checkout.router)
    app.include_router(hosted_checkout.router)
    app.include_router(catalog.router)
    app.include_router(content.router)
    app.include_router(hosted_checkout.callbacks)
    management.install(app)
    gateway = MountedGateway.create() if settings.test_gateway else None
    if gateway is not None:
        app.mount(MOUNT_PATH, gateway.app)

    demo = create_demo_app()
    app.mount(DEMO_PATH, demo)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    # The last added runs first: NUL bytes, body size, the content type, then JSON text.
    app.add_middleware(RejectLoneSurrogates)
    app.add_middleware(RequireJson, prefix=PREFIX)
    app.add_middleware(RequireJson, prefix=MANAGEMENT_PREFIX)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RejectNulBytes)
    # outermost: request ids, rate limits, metrics
    operations.install(app, settings, process_metrics())
    return app


async def _prime_routes(app: FastAPI) -> None:
    """Route matching is prepared lazily on the first request; do it before serving."""
    scope = {"type": "http", "method": "GET", "path": "/health", "raw_path": b"/health",
             "query_string": b"", "headers": [], "http_version": "1.1", "scheme": "http",
             "server": ("127.0.0.1", 0), "client": ("127.0.0.1", 0), "root_path": ""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: Any) -> None:
        return None

    await app(scope, receive, send)
