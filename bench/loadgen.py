"""The load generator: virtual shoppers walking a journey again and again for a while.

Each shopper is a task sharing one aiohttp session (one keep-alive connection per
shopper and server). Every call is timed by its name; a journey counts when all its calls
answered what the journey expects. Calls of the first ``warmup`` seconds are not measured
(connections, caches and the database warm up then) but their orders are still counted
by the end check.

The client is aiohttp because the measuring instrument must stay small next to what it
measures: a call to the bare baseline takes about 0.2 ms through aiohttp (its HTTP parser
is compiled) and about 1 ms through httpx, which would add some 8 ms to a ten-call journey.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

CALL_HEADER = "Bench-Call"
"""Names the call on every request; kasse ignores it, the baseline answers by it."""


class CallFailed(Exception):
    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}")
        self.name = name


@dataclass
class Recorded:
    """One call of a journey as sent and answered, to replay against the baseline."""

    name: str
    method: str
    path: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    response_headers: list[tuple[str, str]]
    response_body: bytes


@dataclass
class Stats:
    measuring: bool = False
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    journeys: list[float] = field(default_factory=list)
    failed_journeys: int = 0
    finalized: int = 0
    """Orders finalized by journeys of the whole phase, warm-up included."""
    server_calls: int = 0
    """Measured calls that reached the server under test (not the payment gateway)."""
    order: dict[str, int] = field(default_factory=dict)
    """Call names in the order a journey makes them (seen from the first journey on)."""

    def call(self, name: str, seconds: float, ok: bool, on_server: bool) -> None:
        self.order.setdefault(name, len(self.order))
        if not self.measuring:
            return
        if ok:
            self.latencies.setdefault(name, []).append(seconds)
        else:
            self.errors[name] = self.errors.get(name, 0) + 1
        if on_server:
            self.server_calls += 1


@dataclass(frozen=True)
class Answer:
    """A response as the journeys read it."""

    status_code: int
    headers: Mapping[str, str]
    """Case-insensitive."""
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


def _body(json: Any, data: dict[str, str] | None, content: bytes | None
          ) -> tuple[bytes | None, str | None]:
    """The request body exactly as sent (so that it can be replayed) and its type."""
    if json is not None:
        return jsonlib.dumps(json).encode(), "application/json"
    if data is not None:
        return urlencode(data).encode(), "application/x-www-form-urlencoded"
    return content, None


def _client(concurrency: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=concurrency * 2, force_close=False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60),
                                 auto_decompress=False)


@dataclass
class Shopper:
    """One virtual shopper: a browser and the storefront server behind it."""

    http: aiohttp.ClientSession
    stats: Stats
    base: str
    """The server under test, e.g. ``http://127.0.0.1:8080``."""
    state: dict[str, Any] = field(default_factory=dict)
    recording: list[Recorded] | None = None

    async def call(self, name: str, method: str, url: str, *, expect: int = 200,
                   headers: dict[str, str] | None = None, json: Any = None,
                   data: dict[str, str] | None = None, content: bytes | None = None,
                   on_server: bool = True, call_id: str | None = None) -> Answer:
        """Sends one request; raises ``CallFailed`` unless it answers ``expect``.

        ``call_id`` (default: ``name``) goes in the ``Bench-Call`` header.
        """
        if url.startswith("/"):
            url = self.base + url
        sent = {CALL_HEADER: call_id or name, **(headers or {})}
        body, content_type = _body(json, data, content)
        if content_type is not None:
            sent["Content-Type"] = content_type
        started = time.perf_counter()
        try:
            async with self.http.request(method, url, headers=sent, data=body,
                                         allow_redirects=False) as response:
                answer = Answer(response.status, response.headers, await response.read())
                path = response.url.raw_path_qs
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.stats.call(name, time.perf_counter() - started, False, on_server)
            raise CallFailed(name, f"{type(exc).__name__}: {exc}") from None
        elapsed = time.perf_counter() - started
        ok = answer.status_code == expect
        self.stats.call(name, elapsed, ok, on_server)
        if not ok:
            raise CallFailed(name, f"{method} {url} answered {answer.status_code}: "
                                   f"{answer.text[:300]}")
        if self.recording is not None and on_server:
            self.recording.append(Recorded(
                name=name, method=method, path=path,
                request_headers={k: v for k, v in sent.items()
                                 if k.lower() in ("content-type", "api-key", "store",
                                                  "mode", "origin")},
                request_body=body or b"", status=answer.status_code,
                response_headers=[(k, v) for k, v in answer.headers.items()
                                  if k.lower() not in ("date", "server", "content-length")],
                response_body=answer.content))
        return answer


Journey = Callable[[Shopper], Awaitable[bool]]
"""Walks one journey; answers whether it finalized an order."""


@dataclass
class PhaseResult:
    stats: Stats
    seconds: float
    server_cpu: float
    client_cpu: float


async def run_phase(journey: Journey, setup: Journey | None, base: str, concurrency: int,
                    duration: float, warmup: float, cpu: Callable[[], float]) -> PhaseResult:
    """``concurrency`` shoppers walk ``journey`` for ``warmup + duration`` seconds.

    No journey starts after the deadline; those under way finish. ``cpu`` reads the
    server's CPU seconds so far.
    """
    stats = Stats()
    async with _client(concurrency) as http:
        shoppers = [Shopper(http, stats, base) for _ in range(concurrency)]
        if setup is not None:
            await asyncio.gather(*(setup(s) for s in shoppers))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + warmup + duration
        marks: dict[str, float] = {}

        async def start_measuring() -> None:
            await asyncio.sleep(warmup)
            marks["cpu"], marks["client"] = cpu(), time.process_time()
            marks["start"] = time.perf_counter()
            stats.measuring = True

        async def walk(shopper: Shopper) -> None:
            while loop.time() < deadline:
                measured = stats.measuring
                started = time.perf_counter()
                try:
                    finalized = await journey(shopper)
                except CallFailed as exc:
                    if measured:
                        stats.failed_journeys += 1
                    if len(stats.error_samples) < 5:
                        stats.error_samples.append(str(exc))
                    continue
                if finalized:
                    stats.finalized += 1
                if measured:
                    stats.journeys.append(time.perf_counter() - started)

        await asyncio.gather(start_measuring(), *(walk(s) for s in shoppers))
        seconds = time.perf_counter() - marks["start"]
        return PhaseResult(stats, seconds, cpu() - marks["cpu"],
                           time.process_time() - marks["client"])


async def record_journey(journey: Journey, setup: Journey | None, base: str
                         ) -> list[Recorded]:
    """Walks one journey and returns its server calls as sent and answered."""
    stats = Stats()
    async with _client(1) as http:
        shopper = Shopper(http, stats, base)
        if setup is not None:
            await setup(shopper)
        shopper.recording = []
        await journey(shopper)
        return shopper.recording
