"""``kasse stock list`` and ``kasse stock adjust ITEM CHANGE --reason REASON [--note TEXT]``:
stock on hand, what checkouts hold, and changes with their reason (every one a ledger
entry, an audit entry and a ``stock.adjusted`` event, as through the management API)."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the command imports what it needs when it runs
    from kasse.bootstrap import Container

REASONS = ("received", "counted", "damaged", "returned", "other")


def add_commands(commands: Any) -> None:
    """Add the ``stock`` command to the ``kasse`` parser's subcommands."""
    stock = commands.add_parser("stock", help="list stock or adjust it with a reason")
    actions = stock.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="stock on hand, held and available per item")
    listing.add_argument("--store", default="demo", help="store id or alias (default: demo)")
    listing.set_defaults(func=cmd_stock)
    adjust = actions.add_parser(
        "adjust", help="add (a delivery) or take away (breakage) units of an item, or set "
                       "what was counted")
    adjust.add_argument("item", metavar="ITEM",
                        help="a product reference, or PRODUCT:VARIANT")
    adjust.add_argument("change", metavar="CHANGE",
                        help="units to add (+5) or take (-2), or =N for N units counted")
    adjust.add_argument("--reason", required=True,
                        help=f"why: {', '.join(REASONS)} (kept in the stock ledger)")
    adjust.add_argument("--note", help="a note for the ledger (a delivery number …)")
    adjust.add_argument("--store", default="demo", help="store id or alias (default: demo)")
    adjust.set_defaults(func=cmd_stock)


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def cmd_stock(args: argparse.Namespace) -> int:
    from kasse.bootstrap import run_with_container
    from kasse.config import Settings
    from kasse.domain.audit import COMMAND_LINE
    from kasse.domain.errors import DomainError
    from kasse.services.stock import StockBook

    change = set_to = None
    if args.action == "adjust":
        counted = args.change.strip().startswith("=")
        value = _number(args.change.strip().removeprefix("="))
        if value is None:
            print(f"error: {args.change!r} is not a number (+5, -2, or =40 counted)",
                  file=sys.stderr)
            return 2
        change, set_to = (None, value) if counted else (value, None)

    async def run(kasse: Container) -> int:
        book = StockBook(kasse.storage)
        try:
            config = await kasse.stores.get(args.store)
            if args.action == "list":
                levels = await book.levels(config)
                print(f"{'ITEM':<40} {'SKU':<16} {'ON HAND':>10} {'HELD':>8} "
                      f"{'AVAILABLE':>10} {'LEDGER':>10}")
                for level in levels:
                    print(f"{level.reference:<40} {level.sku:<16} "
                          f"{level.on_hand.normalize():>10f} "
                          f"{level.reserved.normalize():>8f} "
                          f"{level.available.normalize():>10f} "
                          f"{level.ledger.normalize():>10f}")
                return 0
            done = await book.adjust(config, args.item, change=change, set_to=set_to,
                                     reason=args.reason, note=args.note,
                                     actor=COMMAND_LINE)
        except DomainError as exc:
            print(f"error: {exc.detail}", file=sys.stderr)
            return 2
        print(f"{done.level.reference}: {done.delta.normalize():+f} ({done.entry.cause}), "
              f"now {done.level.on_hand.normalize():f} on hand "
              f"({done.level.available.normalize():f} available)")
        return 0

    return run_with_container(run, Settings(), migrate=False)
