"""The shopper's session: a signed, HttpOnly cookie holding the cart's order id.

The demo keeps no server-side state, so that any number of kasse processes can serve it:
everything it remembers about a shopper travels in one cookie, signed with HMAC-SHA256 so
that a shopper cannot point it at someone else's order. The cookie also carries the
per-session CSRF token that every form repeats.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "kasse_demo"
COOKIE_PATH = "/demo"
MAX_AGE = 7 * 24 * 3600
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


class SessionCodec:
    """Turns a session into a signed cookie value and back; anything tampered is dropped."""

    def __init__(self, secret: bytes) -> None:
        # A key of its own, so a demo cookie can never be replayed as a payment link.
        self._key = hmac.new(secret, b"kasse storefront demo session", hashlib.sha256).digest()

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def dump(self, session: DemoSession) -> str:
        data = {k: v for k, v in asdict(session).items() if v is not None}
        payload = json.dumps(data, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def load(self, value: str | None) -> DemoSession:
        if not value or value.count(".") != 1:
            return DemoSession()
        encoded, signature = value.split(".")
        try:
            payload, given = _unb64(encoded), _unb64(signature)
        except (binascii.Error, ValueError):
            return DemoSession()
        if not hmac.compare_digest(self._sign(payload), given):
            return DemoSession()
        try:
            return _session_from(json.loads(payload))
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
