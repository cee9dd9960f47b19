"""Structured logs: one JSON object per line, with the request id of the request being served.

Paths are logged without their query string and with tokens blanked out (the pay page's
checkout token, payment link tokens), so that a log line never opens a payment page.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import time
from contextvars import ContextVar
from typing import Any

request_id: ContextVar[str | None] = ContextVar("kasse_request_id", default=None)
"""The id of the request this task serves (``X-Request-Id``), for every log line."""

_TOKEN_AFTER = re.compile(r"(/pay/)[^/]+")
_LINK_TOKEN = re.compile(r"/pl1\.[^/]+")
REDACTED = "[redacted]"

# Attributes every LogRecord has; anything else given with ``extra=`` goes into the line.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def redact_path(path: str) -> str:
    """The path as it may be logged: without the secrets some paths carry."""
    path = _TOKEN_AFTER.sub(lambda m: m.group(1) + REDACTED, path)
    return _LINK_TOKEN.sub("/" + REDACTED, path)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                    + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.get()
        if current is not None:
            line["requestId"] = current  # an explicit requestId (extra) wins below
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """The ``logging.config`` dictionary for kasse and the server underneath it.

    uvicorn's own access log is replaced by kasse's (``kasse.access``), which knows the
    request id and redacts paths.
    """
    formatter = ({"()": JsonFormatter} if fmt == "json"
                 else {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"kasse": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "kasse",
                                "stream": "ext://sys.stderr"}},
        "loggers": {
            "kasse": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def configure(level: str, fmt: str) -> None:
    logging.config.dictConfig(logging_config(level, fmt))
