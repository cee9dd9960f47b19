"""The shopper's session: a signed, HttpOnly cookie holding the cart's order id.

The demo keeps no server-side state, so that any number of kasse processes can serve it:
everything it remembers about a shopper travels in one cookie, signed with HMAC-SHA256 so
that a shopper cannot point it at someone else's order. The signature covers the time the
cookie was issued, so a copy kept past the cookie's Max-Age no longer works. The cookie
also carries the per-session CSRF token that every form repeats.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from itsdangerous import BadData, TimestampSigner
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "kasse_demo"
COOKIE_PATH = "/demo"
MAX_AGE = 7 * 24 * 3600
"""Seconds a session cookie is good for after it was last issued (every page renews it)."""
CLOCK_SKEW = 60
"""Seconds a cookie may seem to come from the future: the clocks of several servers behind
one shop may differ a little."""
CSRF_FIELD = "csrf"


@dataclass
class HostedCheckout:
    """A hosted checkout under way: the token and pay URL kasse issued for the cart."""

    order_id: str
    token: str
    pay_url: str


@dataclass
class DemoSession:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    cart_id: str | None = None
    placed_id: str | None = None
    """The last order placed, for the confirmation page after the cart is gone."""
    currency: str | None = None
    hosted: HostedCheckout | None = None
    flash: str | None = None
    """A message for the next page shown (an API error after a form post)."""
    flash_kind: str = "error"

    def say(self, message: str, kind: str = "error") -> None:
        self.flash, self.flash_kind = message, kind

    def take_flash(self) -> tuple[str, str] | None:
        if self.flash is None:
            return None
        message, kind = self.flash, self.flash_kind
        self.flash, self.flash_kind = None, "error"
        return message, kind

    def csrf_matches(self, given: object) -> bool:
        """Whether a form's token is this session's, compared in constant time."""
        if not isinstance(given, str) or not given:
            return False
        return hmac.compare_digest(given.encode(), self.csrf.encode())


class _DatedSigner(TimestampSigner):
    """itsdangerous' timestamp signer, telling the time by ``clock``."""

    def __init__(self, secret: bytes, clock: Callable[[], float]) -> None:
        # A key of its own (derived with the salt), so a demo cookie can never be replayed
        # as a payment link.
        super().__init__(secret, salt=b"kasse storefront demo session",
                         key_derivation="hmac", digest_method=hashlib.sha256)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock())


class SessionCodec:
    """Turns a session into a signed, dated cookie value and back; a value tampered with,
    signed with another key or older than ``MAX_AGE`` is dropped (a new session)."""

    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._signer = _DatedSigner(secret, clock)

    def dump(self, session: DemoSession) -> str:
        data = {k: v for k, v in asdict(session).items() if v is not None}
        payload = json.dumps(data, separators=(",", ":")).encode()
        return self._signer.sign(_b64(payload)).decode("ascii")

    def load(self, value: str | None) -> DemoSession:
        if not value:
            return DemoSession()
        try:
            encoded, issued = self._signer.unsign(value, return_timestamp=True)
        except BadData:
            return DemoSession()
        # Checked here rather than by unsign's max_age, which refuses a cookie dated even
        # a second ahead of this server's clock.
        if not -CLOCK_SKEW <= self._clock() - issued.timestamp() <= MAX_AGE:
            return DemoSession()
        try:
            return _session_from(json.loads(_unb64(encoded.decode("ascii"))))
        except (ValueError, TypeError, KeyError):
            return DemoSession()

    def read(self, request: Request) -> DemoSession:
        return self.load(request.cookies.get(COOKIE))

    def write(self, response: Response, session: DemoSession, *, secure: bool) -> None:
        response.set_cookie(COOKIE, self.dump(session), max_age=MAX_AGE, path=COOKIE_PATH,
                            httponly=True, samesite="lax", secure=secure)


def _session_from(data: Any) -> DemoSession:
    if not isinstance(data, dict):
        raise ValueError("not an object")
    known = {f.name for f in fields(DemoSession)}
    values = {k: v for k, v in data.items() if k in known}
    hosted = values.pop("hosted", None)
    session = DemoSession(**values)
    if hosted is not None:
        session.hosted = HostedCheckout(**hosted)
    if not isinstance(session.csrf, str) or len(session.csrf) < 16:
        raise ValueError("no usable CSRF token")
    return session


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
