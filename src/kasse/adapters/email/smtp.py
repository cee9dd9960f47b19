"""Handing messages to a mail server over SMTP (``aiosmtplib``): STARTTLS, implicit TLS or
plain, with or without authentication.

The SMTP conversation is taken one command at a time, so that an attempt knows where it
failed: anything before the message itself (connecting, TLS, login, sender, recipients)
left the server without the message, and is tried again later, or not at all after a
5xx answer; the message's own transfer (``DATA``) is preceded by the caller's record that
it is being handed over, and a connection lost during it leaves the outcome uncertain.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Literal

from aiosmtplib import (
    SMTP,
    SMTPDataError,
    SMTPException,
    SMTPRecipientRefused,
    SMTPResponseException,
)

from kasse.domain.emails import AttemptKind, Outgoing, SendOutcome

Security = Literal["starttls", "tls", "none"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}


def _refused(exc: SMTPResponseException, what: str) -> SendOutcome:
    kind = AttemptKind.PERMANENT if 500 <= exc.code < 600 else AttemptKind.TEMPORARY
    return SendOutcome(kind, f"{what}: {exc.code} {exc.message}"[:500], exc.code)


class SmtpTransport:
    def __init__(self, host: str, port: int | None = None, *, security: Security = "starttls",
                 username: str | None = None, password: str | None = None,
                 timeout: float = 30.0, ca_file: str | None = None) -> None:
        self.host = host
        self.port = port or DEFAULT_PORTS[security]
        self.security = security
        self.username = username or None
        self._password = password
        self.timeout = timeout
        self.ca_file = ca_file

    @property
    def via(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def _client(self) -> SMTP:
        context = None
        if self.security != "none":
            context = ssl.create_default_context(cafile=self.ca_file)
        return SMTP(hostname=self.host, port=self.port, username=self.username,
                    password=self._password if self.username else None,
                    use_tls=self.security == "tls",
                    start_tls=True if self.security == "starttls" else False,
                    timeout=self.timeout, tls_context=context)

    async def send(self, outgoing: Outgoing, handing_over: Callable[[], Awaitable[bool]]
                   ) -> SendOutcome:
        started = time.monotonic()
        outcome = await self._converse(outgoing, handing_over)
        return SendOutcome(outcome.kind, outcome.detail, outcome.code,
                           int((time.monotonic() - started) * 1000))

    async def _converse(self, outgoing: Outgoing,
                        handing_over: Callable[[], Awaitable[bool]]) -> SendOutcome:
        client = self._client()
        try:
            try:
                await client.connect()
            except SMTPResponseException as exc:  # a login refused: the settings are wrong
                return SendOutcome(AttemptKind.TEMPORARY,
                                   f"connecting: {exc.code} {exc.message}"[:500], exc.code)
            except (SMTPException, OSError) as exc:
                return SendOutcome(AttemptKind.TEMPORARY, f"connecting: {exc}"[:500])
            try:
                await client.mail(outgoing.mail_from)
                skipped = []
                for recipient in outgoing.rcpt_to:
                    try:
                        await client.rcpt(recipient)
                    except SMTPRecipientRefused as exc:
                        if recipient == outgoing.recipient:
                            return _refused(exc, f"the server refused {recipient}")
                        skipped.append(f"{recipient} ({exc.code})")
            except SMTPResponseException as exc:
                # The shop's own sender refused is the shop's setting to fix, not the
                # shopper's message: it goes out once the setting is right.
                return SendOutcome(AttemptKind.TEMPORARY,
                                   f"the server refused the sender: {exc.code} "
                                   f"{exc.message}"[:500], exc.code)
            except (SMTPException, OSError) as exc:
                return SendOutcome(AttemptKind.TEMPORARY, f"before the message: {exc}"[:500])
            if not await handing_over():
                return SendOutcome(AttemptKind.TEMPORARY,
                                   "not sent: another worker took the message over")
            try:
                response = await client.data(outgoing.mime)
            except SMTPDataError as exc:  # an answer: the server did not take it
                return _refused(exc, "the server refused the message")
            except (SMTPException, OSError) as exc:
                return SendOutcome(AttemptKind.UNCERTAIN,
                                   f"the connection broke while the message was handed "
                                   f"over: {exc}"[:500])
            detail = f"{response.code} {response.message}"
            if skipped:
                detail += f"; BCC refused: {', '.join(skipped)}"
            return SendOutcome(AttemptKind.SENT, detail[:500], response.code)
        finally:
            if client.is_connected:
                with suppress(SMTPException, OSError):
                    await client.quit()
                client.close()
