"""The composition root: settings, database, key material and the app, wired once."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette

from kasse.adapters.db.database import Database
from kasse.adapters.db.webhook_repository import SqlWebhookStorage, on_outbox_commit
from kasse.adapters.http.webhook_sender import HttpWebhookSender
from kasse.config import Settings
from kasse.domain.store import StoreConfig
from kasse.domain.webhooks import RetryPolicy
from kasse.payments.registry import ProviderRegistry
from kasse.payments.testgateway import GatewayConfig, create_gateway_app
from kasse.payments.testgateway_provider import TEST_GATEWAY
from kasse.services.webhooks import WebhookDeliveries, WebhookWorker

log = logging.getLogger("kasse")


def api_keys(settings: Settings) -> tuple[list[bytes], bool]:
    """The accepted Api-Key values, and whether this call generated kasse's key file.

    Configured keys (``KASSE_API_KEYS``) win. Without them, kasse keeps one random key in
    ``data_dir/api-key`` (created once, readable by the owner only, the same for every
    worker) so that a fresh install is never open.
    """
    configured = [k.get_secret_value().encode() for k in settings.api_keys]
    if configured:
        return configured, False
    key, generated = _generated_once(
        settings.api_key_file, lambda: "kasse_" + secrets.token_urlsafe(24), "KASSE_API_KEYS")
    return [key], generated


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


WEBHOOK_STOP_SECONDS = 20.0
"""How long stopping waits for webhook requests under way (each is cut at 15 s)."""


@asynccontextmanager
async def running_webhook_worker(settings: Settings, db: Database) -> AsyncIterator[None]:
    """A webhook delivery worker running in this process's event loop while the block
    runs; on exit it finishes the requests under way and records them."""
    async with HttpWebhookSender() as sender:
        deliveries = WebhookDeliveries(
            SqlWebhookStorage(db), sender, worker=f"{socket.gethostname()}:{os.getpid()}",
            policy=RetryPolicy(base=timedelta(seconds=settings.webhook_retry_base_seconds)),
            batch=settings.webhook_concurrency)
        worker = WebhookWorker(deliveries, poll_interval=settings.webhook_poll_seconds)
        stop_waking = on_outbox_commit(db.engine, worker.wake)
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
