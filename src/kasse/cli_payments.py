"""``kasse payment capture|cancel|refund ORDER [--amount X]``: manage the payment of a
finalized order through its payment provider (e.g. capture a Stripe authorization)."""

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
        "payment", help="capture, cancel or refund a finalized order's payment")
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
    from kasse.domain.errors import DomainError
    from kasse.domain.payment_operations import PaymentOperationKind
    from kasse.services.payment_operations import manage_payment

    try:
        order_id = UUID(args.order_id)
        amount = Decimal(args.amount) if args.amount is not None else None
    except ValueError:
        print(f"error: {args.order_id!r} is not an order id", file=sys.stderr)
        return 2
    except InvalidOperation:
        print(f"error: --amount {args.amount!r} is not a number", file=sys.stderr)
        return 2
    settings = Settings()

    async def run(kasse: Container) -> int:
        try:
            config = await kasse.stores.get(args.store)
            change = await manage_payment(kasse.checkout, config, order_id,
                                          PaymentOperationKind(args.operation), amount)
        except DomainError as exc:
            print(f"error: {exc.detail}", file=sys.stderr)
            return 2
        done = f" {change.amount:f}" if change.amount is not None else ""
        print(f"order {change.order.order_number}: {args.operation}{done} done; payment "
              f"status {change.status.value}")
        return 0

    return run_with_container(run, settings, migrate=False)
