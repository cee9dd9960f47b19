"""Making a shopper's message: the order and its event through the store's templates, in
the order's language (or the store's default), into one MIME message ready to hand over.

The message is ``multipart/alternative`` (plain text, then HTML), UTF-8, with every
header built by the standard library's ``email`` package under its SMTP policy: a name
or subject is encoded (RFC 2047) where it needs to be and a line break in one is refused,
so nothing a shopper typed can add a header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage as MimeMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any
from uuid import uuid4

from kasse.domain.emails import EmailType, Outgoing, choose_language
from kasse.domain.errors import InvalidInput
from kasse.domain.order import Order
from kasse.domain.order_calculation import calculate
from kasse.domain.store import StoreConfig
from kasse.services import email_content
from kasse.services.email_addresses import Mailbox, mailbox
from kasse.services.email_templates import Rendered, environment_for, render


class NotSendable(Exception):
    """The message cannot be made for a reason no retry changes (no address, no sender)."""


@dataclass(frozen=True, slots=True)
class Preview:
    outgoing: Outgoing
    rendered: Rendered


def new_message_id(sender: str) -> str:
    """A fresh ``Message-ID`` on the sender's domain."""
    domain = sender.rpartition("@")[2] or "kasse.invalid"
    return f"<{uuid4().hex}@{domain}>"


def make(order: Order, config: StoreConfig, email_type: EmailType,
         payload: Mapping[str, Any], *, at: datetime, language: str | None = None,
         message_id: str | None = None) -> Preview:
    """The message of ``email_type`` for ``order`` about an event with ``payload``.

    Raises ``NotSendable`` when the store has no sender or the order no usable address;
    a template error (``jinja2.TemplateError``) propagates.
    """
    settings = config.store.emails
    if not settings.sender:
        raise NotSendable("the store has no emails.sender in its store file")
    try:
        sender = mailbox(settings.sender, "emails.sender")
        reply_to = mailbox(settings.reply_to, "emails.replyTo") if settings.reply_to else None
        bcc = [mailbox(address, "emails.bcc").address for address in settings.bcc]
    except InvalidInput as exc:
        raise NotSendable(exc.detail) from None
    props = order.properties
    address = props.get("email", "").strip()
    if not address:
        raise NotSendable("the order has no email address")
    name = email_content.full_name(props.get("firstName"), props.get("lastName"))
    try:
        shopper = mailbox(address, "the order's email", name=name)
    except InvalidInput as exc:
        raise NotSendable(exc.detail) from None
    chosen = choose_language(language or order.language, settings.languages,
                             settings.default_language)
    view = email_content.build(order, config, calculate(order, config), email_type, chosen,
                               payload)
    environment = environment_for(config.store.id, config.store.config_version, settings)
    rendered = render(environment, view)
    message_id = message_id or new_message_id(sender.address)
    mime = compose(rendered, sender=sender, to=shopper, reply_to=reply_to,
                   message_id=message_id, at=at, language=chosen)
    recipients = tuple(dict.fromkeys([shopper.address, *bcc]))
    return Preview(Outgoing(message_id=message_id, language=chosen, subject=rendered.subject,
                            recipient=shopper.address, mail_from=sender.address,
                            rcpt_to=recipients, mime=mime), rendered)


def compose(rendered: Rendered, *, sender: Mailbox, to: Mailbox, reply_to: Mailbox | None,
            message_id: str, at: datetime, language: str) -> str:
    """The whole message as ASCII text with CRLF line ends (the BCC addresses stay in the
    envelope, never in a header)."""
    message = MimeMessage(policy=SMTP)
    message["Subject"] = rendered.subject
    message["From"] = sender.header()
    message["To"] = to.header()
    if reply_to is not None:
        message["Reply-To"] = reply_to.header()
    message["Date"] = format_datetime(at)
    message["Message-ID"] = message_id
    # An automatic message (RFC 3834): out-of-office replies are not sent back to it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text, charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    message["Content-Language"] = language  # after the content: set_content clears it
    return message.as_string()
