"""The shopper's emails: which order events become which message, what a message is on its
way to the shopper, and the rule that keeps it to at most one per event and type.

A message is recorded once per (outbox event, type) and then handed to the mail server
over as many attempts as it takes. Before the message itself is handed over, the attempt
is recorded (``handing_over_since``); an attempt cut off after that point (the worker died,
the connection broke before the server's answer) may have delivered the message, so it is
never repeated on its own: the message becomes ``unconfirmed`` and waits for a person to
resend it. Every other failure happened before the server had the message, and is tried
again with backoff.

Pure rules only; storing, claiming, rendering and sending live in ``services.emails`` and
the adapters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from uuid import UUID

from kasse.domain.errors import Conflict
from kasse.domain.webhooks import OutboxEvent, RetryPolicy

__all__ = ["EMAIL_TOPICS", "AttemptKind", "EmailAttempt", "EmailMessage", "EmailSettings",
           "EmailStatus", "EmailType", "Outgoing", "RetryPolicy", "SendOutcome", "choose_language",
           "header_text", "mask_code", "wanted_messages"]


class EmailType(StrEnum):
    CONFIRMATION = "confirmation"
    """The order was placed: everything it holds and costs."""
    SHIPPED = "shipped"
    """A shipment left: its lines, carrier and tracking link."""
    REFUNDED = "refunded"
    """Money was given back: how much, and what for."""
    CANCELED = "canceled"
    """The shop canceled the order."""


EMAIL_TOPICS: dict[str, EmailType] = {
    "order.finalized": EmailType.CONFIRMATION,
    "order.fulfilled": EmailType.SHIPPED,
    "payment.refunded": EmailType.REFUNDED,
    "order.canceled": EmailType.CANCELED,
}
"""Which outbox topic becomes which message (one message per event)."""


BUILT_IN_LANGUAGES = ("en", "de")
"""The languages kasse's own templates are written in."""


def _frozen() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class EmailSettings:
    """A store's emails, from the ``emails`` section of its store file."""

    sender: str | None = None
    """``Name <address>`` the messages come from; without it none are sent."""
    reply_to: str | None = None
    bcc: tuple[str, ...] = ()
    """Addresses that get a blind copy of every message (the shop's own records)."""
    default_language: str = "en"
    """The language of an order whose own language the store has no messages in."""
    templates: Mapping[str, str] = field(default_factory=_frozen)
    """Templates the store overrides, by name (``de/confirmation.html``), as read from its
    templates folder when the store file was imported."""
    payment_instructions: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: MappingProxyType({}))
    """Payment method alias -> language -> what the confirmation tells the shopper to do
    (e.g. the bank account an invoice is paid to)."""

    @property
    def languages(self) -> set[str]:
        """The languages the store has messages in: kasse's own and those of its
        templates folder."""
        found = {name.split("/", 1)[0] for name in self.templates if "/" in name}
        return set(BUILT_IN_LANGUAGES) | found

    def instructions(self, method_alias: str | None, language: str) -> str | None:
        texts = self.payment_instructions.get(method_alias or "")
        if not texts:
            return None
        return texts.get(language) or texts.get(self.default_language) \
            or next(iter(texts.values()), None)


def wanted_messages(events: Sequence[OutboxEvent]) -> list[tuple[OutboxEvent, EmailType]]:
    """The messages a batch of outbox events makes: one per event of an email topic,
    except a refund made by canceling the order, which the cancellation's message tells
    (the cancel records both events in one unit of work, at the same moment)."""
    canceled = {(e.aggregate_id, e.created_at) for e in events if e.topic == "order.canceled"}
    return [(event, EMAIL_TOPICS[event.topic]) for event in events
            if event.topic in EMAIL_TOPICS
            and not (event.topic == "payment.refunded"
                     and (event.aggregate_id, event.created_at) in canceled)]


class EmailStatus(StrEnum):
    PENDING = "pending"
    """Waiting for its first attempt, or for the next one after a failure."""
    SENT = "sent"
    """The mail server accepted it (or it was written to its file)."""
    FAILED = "failed"
    """Refused for good (an address the server rejects), or every attempt of the retry
    window failed before the server had it."""
    UNCONFIRMED = "unconfirmed"
    """An attempt was cut off while the message was being handed over: it may have
    arrived. Never sent again on its own; resend it if the shopper did not get it."""
    SKIPPED = "skipped"
    """Not sent: the order has no usable address, or the store no sender."""


class AttemptKind(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"
    """Not handed over (server away, busy, a 4xx answer): try again later."""
    PERMANENT = "permanent"
    """Refused with a 5xx answer before it was handed over: trying again cannot help."""
    UNCERTAIN = "uncertain"
    """Cut off while being handed over: the server may have it."""


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What one attempt got from the mail server (or the file it was written to)."""

    kind: AttemptKind
    detail: str = ""
    """The server's answer, the error, or where the file went."""
    code: int | None = None
    duration_ms: int = 0

    @property
    def delivered(self) -> bool:
        return self.kind is AttemptKind.SENT


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A rendered message, ready to hand over: the same bytes on every attempt."""

    message_id: str
    """The ``Message-ID`` header: the same on every attempt and on a resend of a message
    not known to have arrived, so a mail server or client can tell repeats apart."""
    language: str
    subject: str
    recipient: str
    mail_from: str
    rcpt_to: tuple[str, ...]
    """The shopper and the store's BCC addresses."""
    mime: str = field(repr=False)
    """The whole message as ASCII text (RFC 5322, CRLF line ends)."""


@dataclass(frozen=True, slots=True)
class EmailAttempt:
    """The record of one attempt, as an operator reads it later."""

    message_id: UUID
    number: int
    attempted_at: datetime
    outcome: SendOutcome
    worker: str
    via: str
    """Where it went: ``smtp://host:port`` or the folder of the ``.eml`` files."""


@dataclass(slots=True)
class EmailMessage:
    """One message for one order event, over as many attempts as it takes."""

    id: UUID
    store_id: UUID
    order_id: UUID
    event_id: UUID
    type: EmailType
    created_at: datetime
    next_attempt_at: datetime
    status: EmailStatus = EmailStatus.PENDING
    attempts: int = 0
    outgoing: Outgoing | None = None
    """Rendered before its first attempt, then kept."""
    lease_owner: str | None = None
    lease_until: datetime | None = None
    handing_over_since: datetime | None = None
    """Set, and committed, just before an attempt hands the message over; cleared when
    the attempt is recorded."""
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None
    completed_at: datetime | None = None
    resends: int = 0

    def claimable(self, now: datetime) -> bool:
        """Due, not leased by a live worker, and not cut off mid hand-over (the SQL claim
        states the same condition)."""
        return (self.status is EmailStatus.PENDING and self.next_attempt_at <= now
                and self.handing_over_since is None
                and (self.lease_until is None or self.lease_until < now))

    def cut_off(self, now: datetime) -> bool:
        """Whether an attempt began handing the message over and its worker's lease ran out
        without a result: the worker died, or hung, at the worst moment."""
        return (self.status is EmailStatus.PENDING and self.handing_over_since is not None
                and self.lease_until is not None and self.lease_until < now)

    def render(self, outgoing: Outgoing) -> None:
        """Keep the rendered message; a message keeps its first rendering."""
        if self.outgoing is None:
            self.outgoing = outgoing

    def skip(self, reason: str, at: datetime) -> None:
        self.last_error = reason[:500]
        self._settle(EmailStatus.SKIPPED, at)

    def handing_over(self, lease: str, at: datetime) -> bool:
        """Mark the attempt under ``lease`` as handing the message over; False when the
        lease is no longer this attempt's (another worker took the message)."""
        if self.status is not EmailStatus.PENDING or self.lease_owner != lease:
            return False
        self.handing_over_since = at
        return True

    def attempted(self, outcome: SendOutcome, *, started: datetime, finished: datetime,
                  lease: str, policy: RetryPolicy, rand: float) -> int:
        """Count an attempt made under ``lease`` and decide what follows; returns the
        attempt's number.

        Delivery settles the message whoever made it (even after another worker called the
        attempt cut off). Anything else moves the message on only while the attempt's
        lease still holds it.
        """
        self.attempts += 1
        self.first_attempt_at = self.first_attempt_at or started
        self.last_attempt_at = started
        self.last_error = None if outcome.delivered else outcome.detail[:500]
        if outcome.delivered and self.status in (EmailStatus.PENDING,
                                                 EmailStatus.UNCONFIRMED):
            self.sent_at = finished
            self._settle(EmailStatus.SENT, finished)
            return self.attempts
        if self.status is not EmailStatus.PENDING or self.lease_owner != lease:
            return self.attempts
        if outcome.kind is AttemptKind.UNCERTAIN:
            self._settle(EmailStatus.UNCONFIRMED, finished)
        elif outcome.kind is AttemptKind.PERMANENT:
            self._settle(EmailStatus.FAILED, finished)
        else:
            retry_at = policy.next_attempt(self.first_attempt_at, finished, self.attempts,
                                           rand)
            if retry_at is None:
                self._settle(EmailStatus.FAILED, finished)
            else:
                self.next_attempt_at = retry_at
                self._release()
        return self.attempts

    def call_cut_off(self, now: datetime) -> int:
        """Record that the attempt under way was cut off mid hand-over (``cut_off``);
        returns the attempt's number."""
        self.attempts += 1
        self.last_attempt_at = self.handing_over_since
        self.first_attempt_at = self.first_attempt_at or self.handing_over_since
        self.last_error = CUT_OFF
        self._settle(EmailStatus.UNCONFIRMED, now)
        return self.attempts

    def resend(self, at: datetime, new_message_id: str) -> None:
        """Send the message again, on a person's demand. A message that arrived gets a new
        ``Message-ID`` (the shopper's mail program would otherwise take the copy for the
        one it has); one that may not have arrived keeps its own."""
        if self.status is EmailStatus.PENDING:
            raise Conflict("the message is already waiting to be sent")
        if self.status is EmailStatus.SKIPPED:
            raise Conflict(f"the message was not sent: {self.last_error}; it cannot be "
                           "resent as it is")
        if self.status is EmailStatus.SENT and self.outgoing is not None:
            self.outgoing = _with_message_id(self.outgoing, new_message_id)
        self.status = EmailStatus.PENDING
        self.next_attempt_at = at
        self.first_attempt_at = None  # a new retry window
        self.completed_at = None
        self.resends += 1
        self._release()

    def _settle(self, status: EmailStatus, at: datetime) -> None:
        self.status = status
        self.completed_at = at
        self._release()

    def _release(self) -> None:
        self.lease_owner = None
        self.lease_until = None
        self.handing_over_since = None


CUT_OFF = ("the attempt was cut off while handing the message to the mail server, which may "
           "have it; not sent again on its own: resend it if the shopper did not get it")


def _with_message_id(outgoing: Outgoing, message_id: str) -> Outgoing:
    old = f"Message-ID: {outgoing.message_id}\r\n"
    mime = outgoing.mime.replace(old, f"Message-ID: {message_id}\r\n", 1)
    return Outgoing(message_id=message_id, language=outgoing.language,
                    subject=outgoing.subject, recipient=outgoing.recipient,
                    mail_from=outgoing.mail_from, rcpt_to=outgoing.rcpt_to, mime=mime)


def choose_language(wanted: str | None, available: set[str], default: str) -> str:
    """The order's language if the store has messages in it (``de-AT`` falls back to
    ``de``), else the store's default."""
    if wanted:
        tag = wanted.strip().replace("_", "-").lower()
        for candidate in (tag, tag.split("-")[0]):
            if candidate in available:
                return candidate
    return default


_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def header_text(value: str, limit: int = 200) -> str:
    """Text that is safe inside a header: no line break or control character (which could
    start a header of its own), no ``=?`` (which a mail program could decode as an
    encoded word the sender never wrote), whitespace collapsed, at most ``limit``
    characters."""
    text = _LINE_BREAKS.sub(" ", value).replace("=?", "= ?")
    return " ".join(text.split())[:limit]


def mask_code(code: str) -> str:
    """A gift card code as a message shows it: only its last four characters, since the
    code itself pays like cash."""
    return "…" + code[-4:] if len(code) > 4 else "…"
