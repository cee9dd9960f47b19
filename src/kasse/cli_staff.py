"""``kasse staff …`` (staff accounts) and ``kasse token …`` (management API tokens).

Whoever runs ``kasse`` on the server holds the database already, so these act as the
owner of every store; each change is in the audit log under "command line (user)".
Passwords and tokens that kasse makes up are printed once and kept nowhere.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID

from kasse.domain.access import Role

if TYPE_CHECKING:  # the commands import what they need when they run
    from kasse.bootstrap import Container
    from kasse.domain.audit import Actor

T = TypeVar("T")
ROLES = [role.value for role in Role]


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds ``staff`` and ``token`` to the ``kasse`` command."""
    staff = commands.add_parser("staff", help="staff accounts: add, list, disable, passwords")
    actions = staff.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", help="add a staff member (prints a generated password "
                                         "once, unless --password-stdin)")
    add.add_argument("email")
    add.add_argument("--name", help="their name (default: the email's name part)")
    add.add_argument("--role", required=True, choices=ROLES,
                     help="owner: everything; manager: all but staff and tokens; "
                          "fulfilment: ship, notes, stock; support: read only")
    _store_argument(add, "the stores they may act on (repeat it; default: every store)")
    _password_argument(add)
    add.set_defaults(func=cmd_staff_add)

    init = actions.add_parser(
        "init", help="make the shop's first owner with a management token (prints both "
                     "once); does nothing when the shop has staff")
    init.add_argument("email")
    init.add_argument("--name", default="Owner", help="their name (default: Owner)")
    init.add_argument("--token-name", default="owner",
                      help="the name of their management token (default: owner)")
    init.set_defaults(func=cmd_staff_init)

    listing = actions.add_parser("list", help="list staff members (never a password)")
    listing.set_defaults(func=cmd_staff_list)

    for name, text in (("disable", "disable a member: no sign-in, their tokens stop"),
                       ("enable", "enable a disabled member again")):
        action = actions.add_parser(name, help=text)
        action.add_argument("member", metavar="EMAIL", help="their email or id")
        action.set_defaults(func=cmd_staff_disable)

    reset = actions.add_parser("reset-password", help="set a new password (generated and "
                                                      "printed once, unless "
                                                      "--password-stdin)")
    reset.add_argument("member", metavar="EMAIL", help="their email or id")
    _password_argument(reset)
    reset.set_defaults(func=cmd_staff_reset)

    token = commands.add_parser("token", help="management API tokens: create, list, revoke")
    token_actions = token.add_subparsers(dest="action", required=True)
    create = token_actions.add_parser("create", help="create a token (printed once)")
    create.add_argument("name", metavar="NAME", help="what it is for, e.g. erp-sync")
    create.add_argument("--role", required=True, choices=ROLES)
    _store_argument(create, "the stores it may act on (repeat it; default: every store, "
                            "or the staff member's)")
    create.add_argument("--expires-days", type=int, metavar="N",
                        help="it stops working after N days (default: never)")
    create.add_argument("--staff", metavar="EMAIL",
                        help="the staff member it belongs to: it may not exceed their role "
                             "or stores, and stops when they are disabled")
    create.set_defaults(func=cmd_token_create)

    token_list = token_actions.add_parser("list", help="list tokens (never the token)")
    token_list.set_defaults(func=cmd_token_list)

    revoke = token_actions.add_parser("revoke", help="revoke a token: it stops at once")
    revoke.add_argument("token", metavar="NAME_OR_ID")
    revoke.set_defaults(func=cmd_token_revoke)


def _store_argument(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument("--store", dest="stores", action="append", metavar="STORE",
                        help=f"store id or alias: {text}")


def _password_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password from standard input (its first line) "
                             "instead of generating one")


def _actor() -> Actor:
    from dataclasses import replace

    from kasse.domain.access import CLI
    from kasse.domain.audit import Actor

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment
        user = "unknown"
    return Actor(replace(CLI, name=f"command line ({user})"))


def _run(work: Callable[[Container], Awaitable[T]]) -> T:
    from kasse.bootstrap import run_with_container
    from kasse.config import Settings

    return run_with_container(work, Settings(), migrate=True)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _read_password() -> str | None:
    """The first line of standard input (asked for twice on a terminal)."""
    if sys.stdin.isatty():
        first = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != first:
            return None
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ") if at is not None else "-"


async def _aliases(kasse: Container) -> dict[UUID, str]:
    return {config.store.id: config.store.alias for config in await kasse.stores.warm_up()}


def _stores(store_ids: frozenset[UUID] | None, aliases: dict[UUID, str]) -> str:
    if store_ids is None:
        return "*"
    return ",".join(sorted(aliases.get(store_id, str(store_id)) for store_id in store_ids))


def cmd_staff_add(args: argparse.Namespace) -> int:
    from kasse.domain.errors import DomainError

    password = None
    if args.password_stdin:
        password = _read_password()
        if password is None:
            return _fail("the two passwords differ; nothing was changed")
    name = args.name if args.name is not None else args.email.strip().partition("@")[0]

    async def run(kasse: Container) -> int:
        try:
            added = await kasse.staff.add(_actor(), args.email, name, Role(args.role),
                                          args.stores, password)
        except DomainError as exc:
            return _fail(exc.detail)
        member = added.member
        print(f"staff member {member.id} added: {member.email} ({member.role.value}; "
              f"stores {_stores(member.store_ids, await _aliases(kasse))})")
        if added.password is not None:
            # The only time kasse shows it: only its hash is kept.
            print(f"password (shown once; hand it over safely): {added.password}")
        return 0

    return _run(run)


def cmd_staff_init(args: argparse.Namespace) -> int:
    from kasse.domain.errors import DomainError

    async def run(kasse: Container) -> int:
        try:
            made = await kasse.api_tokens.first_owner(_actor(), args.email, args.name,
                                                      args.token_name)
        except DomainError as exc:
            return _fail(exc.detail)
        if made is None:
            print("the shop has staff already: nothing was changed (see `kasse staff list`)")
            return 0
        owner, token = made
        print(f"first owner added: {owner.member.email}")
        print(f"  password (shown once; change it after signing in): {owner.password}")
        print(f"  management API token {token.token.name!r} (shown once, not stored: "
              f"copy it now): {token.plaintext}")
        return 0

    return _run(run)


def cmd_staff_list(_: argparse.Namespace) -> int:
    async def run(kasse: Container) -> int:
        members = await kasse.staff.members()
        if not members:
            print("no staff members; add the first owner with `kasse staff add EMAIL "
                  "--role owner`")
            return 0
        aliases = await _aliases(kasse)
        rows: list[tuple[str, ...]] = [("ID", "EMAIL", "ROLE", "STORES", "STATUS",
                                        "LAST-SIGN-IN", "NAME")]
        rows += [(str(m.id), m.email, m.role.value, _stores(m.store_ids, aliases),
                  "disabled" if m.disabled else "enabled", _when(m.last_sign_in_at), m.name)
                 for m in members]
        _table(rows)
        return 0

    return _run(run)


def cmd_staff_disable(args: argparse.Namespace) -> int:
    from kasse.domain.errors import DomainError

    disable = args.action == "disable"

    async def run(kasse: Container) -> int:
        try:
            before = await kasse.staff.member(args.member)
            member = await kasse.staff.set_disabled(_actor(), args.member, disable)
        except DomainError as exc:
            return _fail(exc.detail)
        state = "disabled" if disable else "enabled"
        if before.disabled == disable:
            print(f"{member.email} was {state} already")
        else:
            print(f"{member.email} {state}"
                  + ("; their tokens stop working" if disable else ""))
        return 0

    return _run(run)


def cmd_staff_reset(args: argparse.Namespace) -> int:
    from kasse.domain.errors import DomainError

    password = None
    if args.password_stdin:
        password = _read_password()
        if password is None:
            return _fail("the two passwords differ; nothing was changed")

    async def run(kasse: Container) -> int:
        try:
            done = await kasse.staff.reset_password(_actor(), args.member, password)
        except DomainError as exc:
            return _fail(exc.detail)
        print(f"password of {done.member.email} changed")
        if done.password is not None:
            print(f"password (shown once; hand it over safely): {done.password}")
        return 0

    return _run(run)


def cmd_token_create(args: argparse.Namespace) -> int:
    from kasse.domain.errors import DomainError

    async def run(kasse: Container) -> int:
        try:
            made = await kasse.api_tokens.create(
                _actor(), args.name, Role(args.role), args.stores,
                expires_days=args.expires_days, staff=args.staff)
        except DomainError as exc:
            return _fail(exc.detail)
        token = made.token
        expires = f"until {_when(token.expires_at)}" if token.expires_at else "no expiry"
        print(f"token {token.id} created: {token.name!r} ({token.role.value}; stores "
              f"{_stores(token.store_ids, await _aliases(kasse))}; {expires})")
        print(f"token (shown once, not stored: copy it now): {made.plaintext}")
        print("warning: kasse keeps only its hash and cannot show it again; if it is lost, "
              "revoke it and create another", file=sys.stderr)
        return 0

    return _run(run)


def cmd_token_list(_: argparse.Namespace) -> int:
    async def run(kasse: Container) -> int:
        tokens = await kasse.api_tokens.tokens()
        if not tokens:
            print("no management API tokens; create one with `kasse token create`")
            return 0
        aliases = await _aliases(kasse)
        emails = {member.id: member.email for member in await kasse.staff.members()}
        now = datetime.now(UTC)
        rows: list[tuple[str, ...]] = [("ID", "PREFIX", "ROLE", "STORES", "STATE",
                                        "EXPIRES", "LAST-USED", "STAFF", "NAME")]
        rows += [(str(t.id), t.prefix + "…", t.role.value, _stores(t.store_ids, aliases),
                  t.state(now).value, _when(t.expires_at), _when(t.last_used_at),
                  emails.get(t.staff_id, "-") if t.staff_id else "-", t.name)
                 for t in tokens]
        _table(rows)
        return 0

    return _run(run)


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from kasse.domain.errors import DomainError

    async def run(kasse: Container) -> int:
        try:
            token = await kasse.api_tokens.revoke(_actor(), args.token)
        except DomainError as exc:
            return _fail(exc.detail)
        print(f"token {token.id} ({token.name!r}, {token.prefix}…) revoked "
              f"{_when(token.revoked_at)}: it no longer works")
        return 0

    return _run(run)
