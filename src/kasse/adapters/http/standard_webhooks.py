"""Merchant webhooks signed the Standard Webhooks way (https://www.standardwebhooks.com),
so that a receiver verifies them with that project's libraries instead of a snippet.

``webhook-signature: v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<raw
body>">``, keyed with the bytes that the endpoint's ``whsec_<base64>`` secret encodes. The
signing itself is the ``standardwebhooks`` package's, the receivers' reference.
"""

from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks import Webhook

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes
                   ) -> dict[str, str]:
    """The three headers that sign ``body`` as message ``message_id`` sent at
    ``timestamp`` (unix seconds).

    ``message_id`` must stay the same on every attempt of one message: receivers
    deduplicate by it.
    """
    signature = Webhook(secret).sign(message_id, datetime.fromtimestamp(timestamp, UTC),
                                     body)
    return {ID_HEADER: message_id, TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature}
