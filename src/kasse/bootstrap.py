"""The composition root: settings, database, key material, payment providers and the
services, wired once into the application container that every entry point receives.

``create_app`` enters :func:`bootstrap` when the app starts and every ``kasse`` command
runs inside one; nothing connects at import time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette

from kasse.adapters.db.database import Database
from kasse.adapters.db.email_repository import SqlEmailStorage
from kasse.adapters.db.migrate import upgrade_engine
from kasse.adapters.db.order_search import SqlOrderSearch
from kasse.adapters.db.outage import unavailable
from kasse.adapters.db.storage import SqlStorage
from kasse.adapters.db.webhook_repository import SqlWebhookStorage, on_outbox_commit
from kasse.adapters.email.files import FileTransport
from kasse.adapters.email.smtp import SmtpTransport
from kasse.adapters.http.webhook_sender import HttpWebhookSender
from kasse.adapters.metrics import PrometheusMetrics
from kasse.adapters.passwords import Argon2Passwords
from kasse.config import Settings
from kasse.domain.access import StorefrontKey
from kasse.domain.store import StoreConfig
from kasse.domain.webhooks import RetryPolicy
from kasse.payments.registry import ProviderRegistry
from kasse.payments.testgateway import GatewayConfig, create_gateway_app
from kasse.payments.testgateway_provider import TEST_GATEWAY
from kasse.services.api_tokens import ApiTokens
from kasse.services.catalog import StoreDirectory
from kasse.services.checkout import Checkout
from kasse.services.email_messages import EmailMessages
from kasse.services.emails import EmailDeliveries, EmailWorker
from kasse.services.order_management import OrderManagement
from kasse.services.order_queries import OrderQueries
from kasse.services.orders import Orders
from kasse.services.ports import EmailTransport, Storage
from kasse.services.staff import StaffAccounts
from kasse.services.webhook_endpoints import WebhookEndpoints
from kasse.services.webhooks import WebhookDeliveries, WebhookWorker

__all__ = [
    "DATABASE_ERROR", "Container", "Database", "MountedGateway", "api_keys", "bootstrap",
    "database_unavailable", "payment_providers", "process_metrics", "run_with_container",
    "email_transport", "running_email_worker", "running_webhook_worker", "secret_key",
    "test_gateway_merchants",
]

log = logging.getLogger("kasse")
T = TypeVar("T")


def storefront_keys(settings: Settings) -> tuple[list[StorefrontKey], bool]:
    """The accepted Api-Keys with the stores each serves, and whether this call generated
    kasse's key file.

    Configured keys (``KASSE_API_KEYS``: ``KEY`` or ``KEY@store+store``) win. Without
    them, kasse keeps one random key for every store in ``data_dir/api-key`` (created
    once, readable by the owner only, the same for every worker) so that a fresh install
    is never open.
    """
    configured = [StorefrontKey.parse(k.get_secret_value()) for k in settings.api_keys]
    if configured:
        return configured, False
    key, generated = _generated_once(
        settings.api_key_file, lambda: "kasse_" + secrets.token_urlsafe(24), "KASSE_API_KEYS")
    return [StorefrontKey(key)], generated


def api_keys(settings: Settings) -> tuple[list[bytes], bool]:
    """The accepted Api-Key values (whatever their stores), as :func:`storefront_keys`."""
    keys, generated = storefront_keys(settings)
    return [key.secret for key in keys], generated


def secret_key(settings: Settings) -> bytes:
    """The key that signs payment links: configured, or generated once into the data
    folder (readable by the owner only) and shared by every worker reading it."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    key, _generated = _generated_once(
        settings.secret_key_file, lambda: secrets.token_urlsafe(48), "KASSE_SECRET_KEY")
    return key


def _generated_once(path: Path, generate: Callable[[], str], setting: str
                    ) -> tuple[bytes, bool]:
    """The secret kept in ``path``, and whether this call made the file.

    The first caller creates it with ``generate()``, readable by the owner only; workers
    starting at the same moment find it made and read the same secret (waiting a moment
    if the maker is still writing it).
    """
    generated = False
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(generate() + "\n")
            generated = True
    for _ in range(50):  # the maker may still be writing it
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text.encode(), generated
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty; delete it or set {setting}")


@dataclass(frozen=True)
class MountedGateway:
    """The simulated test gateway, served by kasse itself (demo and tests)."""

    config: GatewayConfig
    app: Starlette

    @classmethod
    def create(cls) -> MountedGateway:
        # Served on kasse's own origin, its card page may be framed by kasse's pages (the
        # demo storefront's Framed checkout); by nobody else.
        config = GatewayConfig(merchants={}, frame_ancestors="'self'")
        return cls(config, create_gateway_app(config))


def payment_providers(settings: Settings, gateway: MountedGateway | None = None
                      ) -> ProviderRegistry:
    """Every installed payment provider, configured from the settings; with the test
    gateway that this process serves, if any."""
    registry = ProviderRegistry.with_installed()
    if gateway is not None:
        registry.register(replace(TEST_GATEWAY, local_app=gateway.app))
    if settings.stripe_api_base:
        from kasse.payments.stripe import create_provider

        registry.register(create_provider(api_base=settings.stripe_api_base))
    return registry


def test_gateway_merchants(configs: Iterable[StoreConfig]) -> dict[str, str]:
    """Merchant id -> signing secret of every payment method using the test gateway."""
    merchants: dict[str, str] = {}
    for config in configs:
        for method in config.payment_methods:
            if method.provider_alias.lower() != TEST_GATEWAY.alias:
                continue
            settings = {s.key: s.value for s in method.settings}
            if settings.get("MerchantId") and settings.get("SigningSecret"):
                merchants[settings["MerchantId"]] = settings["SigningSecret"]
    return merchants


@dataclass(frozen=True, eq=False)
class Container:
    """Everything kasse's entry points use, wired once from the settings by
    :func:`bootstrap` and valid while its block runs.

    The API reads it from ``app.state`` (see ``api.state``), each ``kasse`` command gets
    its own. Nothing outside this module builds these parts.
    """

    settings: Settings
    database: Database
    """Reached only through the parts below and the webhook worker."""
    storage: Storage
    stores: StoreDirectory
    orders: Orders
    checkout: Checkout
    order_management: OrderManagement
    """The shop's actions on placed orders (status, notes, tags, shipments, money)."""
    payment_providers: ProviderRegistry
    webhook_endpoints: WebhookEndpoints
    order_queries: OrderQueries
    """The staff's reads of placed orders: lists, exports, one order's timeline, audit."""
    staff: StaffAccounts
    """Staff accounts: add, disable, passwords, sign-in."""
    api_tokens: ApiTokens
    """Management API tokens: create (shown once), list, revoke."""
    emails: EmailMessages
    """The shopper's emails as staff see them: attempts, resends, previews."""
    gateway: MountedGateway | None
    """The simulated test gateway this process serves, if any."""

    @cached_property
    def storefront_keys(self) -> tuple[StorefrontKey, ...]:
        """The accepted Api-Keys and their stores. Without configured keys kasse's key
        file is made the first time they are asked for (the app does when it starts), so
        that a command that needs no key leaves the data folder alone."""
        keys, _generated = storefront_keys(self.settings)
        return tuple(keys)

    @cached_property
    def api_keys(self) -> tuple[bytes, ...]:
        """The accepted Api-Key values, whatever their stores."""
        return tuple(key.secret for key in self.storefront_keys)

    @cached_property
    def secret_key(self) -> bytes:
        """The key that signs payment links and the demo's cookies (made as the Api-Key
        file is, when first asked for)."""
        return secret_key(self.settings)


@asynccontextmanager
async def bootstrap(settings: Settings | None = None, *, db: Database | None = None,
                    gateway: MountedGateway | None = None, migrate: bool | None = None
                    ) -> AsyncIterator[Container]:
    """The application container for ``settings``, valid while the block runs.

    ``db``: a database the caller opened and closes (tests); by default one is opened from
    the settings and closed when the block ends. ``gateway``: the simulated test gateway
    the caller serves; it becomes the test gateway's provider and runs with the block.
    ``migrate``: apply pending migrations first (default: ``settings.auto_migrate``).
    """
    settings = settings or Settings()
    database = db or Database.from_url(settings.effective_database_url,
                                       pool_size=settings.db_pool_size)
    try:
        if settings.auto_migrate if migrate is None else migrate:
            await upgrade_engine(database.engine)
        storage = SqlStorage(database)
        stores = StoreDirectory(storage)
        providers = payment_providers(settings, gateway)
        orders = Orders(storage)
        checkout = Checkout(storage, stores, providers,
                            token_ttl=timedelta(minutes=settings.checkout_token_minutes))
        staff = StaffAccounts(storage, stores, Argon2Passwords())
        kasse = Container(
            settings=settings, database=database, storage=storage, stores=stores,
            orders=orders, checkout=checkout,
            order_management=OrderManagement(storage, stores, checkout.provider_for),
            payment_providers=providers,
            webhook_endpoints=WebhookEndpoints(SqlWebhookStorage(database)),
            order_queries=OrderQueries(SqlOrderSearch(database), stores, orders),
            staff=staff, api_tokens=ApiTokens(storage, staff),
            emails=EmailMessages(SqlEmailStorage(database), storage, stores),
            gateway=gateway)
        async with AsyncExitStack() as stack:
            if gateway is not None:
                gateway.config.merchants.update(test_gateway_merchants(await stores.warm_up()))
                await stack.enter_async_context(gateway.app.router.lifespan_context(gateway.app))
            yield kasse
    finally:
        if db is None:
            await database.dispose()


def run_with_container(work: Callable[[Container], Awaitable[T]],
                       settings: Settings | None = None, *,
                       migrate: bool | None = None) -> T:
    """``work`` done with a container of its own in a new event loop, as each ``kasse``
    command runs; the database is closed when it returns."""

    async def main() -> T:
        async with bootstrap(settings, migrate=migrate) as kasse:
            return await work(kasse)

    return asyncio.run(main())


def process_metrics() -> PrometheusMetrics:
    """The process's metrics (Prometheus): request latencies, and the counts the services
    report through ``services.telemetry``."""
    return PrometheusMetrics()


DATABASE_ERROR: type[Exception] = DBAPIError
"""What the database adapter raises when a statement fails; ``database_unavailable`` says
which of those mean the database is out of reach, worth a retry (the API's 503)."""

database_unavailable: Callable[[BaseException], bool] = unavailable


WEBHOOK_STOP_SECONDS = 20.0
"""How long stopping waits for webhook requests under way (each is cut at 15 s)."""


@asynccontextmanager
async def running_webhook_worker(kasse: Container) -> AsyncIterator[None]:
    """A webhook delivery worker running in this process's event loop while the block
    runs; on exit it finishes the requests under way and records them."""
    settings = kasse.settings
    async with HttpWebhookSender() as sender:
        deliveries = WebhookDeliveries(
            SqlWebhookStorage(kasse.database), sender,
            worker=f"{socket.gethostname()}:{os.getpid()}",
            policy=RetryPolicy(base=timedelta(seconds=settings.webhook_retry_base_seconds)),
            batch=settings.webhook_concurrency)
        worker = WebhookWorker(deliveries, poll_interval=settings.webhook_poll_seconds)
        stop_waking = on_outbox_commit(kasse.database.engine, worker.wake)
        task = asyncio.create_task(worker.run(), name="kasse-webhook-worker")
        try:
            yield
        finally:
            stop_waking()
            worker.stop()
            done, _ = await asyncio.wait({task}, timeout=WEBHOOK_STOP_SECONDS)
            if not done:  # a lease left behind runs out; another worker sends it again
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task


def email_transport(settings: Settings) -> EmailTransport:
    """The mail server of the settings, or ``.eml`` files in the data folder without one."""
    if not settings.smtp_host:
        return FileTransport(settings.email_dir)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpTransport(settings.smtp_host, settings.smtp_port or None,
                         security=settings.smtp_security,
                         username=settings.smtp_username or None, password=password,
                         timeout=settings.smtp_timeout_seconds,
                         ca_file=settings.smtp_ca_file or None)


EMAIL_STOP_SECONDS = 40.0
"""How long stopping waits for messages being handed over (each SMTP step is cut at
``KASSE_SMTP_TIMEOUT_SECONDS``)."""


@asynccontextmanager
async def running_email_worker(kasse: Container) -> AsyncIterator[None]:
    """A worker sending the shopper's emails in this process's event loop while the block
    runs; on exit it finishes the messages being handed over and records them."""
    settings = kasse.settings
    transport = email_transport(settings)
    if not settings.smtp_host:
        log.info("no SMTP settings (KASSE_SMTP_HOST): the shopper's emails are written to "
                 "%s", settings.email_dir.resolve())
    deliveries = EmailDeliveries(
        SqlEmailStorage(kasse.database), kasse.storage, kasse.stores, transport,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        policy=RetryPolicy(base=timedelta(seconds=settings.email_retry_base_seconds)),
        lease=timedelta(seconds=settings.email_lease_seconds))
    worker = EmailWorker(deliveries, poll_interval=settings.email_poll_seconds)
    stop_waking = on_outbox_commit(kasse.database.engine, worker.wake)
    task = asyncio.create_task(worker.run(), name="kasse-email-worker")
    try:
        yield
    finally:
        stop_waking()
        worker.stop()
        done, _ = await asyncio.wait({task}, timeout=EMAIL_STOP_SECONDS)
        if not done:  # a lease left behind runs out (a mark: the message is unconfirmed)
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
