"""Messages written to ``.eml`` files instead of sent: what ``kasse serve`` does without
SMTP settings, so that the demo (and a developer) can open every message the shop sends."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from kasse.domain.emails import AttemptKind, Outgoing, SendOutcome

log = logging.getLogger("kasse.emails")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FileTransport:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def via(self) -> str:
        return f"file://{self.folder.resolve()}"

    def path_of(self, outgoing: Outgoing) -> Path:
        """One file per ``Message-ID``: an attempt made again writes the same file."""
        local = outgoing.message_id.strip("<>").partition("@")[0]
        return self.folder / f"{_UNSAFE.sub('-', local)[:80]}.eml"

    async def send(self, outgoing: Outgoing, handing_over: Callable[[], Awaitable[bool]]
                   ) -> SendOutcome:
        started = time.monotonic()
        if not await handing_over():
            return SendOutcome(AttemptKind.TEMPORARY,
                               "not written: another worker took the message over")
        path = self.path_of(outgoing)
        try:
            await asyncio.to_thread(self._write, path, outgoing.mime)
        except OSError as exc:
            return SendOutcome(AttemptKind.TEMPORARY, f"could not write {path}: {exc}"[:500])
        log.info("email %r written to %s (no SMTP settings: KASSE_SMTP_HOST is not set)",
                 outgoing.subject, path)
        return SendOutcome(AttemptKind.SENT, f"written to {path}"[:500],
                           duration_ms=int((time.monotonic() - started) * 1000))

    def _write(self, path: Path, mime: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".eml.partial")
        partial.write_bytes(mime.encode("ascii"))
        os.replace(partial, path)  # whole or not at all
