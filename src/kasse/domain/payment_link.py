"""Payment links: a signed, expiring token that opens one open cart, e.g. sent by email
so that someone else can pay it.

A token is ``pl1.<payload>.<signature>``: the payload (base64url JSON) names the store,
the order and the expiry; the signature is an HMAC-SHA256 of the version and payload
with the server's secret key. Nothing is stored: a link is valid while the key is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from kasse.domain.errors import InvalidInput, NotFound

PREFIX = "pl1"


class PaymentLinkInvalid(NotFound):
    code = "payment_link_invalid"


class PaymentLinkExpired(InvalidInput):
    code = "payment_link_expired"


@dataclass(frozen=True, slots=True)
class PaymentLink:
    store_id: UUID
    order_id: UUID
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, f"{PREFIX}.{payload}".encode(), hashlib.sha256).digest())


def looks_like_link(value: str) -> bool:
    return value.startswith(PREFIX + ".")


def sign(key: bytes, link: PaymentLink) -> str:
    payload = _b64(json.dumps({"s": link.store_id.hex, "o": link.order_id.hex,
                               "e": int(link.expires_at.timestamp())},
                              separators=(",", ":")).encode())
    return f"{PREFIX}.{payload}.{_signature(key, payload)}"


def verify(key: bytes, token: str, now: datetime) -> PaymentLink:
    """The link a token stands for; a forged or garbled token is "not found"."""
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX or len(token) > 500 or not token.isascii():
        raise PaymentLinkInvalid("no order for this payment link")
    payload, signature = parts[1], parts[2]
    # As bytes: compare_digest raises on a str with non-ASCII characters.
    given = signature.encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(_signature(key, payload).encode("ascii"), given):
        raise PaymentLinkInvalid("no order for this payment link")
    try:
        data = json.loads(_unb64(payload))
        link = PaymentLink(UUID(hex=data["s"]), UUID(hex=data["o"]),
                           datetime.fromtimestamp(int(data["e"]), UTC))
    except (ValueError, KeyError, TypeError):
        raise PaymentLinkInvalid("no order for this payment link") from None
    if now >= link.expires_at:
        expired = link.expires_at.strftime("%Y-%m-%d %H:%M")
        raise PaymentLinkExpired(f"this payment link expired at {expired} UTC; ask the shop "
                                 "for a new one")
    return link
