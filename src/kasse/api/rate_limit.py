"""Per-client rate limits on the endpoints anyone may call without a key: the hosted
checkout's token and pay pages. A token bucket per client address refills at ``rate``
requests per minute up to ``burst``; an empty bucket is a 429 problem with
``Retry-After``. Buckets live in each worker process (a client spread over N workers
gets up to N times the rate), bounded in number so that many addresses cannot exhaust
memory."""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from kasse.services import telemetry

KEYLESS = re.compile(r"/v1/checkout/[^/]+/(token|pay/[^/]+(/(completed|canceled|errored))?)$")
# A browser asking a provider for what it needs to pay inline (``?create=…``); gateways'
# own notifications (POST) are never limited.
CLIENT_PAYMENT = "/umbraco/commerce/payment/callback/"
PROBLEM = "urn:kasse:problem:rate-limited"


class TokenBuckets:
    def __init__(self, rate_per_minute: float, burst: int, max_clients: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """Take one token; 0 when allowed, else the seconds until one is available."""
        now = self.clock()
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate if self.rate > 0 else 60.0
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)  # the longest unseen client
        return wait


class RateLimit:
    def __init__(self, app: ASGIApp, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets

    @staticmethod
    def _limited(scope: Scope) -> bool:
        path: str = scope["path"]
        if path.startswith(CLIENT_PAYMENT):
            return scope["method"] == "GET" and b"create=" in scope.get("query_string", b"")
        return KEYLESS.search(path) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._limited(scope):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.buckets.take(client[0] if client else "unknown")
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = ("token" if path.endswith("/token") else
                 "client_payment" if path.startswith(CLIENT_PAYMENT) else "pay")
        telemetry.count("rate_limited", route=route)
        retry = max(1, math.ceil(wait))
        body = orjson.dumps({
            "type": PROBLEM, "title": "Too Many Requests", "status": 429,
            "detail": f"too many checkout requests from this address; try again in "
                      f"{retry} s"})
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry).encode())]})
        await send({"type": "http.response.body", "body": body})
