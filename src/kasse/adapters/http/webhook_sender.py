"""POSTs merchant webhooks: one signed JSON request per attempt, with firm timeouts and
only the start of the answer read."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from types import TracebackType

import httpx

from kasse import __version__
from kasse.adapters.http import standard_webhooks
from kasse.adapters.http.webhook_signature import HEADER, sign
from kasse.domain.webhooks import (
    RESPONSE_BODY_BYTES,
    AttemptOutcome,
    WebhookFormat,
    WebhookMessage,
)

CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 15.0
ERROR_CHARS = 500


def encode(message: WebhookMessage) -> bytes:
    """The request body: the event's envelope as compact UTF-8 JSON."""
    return json.dumps(message.event.envelope(), ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def headers(message: WebhookMessage, body: bytes, timestamp: int) -> dict[str, str]:
    """The request's headers, signed in the endpoint's format. The ``Kasse-…`` ones that
    describe the event and the attempt go with either format."""
    signed: dict[str, str]
    if message.format is WebhookFormat.STANDARD:
        # The event id names the message: the same on every attempt, as the body's ``id``.
        signed = standard_webhooks.signed_headers(message.secret, str(message.event.id),
                                                  timestamp, body)
    else:
        signed = {HEADER: sign(message.secret, body, timestamp)}
    return {
        "Content-Type": "application/json",
        "User-Agent": f"kasse-webhooks/{__version__}",
        **signed,
        "Kasse-Event-Id": str(message.event.id),
        "Kasse-Event-Type": message.event.topic,
        "Kasse-Delivery-Id": str(message.delivery_id),
        "Kasse-Delivery-Attempt": str(message.attempt),
    }


class HttpWebhookSender:
    """Sends over one pooled ``httpx.AsyncClient``; use it as an async context manager."""

    def __init__(self, *, connect_timeout: float = CONNECT_TIMEOUT,
                 total_timeout: float = TOTAL_TIMEOUT,
                 clock: Callable[[], float] = time.time) -> None:
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.clock = clock
        # A redirect is not an answer: the merchant must register the final URL.
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(total_timeout, connect=connect_timeout),
            follow_redirects=False, trust_env=False)

    async def __aenter__(self) -> HttpWebhookSender:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.client.aclose()

    async def send(self, message: WebhookMessage) -> AttemptOutcome:
        """One attempt; the receiver's failures (no answer, an error status) come back
        as the outcome, never as an exception."""
        body = encode(message)
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        answer = b""
        try:
            # httpx's timeouts bound each phase; this bounds the whole request, so that a
            # receiver trickling its answer cannot hold the delivery's lease.
            async with asyncio.timeout(self.total_timeout):
                async with self.client.stream(
                        "POST", message.url, content=body,
                        headers=headers(message, body, int(self.clock()))) as response:
                    status = response.status_code
                    answer = await _prefix(response, RESPONSE_BODY_BYTES)
        except httpx.ConnectTimeout:
            error = f"no connection within {self.connect_timeout:g} s"
        except (TimeoutError, httpx.TimeoutException):
            error = f"no complete answer within {self.total_timeout:g} s"
        except Exception as exc:  # any failure of one receiver is that attempt's outcome
            error = f"{type(exc).__name__}: {exc}"
        # A status line that arrived stands even when its body did not: the receiver has
        # answered, and the body is only kept for the operator to read.
        return AttemptOutcome(
            status_code=status, error=error[:ERROR_CHARS] if error else None,
            body=answer.decode("utf-8", "replace"),
            duration_ms=round((time.perf_counter() - started) * 1000))


async def _prefix(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the body; the rest is never downloaded."""
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        kept += chunk[:limit - len(kept)]
        if len(kept) >= limit:
            break
    return bytes(kept)
