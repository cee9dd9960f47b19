"""``kasse payment capture|cancel|refund ORDER [--amount X]``: manage the payment of a
placed order through its payment provider (e.g. capture a Stripe authorization), as the
management API does (the same service, acting as the command line)."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the command imports what it needs when it runs
    from kasse.bootstrap import Container


def add_commands(commands: Any) -> None:
    """Add the ``payment`` command to the ``kasse`` parser's subcommands."""
    payment = commands.add_parser(
        "payment", help="capture or refund a placed order's payment, or cancel the order "
                        "(voiding or refunding its payment and restocking it)")
    payment.add_argument("operation", choices=["capture", "cancel", "refund"])
    payment.add_argument("order_id", metavar="ORDER", help="the order's id")
    payment.add_argument("--amount", help="capture or refund only this much, in the order's "
                                          "currency (default: all)")
    payment.add_argument("--store", default="demo", help="store id or alias (default: demo)")
    payment.set_defaults(func=cmd_payment)


def cmd_payment(args: argparse.Namespace) -> int:
    from uuid import UUID

    from kasse.bootstrap import run_with_container
    from kasse.config import Settings
    from kasse.domain.audit import COMMAND_LINE
    from kasse.domain.errors import DomainError
    from kasse.domain.refunds import RefundRequest

    try:
        order_id = UUID(args.order_id)
        amount = Decimal(args.amount) if args.amount is not None else None
    except ValueError:
        print(f"error: {args.order_id!r} is not an order id", file=sys.stderr)
        return 2
    except InvalidOperation:
        print(f"error: --amount {args.amount!r} is not a number", file=sys.stderr)
        return 2
    if amount is not None and args.operation == "cancel":
        print("error: a cancel takes no --amount: it voids or refunds all that is left",
              file=sys.stderr)
        return 2
    settings = Settings()

    async def run(kasse: Container) -> int:
        management = kasse.order_management
        try:
            config = await kasse.stores.get(args.store)
            if args.operation == "capture":
                done = await management.capture(config, order_id, amount,
                                                actor=COMMAND_LINE, expected_version=None)
            elif args.operation == "refund":
                done = await management.refund(config, order_id,
                                               RefundRequest(amount=amount),
                                               actor=COMMAND_LINE, expected_version=None)
            else:
                done = await management.cancel(config, order_id, reason=None,
                                               actor=COMMAND_LINE, expected_version=None)
        except DomainError as exc:
            print(f"error: {exc.detail}", file=sys.stderr)
            return 2
        record = done.record
        moved = getattr(record, "amount", None)
        amount_text = f" {moved:f}" if isinstance(moved, Decimal) else ""
        status = done.order.payment_status.value if done.order.payment_status else "unknown"
        print(f"order {done.order.order_number}: {args.operation}{amount_text} done; payment "
              f"status {status}")
        for warning in done.warnings:
            print(f"note: {warning}")
        return 0

    return run_with_container(run, settings, migrate=False)
