"""Fast JSON responses (orjson); every body kasse sends is JSON unless it is a page."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import JSONResponse

from kasse.domain.order import Notice

NOTIFICATIONS = "Umb-Notifications"


class JsonResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def notifications_header(notices: list[Notice]) -> dict[str, str]:
    """The ``Umb-Notifications`` header: ASCII-only JSON, so any product name fits."""
    return {NOTIFICATIONS: json.dumps(
        [{"message": n.message, "category": n.category, "type": n.type} for n in notices],
        ensure_ascii=True)}
