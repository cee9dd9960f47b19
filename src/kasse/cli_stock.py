"""``kasse stock list`` and ``kasse stock adjust ITEM CHANGE --reason TEXT``: stock on hand,
what checkouts hold, and changes with their reason (every one a ledger entry)."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the command imports what it needs when it runs
    from kasse.bootstrap import Container


def add_commands(commands: Any) -> None:
    """Add the ``stock`` command to the ``kasse`` parser's subcommands."""
    stock = commands.add_parser("stock", help="list stock or adjust it with a reason")
    actions = stock.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="stock on hand, held and available per item")
    listing.add_argument("--store", default="demo", help="store id or alias (default: demo)")
    listing.set_defaults(func=cmd_stock)
    adjust = actions.add_parser(
        "adjust", help="add (a delivery) or take away (a count, breakage) units of an item")
    adjust.add_argument("item", metavar="ITEM",
                        help="a product reference, or PRODUCT:VARIANT")
    adjust.add_argument("change", metavar="CHANGE", help="units to add (+5) or take (-2)")
    adjust.add_argument("--reason", required=True, help="why (kept in the stock ledger)")
    adjust.add_argument("--store", default="demo", help="store id or alias (default: demo)")
    adjust.set_defaults(func=cmd_stock)


def cmd_stock(args: argparse.Namespace) -> int:
    import getpass

    from kasse.bootstrap import run_with_container
    from kasse.config import Settings
    from kasse.domain.errors import DomainError
    from kasse.services.stock import StockBook

    change = None
    if args.action == "adjust":
        try:
            change = Decimal(args.change)
        except InvalidOperation:
            print(f"error: {args.change!r} is not a number", file=sys.stderr)
            return 2

    async def run(kasse: Container) -> int:
        book = StockBook(kasse.storage)
        try:
            config = await kasse.stores.get(args.store)
            if change is None:
                levels = await book.levels(config)
                print(f"{'ITEM':<40} {'SKU':<16} {'ON HAND':>10} {'HELD':>8} "
                      f"{'AVAILABLE':>10} {'LEDGER':>10}")
                for level in levels:
                    item = level.product_reference + (
                        f":{level.variant_reference}" if level.variant_reference else "")
                    print(f"{item:<40} {level.sku:<16} {level.on_hand.normalize():>10f} "
                          f"{level.reserved.normalize():>8f} "
                          f"{level.available.normalize():>10f} "
                          f"{level.ledger.normalize():>10f}")
                return 0
            done = await book.adjust(config, args.item, change, reason=args.reason,
                                     actor=f"cli:{getpass.getuser()}")
        except DomainError as exc:
            print(f"error: {exc.detail}", file=sys.stderr)
            return 2
        print(f"{args.item}: {done.delta.normalize():+f}, now {done.level.on_hand.normalize():f} "
              f"on hand ({done.level.available.normalize():f} available)")
        return 0

    return run_with_container(run, Settings(), migrate=False)
