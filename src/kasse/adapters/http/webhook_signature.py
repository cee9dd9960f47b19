"""The ``Kasse-Signature`` header of merchant webhooks: how kasse signs, and how a receiver
written in Python verifies.

``Kasse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``, keyed
with the endpoint's secret. The timestamp is signed with the body, so an old request
replayed later is refused by its age; several ``v1`` values may appear (any one that
matches is enough), which leaves room for rotating a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Kasse-Signature"
SCHEME = "v1"
TOLERANCE_SECONDS = 300
"""How old (or how far in the future) a signed request may be and still verify."""
TIMESTAMP_DIGITS = 12
"""The most digits a timestamp may have (Unix seconds need 10 until the year 2286)."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},{SCHEME}={signature(secret, timestamp, body)}"


def _is_timestamp(value: str) -> bool:
    # Only ASCII digits: str.isdigit() alone also passes "²", which int() refuses, and
    # other scripts' digits, which int() reads but kasse never signs.
    return 0 < len(value) <= TIMESTAMP_DIGITS and value.isascii() and value.isdigit()


def verify(secret: str, body: bytes, header: str, *, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """Whether ``header`` signs exactly ``body`` with ``secret``, recently enough.

    Give it the raw request body, before any JSON parsing: a re-serialized body does
    not verify.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and _is_timestamp(value):
            timestamp = int(value)
        elif key == SCHEME:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).encode("ascii")
    # Every candidate is compared, in constant time, so timing tells nothing.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    return matched
