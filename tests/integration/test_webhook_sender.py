"""The webhook sender against a real HTTP receiver on loopback: what it sends, and what it
makes of answers, silence and refusals."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

from kasse.adapters.http.webhook_sender import HttpWebhookSender
from kasse.adapters.http.webhook_signature import verify
from kasse.domain.webhooks import AttemptOutcome, OutboxEvent, WebhookMessage
from tests.integration.hosted import free_port
from tests.integration.webhook_receiver import Receiver

SECRET = "whsec_sender-test-0123456789"


def message(url: str) -> WebhookMessage:
    event = OutboxEvent(id=uuid4(), store_id=uuid4(), topic="order.finalized",
                        aggregate_id=uuid4(), payload={"orderNumber": "ORDER-00042",
                                                       "note": "Grüße"},
                        created_at=datetime.now(UTC))
    return WebhookMessage(delivery_id=uuid4(), lease="t/1", url=url, event=event, attempt=3,
                          secret=SECRET)


def send(url: str, total_timeout: float = 15.0) -> AttemptOutcome:
    async def go() -> AttemptOutcome:
        async with HttpWebhookSender(total_timeout=total_timeout) as sender:
            return await sender.send(message(url))
    return asyncio.run(go())


def test_a_2xx_is_delivered_and_the_request_verifies() -> None:
    with Receiver(answers=[202]).running() as receiver:
        outcome = send(receiver.url)
        (received,) = receiver.requests()
    assert outcome.delivered and outcome.status_code == 202 and outcome.error is None
    assert outcome.body == '{"received":true}' and outcome.duration_ms >= 0
    assert verify(SECRET, received.body, received.headers["kasse-signature"])
    assert received.json["data"] == {"orderNumber": "ORDER-00042", "note": "Grüße"}
    assert received.headers["kasse-delivery-attempt"] == "3"
    assert received.headers["user-agent"].startswith("kasse-webhooks/")


def test_only_the_first_2_kb_of_an_answer_are_kept() -> None:
    with Receiver(answers=[500], answer_body=b"x" * 100_000).running() as receiver:
        outcome = send(receiver.url)
    assert not outcome.delivered and outcome.status_code == 500
    assert outcome.body == "x" * 2048


def test_a_redirect_is_not_followed_and_not_delivered() -> None:
    with Receiver(answers=[302]).running() as receiver:
        outcome = send(receiver.url)
    assert outcome.status_code == 302 and not outcome.delivered


def test_a_receiver_that_does_not_answer_in_time_is_a_failure() -> None:
    with Receiver(delay=2.0).running() as receiver:
        outcome = send(receiver.url, total_timeout=0.5)
    assert outcome.status_code is None and not outcome.delivered
    assert outcome.error is not None and "0.5 s" in outcome.error
    assert 400 <= outcome.duration_ms < 1900


def test_nobody_listening_is_a_failure_not_an_exception() -> None:
    outcome = send(f"http://127.0.0.1:{free_port()}/hooks")
    assert outcome.status_code is None and outcome.error
    assert "Connect" in outcome.error
