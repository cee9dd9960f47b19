"""Idempotent actions: the same ``Idempotency-Key`` with the same request gets the same
answer and acts once; with another request it is refused; while the first is still
running, a second waits its turn."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from kasse.domain.errors import Conflict, InvalidInput

ABANDONED_AFTER = timedelta(minutes=5)
"""An action unanswered for this long died with its process; the key may act again."""

KEPT_FOR = timedelta(days=7)
"""How long answers are kept for retries."""


class KeyReused(InvalidInput):
    code = "idempotency_key_reused"


class KeyInUse(Conflict):
    code = "idempotency_key_in_use"


def request_fingerprint(method: str, path: str, body: bytes, key: bytes = b"") -> str:
    """What makes two requests "the same": method, path (with the order id) and body,
    keyed with the server's secret so that the stored fingerprint of a body that carries
    a secret cannot be tried against guesses."""
    digest = hmac.new(key, digestmod=hashlib.sha256)
    for part in (method.upper().encode(), path.encode("utf-8", "surrogateescape"), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    request_hash: str
    status_code: int | None
    """``None``: the first request is still running (or died)."""
    body: str | None
    headers: dict[str, str]
    started_at: datetime


class Verdict(Enum):
    REPLAY = "replay"
    TAKE_OVER = "take_over"


def judge(kept: KeptAnswer, request_hash: str, now: datetime) -> Verdict:
    """What to do with a request whose key was seen before; raises when it must not run."""
    if kept.request_hash != request_hash:
        raise KeyReused("this Idempotency-Key was used for a different request; use a new "
                        "key for a new action")
    if kept.status_code is not None:
        return Verdict.REPLAY
    if now - kept.started_at >= ABANDONED_AFTER:
        return Verdict.TAKE_OVER
    raise KeyInUse("a request with this Idempotency-Key is still being processed; retry "
                   "in a moment")
