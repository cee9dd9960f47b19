"""The ``kasse`` command: serve, migrate, import, demo, openapi, payment-link, cleanup,
webhook, worker, payment, stock, staff, token, email."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import SecretStr

from kasse import logs
from kasse.config import Settings

if TYPE_CHECKING:  # the commands import what they need when they run
    from kasse.bootstrap import Container


def _settings() -> Settings:
    return Settings()


async def _nothing(_: Container) -> None:
    return None


def cmd_migrate(_: argparse.Namespace) -> int:
    from kasse.bootstrap import run_with_container

    run_with_container(_nothing, _settings(), migrate=True)
    print("database is up to date")
    return 0


def _import(path: str, *, set_stock: bool = False) -> int:
    from kasse.adapters.config_file import ConfigFileError, read_config_file
    from kasse.adapters.email.template_folder import read_email_templates
    from kasse.bootstrap import run_with_container
    from kasse.services.store_import import StoreFileInvalid, dotted_location, import_store

    settings = _settings()
    try:
        document = read_config_file(path)
        templates = read_email_templates(document)
    except ConfigFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def run(kasse: Container) -> int:
        try:
            result = await import_store(kasse.storage, document.data, set_stock=set_stock,
                                        templates=templates)
        except StoreFileInvalid as exc:
            print(f"error: {document.path} is not a valid store file; nothing was changed:",
                  file=sys.stderr)
            for loc, message in exc.problems:
                line = document.line_of(loc)
                where = f"line {line}: " if line else ""
                print(f"  {document.path}: {where}{dotted_location(loc)}: {message}",
                      file=sys.stderr)
            return 2
        store = f"store '{result.store_alias}' ({result.store_id})"
        if result.created or result.updated or result.deleted:
            print(f"{store}: {result.created} created, {result.updated} updated, "
                  f"{result.deleted} deleted")
        elif result.stock_set:
            print(f"{store}: configuration already up to date")
        else:
            print(f"{store}: already up to date, nothing changed")
        if result.stock_set:
            print("  stock on hand set to the file's figures:")
        for change in result.stock_set:
            print(f"    {change.label}: {_stock(change.on_hand)} → {_stock(change.in_file)}")
        for kept in result.left_alone():
            print(f"  {kept}")
        return 0

    return run_with_container(run, settings, migrate=True)


def _stock(value: Decimal | None) -> str:
    return "not tracked" if value is None else f"{value.normalize():f}"


def cmd_import(args: argparse.Namespace) -> int:
    return _import(args.file, set_stock=args.set_stock)


def cmd_demo(_: argparse.Namespace) -> int:
    from kasse.bootstrap import api_keys
    from kasse.demo import DEMO_STORE_FILE

    status = _import(str(DEMO_STORE_FILE))
    if status == 0:
        settings = _settings()
        keys, _generated = api_keys(settings)
        if not settings.api_keys:
            key = keys[0].decode()
            print(f"\nApi-Key (kept in {settings.api_key_file}): {key}")
            print("Try it once the server runs:\n"
                  f"  curl -H 'Api-Key: {key}' -H 'Store: demo' "
                  "http://127.0.0.1:8080/umbraco/commerce/storefront/api/v1/countries")
    return status


def cmd_openapi(_: argparse.Namespace) -> int:
    from kasse.api.app import create_app

    app = create_app(Settings(api_keys=[SecretStr("openapi-only")],
                              secret_key=SecretStr("openapi-only"), auto_migrate=False))
    json.dump(app.openapi(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def cmd_payment_link(args: argparse.Namespace) -> int:
    from datetime import timedelta
    from uuid import UUID

    from kasse.bootstrap import run_with_container
    from kasse.domain.errors import DomainError

    settings = _settings()
    try:
        order_id = UUID(args.order_id)
    except ValueError:
        print(f"error: {args.order_id!r} is not an order id", file=sys.stderr)
        return 2

    async def run(kasse: Container) -> int:
        try:
            config = await kasse.stores.get(args.store)
            token = await kasse.orders.payment_link(
                config, order_id, kasse.secret_key, timedelta(minutes=args.minutes))
        except DomainError as exc:
            print(f"error: {exc.detail}", file=sys.stderr)
            return 2
        print(token)
        print(f"Look it up with: GET /umbraco/commerce/storefront/api/v1/order/{token}",
              file=sys.stderr)
        return 0

    return run_with_container(run, settings, migrate=False)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from kasse.api.http_protocol import LimitedHttpToolsProtocol
    from kasse.bootstrap import run_with_container

    settings = _settings()
    if settings.test_gateway and args.workers > 1:
        print("kasse serve: the built-in test gateway keeps its payments in one process's "
              "memory; use --workers 1, or run it separately with "
              "`python -m kasse.payments.testgateway`", file=sys.stderr)
        return 2
    if settings.auto_migrate:
        run_with_container(_nothing, settings, migrate=True)
    # Workers start with migrations already applied; they must not race to apply them.
    os.environ["KASSE_AUTO_MIGRATE"] = "false"
    if args.workers > 1:
        _metrics_folder(settings)
    uvicorn.run("kasse.api.app:create_server_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, proxy_headers=True, server_header=False,
                http=LimitedHttpToolsProtocol,  # 431 for oversized request heads
                log_config=logs.logging_config(settings.log_level, settings.log_format),
                access_log=False)  # kasse logs each request itself, with its request id
    return 0


def _metrics_folder(settings: Settings) -> None:
    """Workers count in files of one fresh folder, which /metrics adds up."""
    from kasse.adapters.metrics import MULTIPROCESS_ENV

    folder = settings.data_dir / "metrics"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):  # counts of an earlier run
        old.unlink()
    os.environ[MULTIPROCESS_ENV] = str(folder)


def cmd_cleanup(args: argparse.Namespace) -> int:
    """Delete abandoned carts once (the server also does it now and then)."""
    from datetime import UTC, datetime, timedelta

    from kasse.bootstrap import run_with_container
    from kasse.services.housekeeping import delete_abandoned_carts

    settings = _settings()
    days = args.days if args.days is not None else settings.abandoned_cart_days
    if days <= 0:
        print("kasse cleanup: abandoned carts are kept (KASSE_ABANDONED_CART_DAYS=0)")
        return 0

    async def run(kasse: Container) -> int:
        return await delete_abandoned_carts(kasse.storage, datetime.now(UTC),
                                            timedelta(days=days))

    deleted = run_with_container(run, settings, migrate=False)
    print(f"deleted {deleted} carts untouched for {days:g} days")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kasse", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(func=cmd_migrate)

    load = commands.add_parser("import", help="load or update a store from a YAML/TOML file")
    load.add_argument("file")
    load.add_argument("--set-stock", action="store_true",
                      help="set the stock on hand of existing products to the file's figures "
                           "(by default only new products take them)")
    load.set_defaults(func=cmd_import)

    demo = commands.add_parser("demo", help="load the demo store (alias 'demo')")
    demo.set_defaults(func=cmd_demo)

    openapi = commands.add_parser("openapi", help="print the served OpenAPI document as JSON")
    openapi.set_defaults(func=cmd_openapi)

    link = commands.add_parser("payment-link",
                               help="print a payment link token for an open cart")
    link.add_argument("order_id")
    link.add_argument("--store", default="demo", help="store id or alias (default: demo)")
    link.add_argument("--minutes", type=int, default=24 * 60,
                      help="how long the link is valid (default: 1440)")
    link.set_defaults(func=cmd_payment_link)

    cleanup = commands.add_parser("cleanup", help="delete abandoned carts now")
    cleanup.add_argument("--days", type=float, default=None,
                         help="untouched for this many days (default: "
                              "KASSE_ABANDONED_CART_DAYS)")
    cleanup.set_defaults(func=cmd_cleanup)

    from kasse.cli_webhooks import add_commands as add_webhook_commands

    add_webhook_commands(commands)  # webhook add|list|remove|…, worker

    from kasse.cli_payments import add_commands as add_payment_commands

    add_payment_commands(commands)  # payment capture|cancel|refund

    from kasse.cli_stock import add_commands as add_stock_commands

    add_stock_commands(commands)  # stock list|adjust

    from kasse.cli_staff import add_commands as add_staff_commands

    add_staff_commands(commands)  # staff add|list|…, token create|list|revoke
    from kasse.cli_emails import add_commands as add_email_commands

    add_email_commands(commands)  # email list|resend|preview
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
