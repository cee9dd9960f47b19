"""A merchant's webhook endpoint for tests: a real HTTP server on loopback, in a thread,
that records every request and answers as it is told."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int
    """What the receiver answered."""

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_id(self) -> str:
        return self.headers["kasse-event-id"]


class Receiver:
    """Answers with ``answers`` in turn, then ``200``; ``delay`` seconds before each answer;
    while ``hold`` is set, requests wait (a receiver that hangs) until it is cleared."""

    def __init__(self, answers: list[int] | None = None, delay: float = 0.0,
                 answer_body: bytes = b'{"received":true}') -> None:
        self.answers = list(answers or [])
        self.delay = delay
        self.answer_body = answer_body
        self.hold = threading.Event()
        self._released = threading.Event()
        self.received: list[Received] = []
        self.arrived: list[bytes] = []
        """Bodies as they arrive, before any answer (for a receiver that hangs)."""
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def release(self) -> None:
        self.hold.clear()
        self._released.set()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length", "0"))
        body = handler.rfile.read(length)
        with self._lock:
            self.arrived.append(body)
            status = self.answers.pop(0) if self.answers else 200
        if self.hold.is_set():
            self._released.wait(timeout=60)
        if self.delay:
            time.sleep(self.delay)
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(self.answer_body)))
            handler.end_headers()
            handler.wfile.write(self.answer_body)
        except OSError:  # the sender is gone (killed, or it gave up waiting)
            return
        with self._lock:
            self.received.append(Received(
                {k.lower(): v for k, v in handler.headers.items()}, body, status))

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.release()
            self._server.shutdown()
            self._server.server_close()

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """At least ``count`` answered requests, or fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.requests()
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"the receiver got {len(self.requests())} requests within "
                             f"{timeout} s, expected {count}")
