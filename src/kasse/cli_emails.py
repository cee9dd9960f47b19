"""``kasse email …``: the shopper's emails as an operator sees them: every message with each
attempt, a resend, and a preview of any message for a placed order."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID

from kasse.config import Settings
from kasse.domain.emails import EmailStatus, EmailType
from kasse.domain.errors import DomainError
from kasse.services.email_messages import EmailReport, parse_type

if TYPE_CHECKING:
    from kasse.bootstrap import Container

T = TypeVar("T")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds ``email`` to the ``kasse`` command."""
    email = commands.add_parser("email", help="the shopper's emails: list, resend, preview")
    actions = email.add_subparsers(dest="action", required=True)

    listing = actions.add_parser("list", help="messages, newest first, with their attempts")
    listing.add_argument("--order", help="only those of this order (id or order number)")
    listing.add_argument("--store", default="demo", help="store id or alias (with --order)")
    listing.add_argument("--status", choices=[s.value for s in EmailStatus],
                         help="only messages in this state")
    listing.add_argument("--attempts", action="store_true", help="show every attempt")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=cmd_list)

    resend = actions.add_parser("resend", help="send a message again (e.g. unconfirmed)")
    resend.add_argument("id", help="message id (from `kasse email list`)")
    resend.set_defaults(func=cmd_resend)

    preview = actions.add_parser("preview", help="show a message for a placed order")
    preview.add_argument("order", help="order id or order number")
    preview.add_argument("--type", default=EmailType.CONFIRMATION.value,
                         choices=[t.value for t in EmailType])
    preview.add_argument("--store", default="demo", help="store id or alias (default: demo)")
    preview.add_argument("--language", help="instead of the order's own (e.g. de)")
    preview.add_argument("--format", choices=["text", "html", "eml"], default="text",
                         help="text (the default), html, or the whole message as sent")
    preview.set_defaults(func=cmd_preview)


def _run(work: Callable[[Container], Awaitable[T]]) -> T:
    from kasse.bootstrap import run_with_container

    return run_with_container(work, Settings(), migrate=False)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S") if at is not None else "-"


def describe(report: EmailReport, *, attempts: bool) -> list[str]:
    """An operator's lines about one message (and its attempts)."""
    m = report.message
    o = m.outgoing
    when = m.completed_at if m.completed_at else m.next_attempt_at
    lines = [f"{m.id}  {m.type.value:<12} {m.status.value:<11} attempts {m.attempts}  "
             f"order {m.order_id}  to {o.recipient if o else '-'}  "
             f"{'done' if m.completed_at else 'next'} {_when(when)}"]
    if m.last_error:
        lines.append(f"    {m.last_error}")
    if attempts:
        for a in report.attempts:
            code = f" {a.outcome.code}" if a.outcome.code else ""
            lines.append(f"    #{a.number} {_when(a.attempted_at)} {a.outcome.kind.value}{code}"
                         f" in {a.outcome.duration_ms} ms via {a.via} by {a.worker}: "
                         f"{a.outcome.detail}")
    return lines


def cmd_list(args: argparse.Namespace) -> int:
    async def run(kasse: Container) -> list[EmailReport]:
        if args.order:
            config = await kasse.stores.get(args.store)
            order_id = await kasse.emails.find_order(config, args.order)
            return await kasse.emails.of_order(config.store.id, order_id)
        return await kasse.emails.recent(
            statuses=[args.status] if args.status else None, limit=max(args.limit, 1))

    try:
        reports = _run(run)
    except DomainError as exc:
        return _fail(exc.detail)
    if args.order and args.status:
        reports = [r for r in reports if r.message.status.value == args.status]
    if not reports:
        print("no emails")
        return 0
    for report in reports:
        print("\n".join(describe(report, attempts=args.attempts)))
    return 0


def cmd_resend(args: argparse.Namespace) -> int:
    try:
        email_id = UUID(args.id)
    except ValueError:
        return _fail(f"{args.id!r} is not a message id")

    async def run(kasse: Container) -> EmailReport:
        return await kasse.emails.resend(email_id)

    try:
        report = _run(run)
    except DomainError as exc:
        return _fail(exc.detail)
    print(f"email {report.message.id} ({report.message.type.value}) will be sent again by "
          "the next worker round")
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    async def run(kasse: Container) -> tuple[str, bool]:
        config = await kasse.stores.get(args.store)
        order_id = await kasse.emails.find_order(config, args.order)
        made = await kasse.emails.preview(config, order_id, parse_type(args.type),
                                          language=args.language)
        outgoing, rendered = made.preview.outgoing, made.preview.rendered
        if args.format == "eml":
            return outgoing.mime.replace("\r\n", "\n"), made.event_found
        body = rendered.html if args.format == "html" else rendered.text
        head = (f"From: {outgoing.mail_from}\nTo: {outgoing.recipient}\n"
                f"Subject: {outgoing.subject}\nLanguage: {outgoing.language}\n\n")
        return head + body, made.event_found

    try:
        text, found = _run(run)
    except DomainError as exc:
        return _fail(exc.detail)
    if not found:
        print(f"(the order has no {args.type} event yet: the preview makes one up)",
              file=sys.stderr)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
