"""A real SMTP server for the tests (aiosmtpd on loopback, in a thread of its own): it
keeps every message it accepts, can hold its answer to a message (to cut a sender off at
the worst moment), and can require STARTTLS and a login."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.integration.hosted import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        with self.server.lock:
            self.server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                                 envelope.original_content or envelope.content))
        if self.server.hold:  # the message is here; the answer waits
            self.server.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.server.release.wait)
        return "250 2.0.0 queued as test"


class MailServer:
    def __init__(self, port: int | None = None, *, hold: bool = False,
                 tls_context: ssl.SSLContext | None = None,
                 login: tuple[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.hold = hold
        self.holding = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.received: list[Received] = []
        kwargs: dict[str, Any] = {}
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        if login is not None:
            def authenticate(_server: Any, _session: Any, _envelope: Any, mechanism: str,
                             data: Any) -> AuthResult:
                ok = isinstance(data, LoginPassword) and (
                    data.login.decode(), data.password.decode()) == login
                return AuthResult(success=ok, handled=False)
            kwargs.update(authenticator=authenticate, auth_required=True,
                          auth_require_tls=tls_context is not None)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     **kwargs)

    @contextmanager
    def running(self) -> Iterator[MailServer]:
        self.controller.start()
        try:
            yield self
        finally:
            self.release.set()
            self.controller.stop()

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages()
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"expected {count} messages, got {len(self.messages())}")
