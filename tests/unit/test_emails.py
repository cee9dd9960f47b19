"""The rules of the shopper's emails, without I/O: at most one hand-over per message,
retries only before the hand-over, resends on demand, safe header text, the language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from kasse.domain.emails import (
    AttemptKind,
    EmailMessage,
    EmailStatus,
    EmailType,
    Outgoing,
    RetryPolicy,
    SendOutcome,
    choose_language,
    header_text,
    mask_code,
)
from kasse.domain.errors import Conflict

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(base=timedelta(seconds=60))


def message() -> EmailMessage:
    m = EmailMessage(id=uuid4(), store_id=uuid4(), order_id=uuid4(), event_id=uuid4(),
                     type=EmailType.CONFIRMATION, created_at=T0, next_attempt_at=T0)
    m.lease_owner, m.lease_until = "w1/a", T0 + timedelta(minutes=2)
    return m


def outgoing(message_id: str = "<1@shop.example>") -> Outgoing:
    return Outgoing(message_id=message_id, language="en", subject="s", recipient="a@b.example",
                    mail_from="shop@shop.example", rcpt_to=("a@b.example",),
                    mime=f"Message-ID: {message_id}\r\nSubject: s\r\n\r\nhi\r\n")


def test_a_failure_before_the_hand_over_is_tried_again_later() -> None:
    m = message()
    m.attempted(SendOutcome(AttemptKind.TEMPORARY, "refused"), started=T0, finished=T0,
                lease="w1/a", policy=POLICY, rand=0.0)
    assert m.status is EmailStatus.PENDING and m.next_attempt_at == T0 + timedelta(minutes=1)
    assert m.lease_owner is None and m.claimable(T0 + timedelta(minutes=1))


def test_an_attempt_cut_off_mid_hand_over_is_never_repeated_on_its_own() -> None:
    m = message()
    assert m.handing_over("w1/a", T0)
    later = T0 + timedelta(minutes=3)  # the lease ran out: the worker died
    assert not m.claimable(later) and m.cut_off(later)
    assert m.call_cut_off(later) == 1
    assert m.status is EmailStatus.UNCONFIRMED and not m.claimable(later + timedelta(days=1))


def test_a_lost_connection_during_the_hand_over_is_unconfirmed_not_retried() -> None:
    m = message()
    m.handing_over("w1/a", T0)
    m.attempted(SendOutcome(AttemptKind.UNCERTAIN, "connection lost"), started=T0,
                finished=T0, lease="w1/a", policy=POLICY, rand=0.0)
    assert m.status is EmailStatus.UNCONFIRMED


def test_a_5xx_for_the_shopper_fails_for_good() -> None:
    m = message()
    m.attempted(SendOutcome(AttemptKind.PERMANENT, "550 no such user", 550), started=T0,
                finished=T0, lease="w1/a", policy=POLICY, rand=0.0)
    assert m.status is EmailStatus.FAILED


def test_a_worker_whose_lease_was_taken_cannot_hand_over() -> None:
    m = message()
    assert not m.handing_over("w2/b", T0)


def test_delivery_settles_even_after_the_attempt_was_called_cut_off() -> None:
    m = message()
    m.handing_over("w1/a", T0)
    m.call_cut_off(T0 + timedelta(minutes=3))
    m.attempted(SendOutcome(AttemptKind.SENT, "250 ok"), started=T0,
                finished=T0 + timedelta(minutes=4), lease="w1/a", policy=POLICY, rand=0.0)
    assert m.status is EmailStatus.SENT


def test_resend_keeps_the_message_id_unless_the_message_arrived() -> None:
    m = message()
    m.render(outgoing())
    m.handing_over("w1/a", T0)
    m.call_cut_off(T0 + timedelta(minutes=3))
    m.resend(T0 + timedelta(minutes=5), "<2@shop.example>")
    assert m.outgoing is not None and m.outgoing.message_id == "<1@shop.example>"
    with pytest.raises(Conflict):  # already waiting
        m.resend(T0 + timedelta(minutes=5), "<3@shop.example>")
    m.lease_owner = "w1/c"
    m.attempted(SendOutcome(AttemptKind.SENT, "250"), started=T0, finished=T0, lease="w1/c",
                policy=POLICY, rand=0.0)
    m.resend(T0 + timedelta(minutes=6), "<4@shop.example>")
    assert m.outgoing is not None and m.outgoing.message_id == "<4@shop.example>"
    assert "Message-ID: <4@shop.example>\r\n" in m.outgoing.mime and m.resends == 2


def test_a_skipped_message_cannot_be_resent() -> None:
    m = message()
    m.skip("the order has no email address", T0)
    with pytest.raises(Conflict, match="no email address"):
        m.resend(T0, "<2@shop.example>")


@pytest.mark.parametrize(("given", "expected"), [
    ("Eve\r\nBcc: x@evil.example", "Eve Bcc: x@evil.example"),
    ("=?utf-8?q?Admin?=", "= ?utf-8?q?Admin?="),
    ("Ada\u2028Lovelace\x00", "Ada Lovelace"),
    ("  many   spaces ", "many spaces"),
])
def test_header_text_holds_no_line_break_and_no_encoded_word(given: str, expected: str
                                                             ) -> None:
    assert header_text(given) == expected


@pytest.mark.parametrize(("wanted", "expected"), [
    ("de-AT", "de"), ("DE", "de"), ("fr-FR", "en"), (None, "en"), ("pt-br", "pt-br")])
def test_the_orders_language_or_the_stores_default(wanted: str | None, expected: str) -> None:
    assert choose_language(wanted, {"en", "de", "pt-br"}, "en") == expected


def test_a_gift_card_code_is_shown_by_its_last_four_characters_only() -> None:
    assert mask_code("GIFT-DEMO-25") == "…O-25"
    assert mask_code("AB") == "…"


def test_a_refund_made_by_canceling_is_told_in_the_cancellations_message() -> None:
    from kasse.domain.emails import wanted_messages
    from kasse.domain.webhooks import OutboxEvent

    order, store = uuid4(), uuid4()

    def event(topic: str, at: datetime) -> OutboxEvent:
        return OutboxEvent(uuid4(), store, topic, order, {}, at)

    later = T0 + timedelta(hours=1)
    events = [event("order.finalized", T0), event("payment.refunded", T0),  # a refund
              event("payment.refunded", later), event("order.canceled", later),  # a cancel
              event("order.payment_status_changed", later)]
    kinds = [kind.value for _, kind in wanted_messages(events)]
    assert kinds == ["confirmation", "refunded", "canceled"]
