"""Merchant webhooks without I/O: the signature, the retry schedule, leases and who gets
which event."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from kasse.adapters.http.webhook_sender import encode, headers
from kasse.adapters.http.webhook_signature import sign, verify
from kasse.domain.errors import InvalidInput
from kasse.domain.events import (
    TOPICS,
    OrderCanceled,
    OrderFulfilled,
    OrderStatusChanged,
    PaymentCaptured,
    PaymentRefunded,
    PaymentStatusChanged,
    StockAdjusted,
)
from kasse.domain.webhooks import (
    EVENT_TYPES,
    AttemptOutcome,
    Delivery,
    DeliveryStatus,
    OutboxEvent,
    RetryPolicy,
    WebhookEndpoint,
    WebhookMessage,
    check_url,
    parse_event_types,
)
from kasse.services.checkout import (
    PAYMENT_FAILED,
    PAYMENT_GIVE_BACK_FAILED,
    PAYMENT_GIVEN_BACK,
    PAYMENT_NOT_APPLIED,
)
from kasse.services.finalization import ORDER_FINALIZED, STOCK_SHORTFALL

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SECRET = "whsec_test-secret-0123456789"
BODY = b'{"id":"e1","type":"order.finalized","data":{"amount":"12.50"}}'


# --- the signature ----------------------------------------------------------------------


def test_the_signature_is_an_hmac_of_timestamp_and_raw_body() -> None:
    header = sign(SECRET, BODY, 1_700_000_000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_a_receiver_verifies_what_kasse_signed() -> None:
    header = sign(SECRET, BODY, 1_700_000_000)
    assert verify(SECRET, BODY, header, now=1_700_000_000 + 10)


@pytest.mark.parametrize("body, secret", [
    (BODY.replace(b"12.50", b"1250.0"), SECRET),  # a changed body
    (BODY + b" ", SECRET),                         # even one byte
    (BODY, SECRET + "x"),                          # another secret
])
def test_a_changed_body_or_another_secret_does_not_verify(body: bytes, secret: str) -> None:
    assert not verify(secret, body, sign(SECRET, BODY, 1_700_000_000), now=1_700_000_000)


def test_an_old_or_future_signature_does_not_verify() -> None:
    header = sign(SECRET, BODY, 1_700_000_000)
    assert verify(SECRET, BODY, header, now=1_700_000_000 + 300)
    assert not verify(SECRET, BODY, header, now=1_700_000_000 + 301)
    assert not verify(SECRET, BODY, header, now=1_700_000_000 - 301)
    assert verify(SECRET, BODY, header, now=1_700_000_000 + 3600, tolerance=3600)


def test_any_one_of_several_signatures_verifies() -> None:
    good = sign(SECRET, BODY, 1_700_000_000).split("v1=")[1]
    header = f"t=1700000000,v1={'0' * 64},v1={good}"
    assert verify(SECRET, BODY, header, now=1_700_000_000)


@pytest.mark.parametrize("header", ["", "t=1700000000", "v1=abc", "t=x,v1=abc",
                                    "t=1700000000,v1=ünïcode", "garbage"])
def test_malformed_headers_do_not_verify(header: str) -> None:
    assert not verify(SECRET, BODY, header, now=1_700_000_000)


NOW = 1_700_000_000
GOOD = sign(SECRET, BODY, NOW)
ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x660 + d) for d in range(10)))
ODD_TIMESTAMPS = [
    "²",                                 # a digit to str.isdigit(), not to int()
    str(NOW).translate(ARABIC_INDIC),    # digits to int() too, but not ASCII ones
    "1" + "0" * 5000,                    # more digits than int() converts
    "+1700000000", " 1700000000", "1_700_000_000", "1700000000.0",
]


@pytest.mark.parametrize("timestamp", ODD_TIMESTAMPS)
def test_a_timestamp_of_anything_but_a_few_ascii_digits_does_not_verify(timestamp: str
                                                                        ) -> None:
    header = GOOD.replace("t=1700000000", f"t={timestamp}")
    assert not verify(SECRET, BODY, header, now=NOW)


def _readme_verify() -> Callable[[str, bytes, str], bool]:
    """The receiver's ``verify`` that the README's merchant webhook section shows."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Merchant webhooks", 1)[1].split("\n## ", 1)[0]
    snippets = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(snippets) == 1, "the README's merchant webhooks section shows one receiver"
    namespace: dict[str, object] = {}
    exec(snippets[0], namespace)
    receiver = namespace["verify"]
    assert callable(receiver)
    return receiver  # type: ignore[no-any-return]


@pytest.mark.parametrize("header, verifies", [
    ("{good}", True),
    ("{good_sig},{good_t}", True),                       # fields in any order
    ("t={t},v1={zeros},v1={sig}", True),                 # any one of several
    ("t={t},v1=0{sig}", False),                          # another signature
    ("t={arabic_t},v1={sig}", False),                    # the time in Arabic-Indic digits
    ("t={old},v1={sig}", False),                         # too old
    ("", False), ("garbage", False), ("t={t}", False), ("v1={sig}", False),
    *[(f"t={odd},v1={{sig}}", False) for odd in ODD_TIMESTAMPS],
])
def test_the_readme_receiver_agrees_with_kasse(header: str, verifies: bool) -> None:
    """The snippet merchants copy verifies what kasse signs and refuses the rest without
    raising, exactly as ``webhook_signature.verify`` does."""
    now = int(time.time())
    good = sign(SECRET, BODY, now)
    good_t, good_sig = good.split(",")
    header = header.format(good=good, good_t=good_t, good_sig=good_sig, t=now,
                           sig=good_sig.removeprefix("v1="), zeros="0" * 64,
                           old=now - 301, arabic_t=str(now).translate(ARABIC_INDIC))
    assert _readme_verify()(SECRET, BODY, header) is verifies
    assert verify(SECRET, BODY, header, now=now) is verifies


def _message(event: OutboxEvent | None = None) -> WebhookMessage:
    event = event or OutboxEvent(id=uuid4(), store_id=uuid4(), topic="order.finalized",
                                 aggregate_id=uuid4(), payload={"orderNumber": "ORDER-00001",
                                                                "amount": "12.50"},
                                 created_at=T0)
    return WebhookMessage(delivery_id=uuid4(), lease="w/1", url="http://127.0.0.1:1/",
                          event=event, attempt=1, secret=SECRET)


def test_the_request_carries_the_envelope_and_is_signed() -> None:
    message = _message()
    body = encode(message)
    sent = headers(message, body, 1_700_000_000)
    assert json.loads(body) == {
        "id": str(message.event.id), "type": "order.finalized",
        "createdAt": "2025-03-01T12:00:00.000Z", "storeId": str(message.event.store_id),
        "data": {"orderNumber": "ORDER-00001", "amount": "12.50"}}
    assert sent["Kasse-Event-Id"] == str(message.event.id)
    assert sent["Kasse-Delivery-Id"] == str(message.delivery_id)
    assert sent["Content-Type"] == "application/json"
    assert verify(SECRET, body, sent["Kasse-Signature"], now=1_700_000_000)


def test_the_secret_stays_out_of_a_message_s_repr() -> None:
    assert SECRET not in repr(_message())


# --- the retry schedule -----------------------------------------------------------------


def test_delays_double_from_the_base_up_to_an_hour() -> None:
    policy = RetryPolicy()
    delays = [policy.delay(n, rand=0.0).total_seconds() for n in range(1, 11)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]


def test_jitter_only_shortens_a_delay_and_never_passes_the_cap() -> None:
    policy = RetryPolicy()
    for attempts in (1, 5, 8, 40, 1000):
        nominal = policy.delay(attempts, rand=0.0)
        for rand in (0.0, 0.3, 0.999999):
            delay = policy.delay(attempts, rand)
            assert nominal * 0.75 <= delay <= nominal <= timedelta(hours=1)


@pytest.mark.parametrize("rand", [0.0, 0.5, 0.999999])
def test_a_failing_delivery_is_retried_for_at_least_24_hours_then_given_up(rand: float
                                                                           ) -> None:
    policy = RetryPolicy()
    attempts = [T0]
    while True:
        retry_at = policy.next_attempt(T0, attempts[-1], len(attempts), rand)
        if retry_at is None:
            break
        assert retry_at - attempts[-1] <= timedelta(hours=1)
        attempts.append(retry_at)
        assert len(attempts) < 100
    assert attempts[-1] - T0 >= timedelta(hours=24)
    assert attempts[-2] - T0 < timedelta(hours=24)  # it stops at the first chance after
    assert 25 <= len(attempts) <= 45


def test_the_base_delay_can_be_short_for_tests() -> None:
    policy = RetryPolicy(base=timedelta(milliseconds=200))
    assert policy.delay(1, 0.0) == timedelta(milliseconds=200)
    assert policy.delay(3, 0.0) == timedelta(milliseconds=800)


# --- leases and outcomes ------------------------------------------------------------------


def _delivery(**changes: object) -> Delivery:
    delivery = Delivery(id=uuid4(), event_id=uuid4(), endpoint_id=uuid4(), created_at=T0,
                        next_attempt_at=T0)
    for name, value in changes.items():
        setattr(delivery, name, value)
    return delivery


def test_a_due_unleased_delivery_can_be_claimed() -> None:
    assert _delivery().claimable(T0)
    assert not _delivery(next_attempt_at=T0 + timedelta(seconds=1)).claimable(T0)


def test_a_live_lease_keeps_others_off_and_an_expired_one_does_not() -> None:
    leased = _delivery(lease_owner="a/1", lease_until=T0 + timedelta(seconds=60))
    assert not leased.claimable(T0 + timedelta(seconds=59))
    assert not leased.claimable(T0 + timedelta(seconds=60))
    assert leased.claimable(T0 + timedelta(seconds=61))  # its worker died


def test_a_settled_delivery_is_never_claimed_again() -> None:
    for status in (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED):
        assert not _delivery(status=status).claimable(T0 + timedelta(days=3))


def _attempt(delivery: Delivery, status: int | None, *, lease: str = "a/1",
             at: datetime = T0) -> int:
    return delivery.attempted(AttemptOutcome(status, None if status else "refused"),
                              started=at, finished=at + timedelta(seconds=1), lease=lease,
                              policy=RetryPolicy(), rand=0.0)


def test_a_2xx_settles_the_delivery() -> None:
    delivery = _delivery(lease_owner="a/1", lease_until=T0 + timedelta(seconds=60))
    assert _attempt(delivery, 204) == 1
    assert delivery.status is DeliveryStatus.SUCCEEDED
    assert delivery.completed_at == T0 + timedelta(seconds=1)
    assert (delivery.lease_owner, delivery.lease_until) == (None, None)


@pytest.mark.parametrize("status", [None, 301, 400, 500, 503])
def test_anything_else_is_tried_again_later(status: int | None) -> None:
    delivery = _delivery(lease_owner="a/1", lease_until=T0 + timedelta(seconds=60))
    _attempt(delivery, status)
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.next_attempt_at == T0 + timedelta(seconds=31)
    assert delivery.lease_owner is None
    assert delivery.first_attempt_at == T0 and delivery.last_status_code == status


def test_a_failure_reported_after_the_lease_was_lost_moves_nothing() -> None:
    # Worker a was too slow; b claimed the delivery and is sending it now.
    delivery = _delivery(lease_owner="b/2", lease_until=T0 + timedelta(seconds=120))
    assert _attempt(delivery, 500, lease="a/1") == 1
    assert delivery.status is DeliveryStatus.PENDING
    assert (delivery.next_attempt_at, delivery.lease_owner) == (T0, "b/2")


def test_a_success_counts_whoever_reports_it() -> None:
    delivery = _delivery(lease_owner="b/2", lease_until=T0 + timedelta(seconds=120))
    _attempt(delivery, 200, lease="a/1")
    assert delivery.status is DeliveryStatus.SUCCEEDED
    # b's answer comes later: counted, and the delivery stays settled.
    assert _attempt(delivery, 500, lease="b/2") == 2
    assert delivery.status is DeliveryStatus.SUCCEEDED


def test_a_failure_a_day_after_the_first_attempt_gives_up() -> None:
    delivery = _delivery(lease_owner="a/1", first_attempt_at=T0, attempts=30)
    _attempt(delivery, 500, at=T0 + timedelta(hours=24))
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.attempts == 31


# --- who gets which event -----------------------------------------------------------------


STORE = uuid4()


def _endpoint(events: tuple[str, ...] = ("*",), store: object = None, active: bool = True,
              added: datetime = T0) -> WebhookEndpoint:
    return WebhookEndpoint(id=uuid4(), url="https://shop.example/hooks", events=events,
                           store_id=store, active=active, created_at=added)  # type: ignore[arg-type]


def _event(topic: str = "order.finalized", store: object = STORE,
           at: datetime = T0 + timedelta(minutes=1)) -> OutboxEvent:
    return OutboxEvent(id=uuid4(), store_id=store, topic=topic, aggregate_id=uuid4(),  # type: ignore[arg-type]
                       payload={}, created_at=at)


def test_an_endpoint_gets_its_types_of_its_store_from_when_it_was_added() -> None:
    event = _event()
    assert _endpoint().wants(event)
    assert _endpoint(store=STORE).wants(event)
    assert _endpoint(("order.finalized", "order.payment_failed")).wants(event)
    assert not _endpoint(("order.payment_failed",)).wants(event)
    assert not _endpoint(store=uuid4()).wants(event)
    assert not _endpoint(active=False).wants(event)
    assert not _endpoint(added=T0 + timedelta(minutes=2)).wants(event)


def test_event_types_are_checked() -> None:
    assert parse_event_types("order.finalized, order.payment_failed,order.finalized") == (
        "order.finalized", "order.payment_failed")
    assert parse_event_types("order.finalized,*") == ("*",)
    for bad in ("", " , ", "order.finalised", "order.*"):
        with pytest.raises(InvalidInput):
            parse_event_types(bad)


def test_every_topic_the_services_record_can_be_subscribed_to() -> None:
    assert {ORDER_FINALIZED, STOCK_SHORTFALL, PAYMENT_NOT_APPLIED, PAYMENT_FAILED,
            PaymentStatusChanged.topic, PAYMENT_GIVEN_BACK, PAYMENT_GIVE_BACK_FAILED,
            OrderStatusChanged.topic, OrderFulfilled.topic, OrderCanceled.topic,
            PaymentCaptured.topic, PaymentRefunded.topic, StockAdjusted.topic
            } == set(EVENT_TYPES) == set(TOPICS)


@pytest.mark.parametrize("url", ["https://shop.example/hooks", "http://127.0.0.1:8099/x?a=1",
                                 "  https://shop.example  "])
def test_http_urls_are_accepted(url: str) -> None:
    assert check_url(url) == url.strip()


@pytest.mark.parametrize("url", ["ftp://shop.example/", "shop.example/hooks", "https://",
                                 "http://shop.example:port/", "https://shop.example/a b",
                                 "https://" + "a" * 2000 + ".example"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        check_url(url)
