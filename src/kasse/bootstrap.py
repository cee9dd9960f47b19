"""The composition root: settings, database, key material and the app, wired once."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from kasse.config import Settings

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
