"""Signatures shared by the test gateway and the merchant talking to it.

Everything is HMAC-SHA256 with the merchant's shared secret, written as lowercase hex, and
every comparison is constant-time. Three things are signed:

* the payment form the merchant's page posts to the gateway (:func:`sign_fields`),
* the query the gateway appends when it sends the shopper back (:func:`sign_return`),
* the body of every webhook, together with a timestamp (:func:`sign_webhook`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

__all__ = [
    "RETURN_QUERY_PARAMS",
    "WEBHOOK_SIGNATURE_HEADER",
    "canonical_fields",
    "sign_fields",
    "sign_return",
    "sign_webhook",
    "verify_fields",
    "verify_return",
    "verify_webhook",
]

WEBHOOK_SIGNATURE_HEADER = "TestGateway-Signature"
"""Header carrying ``t=<unix seconds>,v1=<hex signature>`` on every webhook."""

RETURN_QUERY_PARAMS = ("payment_id", "status", "reference", "amount", "currency", "t", "sig")
"""Query parameters the gateway appends to the merchant's return URLs."""

SIGNATURE_FIELD = "signature"


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def canonical_fields(fields: Mapping[str, str]) -> str:
    """The string a form signature covers: ``key=value`` lines sorted by key.

    The ``signature`` field itself is left out.
    """
    return "\n".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != SIGNATURE_FIELD)


def _unambiguous(fields: Mapping[str, str]) -> bool:
    # Line breaks in values (or ``=`` in keys) would let two different forms share one
    # canonical string, so such forms are never accepted as signed.
    for key, value in fields.items():
        if not isinstance(key, str) or not isinstance(value, str):
            return False
        if "=" in key or any(c in key or c in value for c in "\r\n"):
            return False
    return True


def sign_fields(secret: str, fields: Mapping[str, str]) -> str:
    """Signature of a payment form: hex HMAC over :func:`canonical_fields`."""
    return _hmac_hex(secret, canonical_fields(fields).encode("utf-8"))


def verify_fields(secret: str, fields: Mapping[str, str]) -> bool:
    """Whether ``fields["signature"]`` signs the other fields.

    Forms with a line break in a key or value, or ``=`` in a key, never verify.
    """
    given = fields.get(SIGNATURE_FIELD)
    if not isinstance(given, str) or not given or not _unambiguous(fields):
        return False
    return _same(sign_fields(secret, fields), given)


def sign_webhook(secret: str, body: bytes, timestamp: int) -> str:
    """Value of the :data:`WEBHOOK_SIGNATURE_HEADER` header: ``t=<timestamp>,v1=<hex>``."""
    signature = _hmac_hex(secret, f"{int(timestamp)}.".encode() + body)
    return f"t={int(timestamp)},v1={signature}"


def _is_timestamp(value: str) -> bool:
    return 0 < len(value) <= 12 and value.isascii() and value.isdigit()


def _parse_signature_header(header: str) -> tuple[int, list[str]] | None:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return None
        if key == "t":
            if timestamp is not None or not _is_timestamp(value):
                return None
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def verify_webhook(secret: str, body: bytes, header: str | None, *,
                   now: float | None = None, tolerance: int = 300) -> bool:
    """Whether ``header`` (the :data:`WEBHOOK_SIGNATURE_HEADER` value) signs ``body``.

    False when the header is missing or garbled, no ``v1`` signature matches, or its
    timestamp is more than ``tolerance`` seconds away from ``now`` (default: the clock).
    """
    if not header:
        return False
    parsed = _parse_signature_header(header)
    if parsed is None:
        return False
    timestamp, signatures = parsed
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = _hmac_hex(secret, f"{timestamp}.".encode() + body)
    # Check every candidate so the time taken does not depend on which one matched.
    matches = [_same(expected, candidate) for candidate in signatures]
    return any(matches)


def sign_return(secret: str, payment_id: str, status: str, reference: str,
                timestamp: int, amount: str, currency: str) -> str:
    """The ``sig`` query parameter of a return URL: hex HMAC over
    ``t.payment_id.status.reference.amount.currency``."""
    message = f"{int(timestamp)}.{payment_id}.{status}.{reference}.{amount}.{currency}"
    return _hmac_hex(secret, message.encode("utf-8"))


def verify_return(secret: str, query: Mapping[str, str], *, now: float | None = None,
                  tolerance: int = 3600) -> bool:
    """Whether a return query (``payment_id``, ``status``, ``reference``, ``amount``,
    ``currency``, ``t``, ``sig``) was signed by the gateway no more than ``tolerance``
    seconds away from ``now``."""
    values = [query.get(name) for name in RETURN_QUERY_PARAMS]
    if any(value is None or not isinstance(value, str) for value in values):
        return False
    payment_id, status, reference, amount, currency, stamp, sig = (str(v) for v in values)
    if not _is_timestamp(stamp):
        return False
    timestamp = int(stamp)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    return _same(sign_return(secret, payment_id, status, reference, timestamp, amount,
                             currency), sig)
