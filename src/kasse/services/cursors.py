"""Opaque cursors for keyset pagination: where the next page of a list starts.

A cursor is the base64url of a small JSON document (which list it belongs to and the last
row's sort key) followed by a short checksum, so that a cursor that was cut, mangled or
edited by hand is refused (``InvalidInput`` naming the parameter) instead of quietly
starting a page somewhere else. It grants nothing: every page is still filtered by what
the caller may see.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from kasse.domain.errors import InvalidInput

_CHECK = 8
MAX_CURSOR = 1000


def _check(payload: bytes) -> bytes:
    return hashlib.sha256(b"kasse-cursor\0" + payload).digest()[:_CHECK]


def encode(kind: str, values: list[Any]) -> str:
    """A cursor of list ``kind`` holding ``values`` (JSON-able)."""
    payload = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload + _check(payload)).decode().rstrip("=")


def decode(kind: str, cursor: str, parameter: str = "cursor") -> list[Any]:
    """The values of a cursor of list ``kind``; ``InvalidInput`` naming ``parameter`` for
    anything else."""
    invalid = InvalidInput(f"{parameter}: not a cursor this list gave out; start again "
                           "without it")
    text = cursor.strip()
    if not text or len(text) > MAX_CURSOR:
        raise invalid
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise invalid from None
    payload, check = raw[:-_CHECK], raw[-_CHECK:]
    if len(raw) <= _CHECK or _check(payload) != check:
        raise invalid
    try:
        values = json.loads(payload)
    except ValueError:
        raise invalid from None
    if not isinstance(values, list) or not values or values[0] != kind:
        raise invalid
    return values[1:]
