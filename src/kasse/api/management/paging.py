"""Cursors of the management API's lists: opaque to the caller, the (time, id) key of the
last item of a page, so that the next page starts right after it however many items
arrive meanwhile."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from uuid import UUID

from kasse.api.problems import ApiProblem

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(at: datetime, item_id: UUID) -> str:
    raw = json.dumps([at.isoformat(), str(item_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    """The key a cursor stands for; a cursor kasse did not make is a 400."""
    if cursor is None or not cursor.strip():
        return None
    text = cursor.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        at, item_id = json.loads(raw)
        key = datetime.fromisoformat(at), UUID(item_id)
    except (binascii.Error, ValueError, TypeError):
        raise ApiProblem(400, "cursor is not one this list gave out; start again without "
                              "it", "invalid-cursor") from None
    if key[0].tzinfo is None:
        raise ApiProblem(400, "cursor is not one this list gave out", "invalid-cursor")
    return key
