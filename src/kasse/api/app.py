"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from kasse import __version__
from kasse.adapters.db.database import Database
from kasse.adapters.db.migrate import upgrade_engine
from kasse.adapters.db.storage import SqlStorage
from kasse.api import operations, problems
from kasse.api.deps import PREFIX
from kasse.api.formatting import format_amount
from kasse.api.limits import BodySizeLimit, RejectLoneSurrogates, RejectNulBytes, RequireJson
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
    payment_management,
)
from kasse.bootstrap import (
    MountedGateway,
    api_keys,
    payment_providers,
    running_webhook_worker,
    secret_key,
    test_gateway_merchants,
)
from kasse.config import Settings
from kasse.payments.testgateway_provider import MOUNT_PATH
from kasse.services.catalog import StoreDirectory
from kasse.services.checkout import Checkout
from kasse.services.orders import Orders
from kasse.storefront_demo import DEMO_PATH, create_demo_app

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
    """Build the app; the database connects when the app starts, not at import.

    ``long_lived``: the app is its process's for good (``kasse serve``), so what start-up
    made is frozen out of the garbage collector's sight once it is ready."""
    settings = settings or Settings()
    owns_db = db is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = db or Database.from_url(settings.effective_database_url,
                                           pool_size=settings.db_pool_size)
        if settings.auto_migrate:
            await upgrade_engine(database.engine)
        app.state.db = database
        app.state.storage = SqlStorage(database)
        app.state.stores = StoreDirectory(app.state.storage)
        app.state.orders = Orders(app.state.storage)
        app.state.rendered_orders = RenderedOrders(settings.rendered_orders_bytes)
        app.state.checkout = Checkout(
            app.state.storage, app.state.stores, registry,
            token_ttl=timedelta(minutes=settings.checkout_token_minutes))
        configs = await app.state.stores.warm_up()
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
            if gateway is not None:
                gateway.config.merchants.update(test_gateway_merchants(configs))
                await stack.enter_async_context(gateway.app.router.lifespan_context(gateway.app))
            await stack.enter_async_context(
                operations.housekeeping_task(app.state.storage, settings))
            if settings.webhook_worker:
                await stack.enter_async_context(running_webhook_worker(settings, database))
            try:
                yield
            finally:
                await stack.aclose()  # background work ends while the database is open
                if owns_db:
                    await database.dispose()

    app = FastAPI(title="kasse Storefront API", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, default_response_class=JsonResponse,
                  docs_url="/docs", redoc_url=None,
                  telemetry=None if settings.opentelemetry else _NO_TELEMETRY)
    app.state.settings = settings
    app.state.public_address = PublicAddress.of(settings.public_url, settings.allowed_hosts)
    app.state.api_keys, _ = api_keys(settings)
    app.state.secret_key = secret_key(settings)
    problems.install(app)
    # Requests are matched against routes in this order: the busiest first.
    app.include_router(orders.reads_router)
    app.include_router(orders.router)
    app.include_router(inline_checkout.router)
    app.include_router(hosted_checkout.router)
    app.include_router(catalog.router)
    app.include_router(content.router)
    app.include_router(hosted_checkout.callbacks)
    app.include_router(payment_management.router)  # a kasse extension, not in the schema
    gateway = MountedGateway.create() if settings.test_gateway else None
    registry = payment_providers(settings, gateway)
    if gateway is not None:
        app.mount(MOUNT_PATH, gateway.app)

    # The demo storefront calls this app's API in process, with a key it keeps server-side.
    app.mount(DEMO_PATH, create_demo_app(
        app, api_key=app.state.api_keys[0].decode(), secret=app.state.secret_key,
        address=app.state.public_address, test_gateway=settings.test_gateway))

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    # The last added runs first: NUL bytes, body size, the content type, then JSON text.
    app.add_middleware(RejectLoneSurrogates)
    app.add_middleware(RequireJson, prefix=PREFIX)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RejectNulBytes)
    operations.install(app, settings)  # outermost: request ids, rate limits, metrics
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
