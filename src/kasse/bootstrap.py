"""The composition root: settings, database, key material and the app, wired once."""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette

from kasse.config import Settings
from kasse.domain.store import StoreConfig
from kasse.payments.testgateway import GatewayConfig, create_gateway_app
from kasse.payments.testgateway_provider import TEST_GATEWAY

log = logging.getLogger("kasse")


def api_keys(settings: Settings) -> tuple[list[bytes], bool]:
    """The accepted Api-Key values, and whether kasse generated one into its key file.

    Configured keys (``KASSE_API_KEYS``) win. Without them, kasse keeps one random key in
    ``data_dir/api-key`` (created once, readable by the owner only) so that a fresh
    install is never open.
    """
    configured = [k.get_secret_value().encode() for k in settings.api_keys]
    if configured:
        return configured, False
    path: Path = settings.api_key_file
    if path.exists():
        return [path.read_text(encoding="utf-8").strip().encode()], False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = "kasse_" + secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return [key.encode()], True


def secret_key(settings: Settings) -> bytes:
    """The key that signs payment links: configured, or generated once into the data
    folder (readable by the owner only) and shared by every worker reading it."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path: Path = settings.secret_key_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
    for _ in range(50):  # the creator may still be writing it
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text.encode()
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty; delete it or set KASSE_SECRET_KEY")


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
