"""Endpoints in the Standard Webhooks format: how their requests are signed and what their
secrets look like, checked against the ``standardwebhooks`` package, a receiver's
reference, and the example published with the specification."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from kasse.adapters.http.standard_webhooks import signed_headers
from kasse.adapters.http.webhook_sender import encode, headers
from kasse.domain.errors import InvalidInput
from kasse.domain.webhooks import OutboxEvent, WebhookFormat, WebhookMessage
from kasse.services.webhook_endpoints import check_secret, new_secret

SECRET = new_secret(WebhookFormat.STANDARD)


def _message(format: WebhookFormat = WebhookFormat.STANDARD, secret: str = SECRET
             ) -> WebhookMessage:
    event = OutboxEvent(id=uuid4(), store_id=uuid4(), topic="order.finalized",
                        aggregate_id=uuid4(), payload={"orderNumber": "ORDER-00001",
                                                       "note": "Grüße"},
                        created_at=datetime(2025, 3, 1, 12, tzinfo=UTC))
    return WebhookMessage(delivery_id=uuid4(), lease="w/1", url="http://127.0.0.1:1/",
                          event=event, attempt=2, secret=secret, format=format)


def test_the_example_of_the_specification_is_signed_as_published() -> None:
    # The example in the Standard Webhooks specification, with its published signature.
    sent = signed_headers("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                          "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert sent == {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
                    "webhook-timestamp": "1614265330",
                    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}


def test_a_standard_request_verifies_with_the_receivers_library() -> None:
    message = _message()
    body = encode(message)
    sent = headers(message, body, int(time.time()))
    assert Webhook(SECRET).verify(body, sent) == message.event.envelope()
    assert sent["webhook-id"] == str(message.event.id)  # the body's id, on every attempt
    assert "Kasse-Signature" not in sent
    assert sent["Kasse-Event-Id"] == str(message.event.id)
    assert sent["Kasse-Delivery-Attempt"] == "2"


def test_a_changed_body_an_old_timestamp_or_another_secret_are_refused() -> None:
    message = _message()
    body = encode(message)
    sent = headers(message, body, int(time.time()))
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"ORDER-00001", b"ORDER-00002"), sent)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret(WebhookFormat.STANDARD)).verify(body, sent)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, {**sent, "webhook-id": str(uuid4())})
    stale = headers(message, body, int(time.time()) - 600)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, stale)


def test_a_kasse_request_carries_no_standard_headers() -> None:
    message = _message(WebhookFormat.KASSE, "whsec_for-the-tests-0123456789")
    sent = headers(message, encode(message), 1_700_000_000)
    assert list(sent) == ["Content-Type", "User-Agent", "Kasse-Signature", "Kasse-Event-Id",
                          "Kasse-Event-Type", "Kasse-Delivery-Id", "Kasse-Delivery-Attempt"]


def test_a_generated_standard_secret_is_base64_of_32_random_bytes() -> None:
    first, second = new_secret(WebhookFormat.STANDARD), new_secret(WebhookFormat.STANDARD)
    assert first != second
    for secret in (first, second):
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
        assert check_secret(secret, WebhookFormat.STANDARD) == secret


def test_a_generated_kasse_secret_keeps_its_old_form() -> None:
    secret = new_secret(WebhookFormat.KASSE)
    assert secret.startswith("whsec_") and len(secret) == 6 + 43


@pytest.mark.parametrize("secret", [
    "whsec_" + base64.b64encode(b"k" * 24).decode(),
    "whsec_" + base64.b64encode(b"k" * 64).decode(),
    "whsec_" + base64.b64encode(b"k" * 25).decode().rstrip("="),  # unpadded, as libraries take it
])
def test_a_chosen_standard_secret_is_taken(secret: str) -> None:
    assert check_secret(secret, WebhookFormat.STANDARD) == secret
    Webhook(secret)  # and a receiver's library reads it


@pytest.mark.parametrize("secret", [
    base64.b64encode(b"k" * 32).decode(),  # without whsec_
    "whsec_" + base64.b64encode(b"k" * 23).decode(),  # too short a key
    "whsec_" + base64.b64encode(b"k" * 65).decode(),  # too long
    "whsec_" + base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(),  # - and _ are not base64
    "whsec_my-own-secret-0123456789",
])
def test_a_chosen_standard_secret_that_is_no_key_is_refused(secret: str) -> None:
    with pytest.raises(InvalidInput, match="whsec_ followed by the base64"):
        check_secret(secret, WebhookFormat.STANDARD)
