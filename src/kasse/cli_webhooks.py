"""``kasse webhook …`` (merchant endpoints and their deliveries) and ``kasse worker`` (a
process that only delivers webhooks)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from kasse.config import Settings
from kasse.domain.errors import DomainError
from kasse.domain.webhooks import EVENT_TYPES, WebhookFormat
from kasse.services.webhook_endpoints import DeliveryReport, WebhookEndpoints

T = TypeVar("T")
log = logging.getLogger("kasse.worker")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds ``webhook`` and ``worker`` to the ``kasse`` command."""
    webhook = commands.add_parser("webhook", help="merchant webhook endpoints and deliveries")
    actions = webhook.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", help="register an endpoint (prints a generated secret "
                                         "once)")
    add.add_argument("--url", required=True, help="http(s) URL the events are POSTed to")
    add.add_argument("--events", required=True,
                     help=f"comma-separated event types, or * for all: {', '.join(EVENT_TYPES)}")
    add.add_argument("--store", help="store id or alias (default: every store)")
    add.add_argument("--format", choices=[f.value for f in WebhookFormat],
                     default=WebhookFormat.KASSE.value,
                     help="how requests are signed: kasse (Kasse-Signature, the default) or "
                          "standard (Standard Webhooks: webhook-id, webhook-timestamp, "
                          "webhook-signature)")
    add.add_argument("--secret", help="signing secret, 16 to 200 characters; for "
                                      "--format standard whsec_ and the base64 of 24 to 64 "
                                      "bytes (default: generated and printed once)")
    add.add_argument("--inactive", action="store_true", help="register it paused")
    add.set_defaults(func=cmd_add)

    listing = actions.add_parser("list", help="list endpoints (never their secrets)")
    listing.set_defaults(func=cmd_list)

    for name, text in (("remove", "delete an endpoint with its delivery history"),
                       ("disable", "pause an endpoint: deliveries wait"),
                       ("enable", "resume a paused endpoint")):
        action = actions.add_parser(name, help=text)
        action.add_argument("id", help="endpoint id (from `kasse webhook list`)")
        action.set_defaults(func=cmd_change)

    deliveries = actions.add_parser("deliveries", help="recent deliveries, newest first")
    deliveries.add_argument("--endpoint", help="only those of this endpoint id")
    deliveries.add_argument("--failed", action="store_true",
                            help="only deliveries given up after every retry")
    deliveries.add_argument("--attempts", action="store_true",
                            help="show every attempt with the receiver's answer")
    deliveries.add_argument("--limit", type=int, default=50)
    deliveries.set_defaults(func=cmd_deliveries)

    worker = commands.add_parser("worker", help="deliver merchant webhooks and the "
                                                "shopper's emails until stopped (SIGTERM or "
                                                "Ctrl+C)")
    worker.set_defaults(func=cmd_worker)


def _with_endpoints(settings: Settings, work: Callable[[WebhookEndpoints], Awaitable[T]]
                    ) -> T:
    from kasse.bootstrap import Container, run_with_container

    def run(kasse: Container) -> Awaitable[T]:
        return work(kasse.webhook_endpoints)

    return run_with_container(run, settings, migrate=True)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S") if at is not None else "-"


def cmd_add(args: argparse.Namespace) -> int:
    try:
        added = _with_endpoints(Settings(), lambda endpoints: endpoints.add(
            args.url, args.events, store=args.store, secret=args.secret,
            active=not args.inactive, format=WebhookFormat(args.format)))
    except DomainError as exc:
        return _fail(exc.detail)
    endpoint = added.endpoint
    print(f"webhook endpoint {endpoint.id} added: {endpoint.url} "
          f"({', '.join(endpoint.events)}; {endpoint.format.value} format)")
    if added.generated:
        # The only time kasse shows it: it is kept for signing and never printed again.
        print(f"signing secret (shown once; keep it with the receiver): {added.secret}")
    return 0


def cmd_list(_: argparse.Namespace) -> int:
    listed = _with_endpoints(Settings(), lambda endpoints: endpoints.all())
    if not listed:
        print("no webhook endpoints; add one with `kasse webhook add`")
        return 0
    rows: list[tuple[str, ...]] = [("ID", "ACTIVE", "STORE", "EVENTS", "FORMAT", "URL",
                                    "ADDED (UTC)")]
    rows += [(str(item.endpoint.id), "yes" if item.endpoint.active else "no",
              item.store_alias or (str(item.endpoint.store_id) if item.endpoint.store_id
                                   else "*"),
              ",".join(item.endpoint.events), item.endpoint.format.value, item.endpoint.url,
              _when(item.endpoint.created_at)) for item in listed]
    _table(rows)
    return 0


def cmd_change(args: argparse.Namespace) -> int:
    endpoint_id = _uuid(args.id)
    if endpoint_id is None:
        return _fail(f"{args.id!r} is not an endpoint id")
    change: Callable[[WebhookEndpoints], Awaitable[None]]
    if args.action == "remove":
        def change(endpoints: WebhookEndpoints) -> Awaitable[None]:
            return endpoints.remove(endpoint_id)
    else:
        def change(endpoints: WebhookEndpoints) -> Awaitable[None]:
            return endpoints.set_active(endpoint_id, args.action == "enable")
    try:
        _with_endpoints(Settings(), change)
    except DomainError as exc:
        return _fail(exc.detail)
    done = {"remove": "removed", "disable": "paused", "enable": "resumed"}[args.action]
    print(f"webhook endpoint {endpoint_id} {done}")
    return 0


def cmd_deliveries(args: argparse.Namespace) -> int:
    endpoint_id = None
    if args.endpoint is not None:
        endpoint_id = _uuid(args.endpoint)
        if endpoint_id is None:
            return _fail(f"{args.endpoint!r} is not an endpoint id")
    reports = _with_endpoints(Settings(), lambda endpoints: endpoints.deliveries(
        endpoint_id=endpoint_id, failed_only=args.failed, limit=max(args.limit, 1)))
    if not reports:
        print("no deliveries")
        return 0
    rows: list[tuple[str, ...]] = [("DELIVERY", "STATUS", "ATTEMPTS", "LAST ANSWER", "TYPE",
                                    "EVENT", "ENDPOINT", "NEXT / DONE (UTC)")]
    rows += [_delivery_row(report) for report in reports]
    if not args.attempts:
        _table(rows)
        return 0
    for row, report in zip(rows[1:], reports, strict=True):
        print("  ".join(row))
        for attempt in report.attempts:
            outcome = attempt.outcome
            answer = outcome.status_code if outcome.status_code is not None else outcome.error
            body = " ".join(outcome.body.split())[:200]
            print(f"    #{attempt.number} {_when(attempt.attempted_at)} {answer} in "
                  f"{outcome.duration_ms} ms by {attempt.worker}"
                  + (f": {body}" if body else ""))
    return 0


def _delivery_row(report: DeliveryReport) -> tuple[str, ...]:
    delivery = report.delivery
    last = (str(delivery.last_status_code) if delivery.last_status_code is not None
            else (delivery.last_error or "-"))
    when = delivery.completed_at if delivery.completed_at else delivery.next_attempt_at
    return (str(delivery.id), delivery.status.value, str(delivery.attempts), last[:60],
            report.topic, str(delivery.event_id), str(delivery.endpoint_id), _when(when))


def cmd_worker(_: argparse.Namespace) -> int:
    from kasse import logs
    from kasse.bootstrap import bootstrap, running_email_worker, running_webhook_worker

    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        # Migrates first when KASSE_AUTO_MIGRATE says so.
        async with bootstrap(settings) as kasse, running_webhook_worker(kasse), \
                running_email_worker(kasse):
            log.info("kasse worker delivers merchant webhooks and the shopper's emails; "
                     "SIGTERM or Ctrl+C stops it")
            await stop.wait()
            log.info("kasse worker stopping: finishing the requests under way")

    asyncio.run(run())
    return 0
