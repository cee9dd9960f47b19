"""Who may do what on the management API: every operation of its OpenAPI document, tried by
every kind of caller.

The operations are read from the document the app serves, so a new endpoint is tried as
soon as it exists, and fails here until ``CALLS`` says how to call it. For each operation
and each caller:

- each role (owner, manager, fulfilment, support; tokens for every store) that its
  ``x-kasse-permission`` allows is let in: never a 401 or 403 (an answer may still be a
  4xx for a business reason); at least one of them gets a 2xx unless the entry says why
  not;
- a role it does not allow gets a 403 and changes nothing;
- an owner's token limited to another store gets a 403 or 404 where the request names
  the demo store or one of its records, and never sees the demo store's order elsewhere;
- no credentials, a storefront key (as ``Api-Key`` or as a bearer token), a revoked
  token, an expired token and the token of a disabled staff member get a 401 and change
  nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import (
    api_tokens,
    audit_entries,
    email_messages,
    orders,
    outbox_events,
    webhook_deliveries,
)
from kasse.api.app import create_app
from kasse.api.management import MANAGEMENT_PREFIX
from kasse.bootstrap import bootstrap
from kasse.config import Settings
from kasse.domain.access import ALLOWED, Permission, Role
from kasse.domain.audit import COMMAND_LINE
from tests.api.conftest import make_settings
from tests.api.test_auth_sweep import Api, import_other_store, served
from tests.conftest import API_KEY

# --- how each operation is called -------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """The real records the calls name: the demo store, a placed order of it, a staff
    member and a token to act on."""

    store_id: str
    order_id: str
    order_email: str
    staff_id: str
    token_id: str
    email_id: str = ""
    """The order's confirmation email."""
    delivery_id: str = ""
    """A webhook delivery of the order's events (to an endpoint that refuses them)."""


Body = Callable[[World, str], Any]
"""A request body from the world and a value unique to this call (for names, emails)."""


@dataclass(frozen=True)
class Call:
    permission: str | None
    """The permission the operation needs, as the product says (``None``: any working
    token); the document's ``x-kasse-permission`` must say the same."""
    body: Body | None = None
    query: Callable[[World], dict[str, Any]] | None = None
    names_the_store: bool = False
    """The request names the demo store (as a query, header or body field) or a record
    that reaches it (an ``{orderId}`` in the path always counts; the staff member and
    token acted on reach every store): a token limited to another store gets a 403 or
    404."""
    succeeds: str | None = None
    """``None``: some allowed caller gets a 2xx. Otherwise, why none may (a business
    rule every allowed call runs into)."""


CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/me"): Call(None),
    ("GET", "/staff"): Call("staff:manage"),
    ("POST", "/staff"): Call("staff:manage", body=lambda world, unique: {
        "email": f"new-{unique}@shop.example", "name": "New Member", "role": "support"}),
    ("POST", "/staff/{staffId}/disable"): Call("staff:manage", names_the_store=True),
    ("POST", "/staff/{staffId}/enable"): Call("staff:manage", names_the_store=True),
    ("POST", "/staff/{staffId}/reset-password"): Call("staff:manage", names_the_store=True),
    ("GET", "/tokens"): Call("staff:manage"),
    ("POST", "/tokens"): Call("staff:manage", body=lambda world, unique: {
        "name": f"matrix-{unique}", "role": "support", "expiresInDays": 1}),
    ("DELETE", "/tokens/{tokenId}"): Call("staff:manage", names_the_store=True),
    ("GET", "/orders"): Call("orders:read"),
    ("GET", "/orders/export.csv"): Call("orders:export"),
    ("GET", "/orders/{orderId}"): Call("orders:read"),
    ("GET", "/orders/{orderId}/audit"): Call("audit:read"),
    ("GET", "/stores/{store}/audit"): Call("audit:read", names_the_store=True),
    ("GET", "/orders/{orderId}/emails"): Call("orders:read"),
    ("GET", "/orders/{orderId}/emails/preview"): Call(
        "orders:read", query=lambda world: {"type": "confirmation"}),
    ("POST", "/emails/{emailId}/resend"): Call("emails:resend", names_the_store=True),
    ("GET", "/stores/{store}/stock"): Call("stock:read", names_the_store=True),
    ("GET", "/stores/{store}/stock/{reference}"): Call("stock:read", names_the_store=True),
    ("GET", "/stores/{store}/stock/{reference}/ledger"): Call("stock:read",
                                                              names_the_store=True),
    ("POST", "/stores/{store}/stock/{reference}/adjustments"): Call(
        "stock:adjust", names_the_store=True,
        body=lambda world, unique: {"change": 1, "reason": "received", "note": unique}),
    ("GET", "/webhooks/endpoints"): Call("webhooks:read"),
    ("GET", "/webhooks/deliveries"): Call("webhooks:read"),
    ("GET", "/webhooks/deliveries/{deliveryId}"): Call("webhooks:read", names_the_store=True),
    ("POST", "/webhooks/deliveries/{deliveryId}/redeliver"): Call("webhooks:redeliver",
                                                                  names_the_store=True),
    ("POST", "/webhooks/deliveries/redeliver-failed"): Call(
        "webhooks:redeliver", body=lambda world, unique: {}),
    # The actions on the world's placed order (an unpaid invoice), tried in the document's
    # order: cancel, capture, fulfilments, notes, payments, refunds, status, tags.
    ("POST", "/orders/{orderId}/cancel"): Call(
        "payments:write", body=lambda world, unique: {"reason": "x" * 501},
        succeeds="canceling the world's one order would refuse the operations tried after "
                 "it (so its reason is too long); test_order_money cancels orders"),
    ("POST", "/orders/{orderId}/capture"): Call(
        "payments:write", succeeds="the world's order is paid by invoice, whose provider "
                                   "cannot capture"),
    ("POST", "/orders/{orderId}/fulfilments"): Call("orders:fulfil"),
    ("POST", "/orders/{orderId}/notes"): Call(
        "orders:note", body=lambda world, unique: {"body": f"note {unique}"}),
    ("POST", "/orders/{orderId}/payments"): Call(
        "payments:write", body=lambda world, unique: {"reference": f"BANK-{unique}"}),
    ("POST", "/orders/{orderId}/refunds"): Call(
        "payments:write", body=lambda world, unique: {"amount": "1.00"}),
    ("POST", "/orders/{orderId}/status"): Call(
        "orders:edit", body=lambda world, unique: {"status": "processing"}),
    ("POST", "/orders/{orderId}/tags"): Call(
        "orders:edit", body=lambda world, unique: {"add": [f"tag-{unique}"]}),
    ("PUT", "/orders/{orderId}/tags"): Call(
        "orders:edit", body=lambda world, unique: {"tags": [f"tag-{unique}"]}),
}
"""Every operation of the management API, by method and path (after the prefix)."""

PATH_VALUES: dict[str, Callable[[World], str]] = {
    "orderId": lambda world: world.order_id,
    "staffId": lambda world: world.staff_id,
    "tokenId": lambda world: world.token_id,
    "emailId": lambda world: world.email_id,
    "store": lambda world: "demo",
    "reference": lambda world: "trail-map",
    "deliveryId": lambda world: world.delivery_id,
}
"""A real value for each path parameter; a new one is taught here."""

NOT_IN_THE_DOCUMENT: dict[str, str] = {
    f"{MANAGEMENT_PREFIX}/openapi.json": "the management API's description (public)",
    f"{MANAGEMENT_PREFIX}/docs": "its documentation page, rendered from openapi.json",
}
"""Routes under the management prefix that are not operations of its document."""

# --- the callers ------------------------------------------------------------------------------

ROLES = [Role.OWNER, Role.MANAGER, Role.FULFILMENT, Role.SUPPORT]
READS = {"orders:read", "stock:read", "webhooks:read", "audit:read"}
MAY: dict[Role, set[str]] = {
    Role.OWNER: {p.value for p in Permission},
    Role.MANAGER: {p.value for p in Permission} - {"staff:manage"},
    Role.FULFILMENT: READS | {"orders:note", "orders:fulfil", "stock:adjust",
                              "emails:resend"},
    Role.SUPPORT: READS,
}
"""What each role may do, as the product says it (owner: everything; manager: all but
staff and tokens; fulfilment: ship, notes, stock; support: read only), written here and
not read from the code, so that a wrong grant in the code fails the matrix."""
OTHER_STORE = "owner-of-another-store"
UNAUTHENTICATED = ["no-credentials", "storefront-key", "storefront-key-as-bearer", "revoked",
                   "expired", "disabled-staff-member"]


@dataclass
class Matrix:
    client: TestClient
    db_url: str
    world: World
    headers: dict[str, dict[str, str]]
    """Each caller's credentials."""
    document: dict[str, Any]


def run(work: Callable[[Any], Any], db_url: str) -> Any:
    """``work(container)`` on a container of its own, as another process would."""
    async def main() -> Any:
        async with bootstrap(Settings(database_url=db_url), migrate=False) as kasse:
            return await work(kasse)

    return asyncio.run(main())


def database(db_url: str, work: Callable[[Any], Any]) -> Any:
    async def main() -> Any:
        db = Database.from_url(db_url)
        try:
            async with db.transaction() as conn:
                return await work(conn)
        finally:
            await db.dispose()

    return asyncio.run(main())


def audit_count(db_url: str) -> int:
    async def count(conn: Any) -> int:
        return int((await conn.execute(select(func.count()).select_from(audit_entries)))
                   .scalar_one())

    return int(database(db_url, count))


def callers(db_url: str) -> tuple[dict[str, dict[str, str]], World]:
    """Tokens made as an operator makes them (the services behind ``kasse token``), and
    the staff members and token the calls act on."""
    async def make(kasse: Any) -> tuple[dict[str, str], str, str]:
        tokens: dict[str, str] = {}
        for role in ROLES:
            made = await kasse.api_tokens.create(COMMAND_LINE, f"{role.value}-caller", role)
            tokens[role.value] = made.plaintext
        made = await kasse.api_tokens.create(COMMAND_LINE, "other-store-owner", Role.OWNER,
                                             ["other"])
        tokens[OTHER_STORE] = made.plaintext
        made = await kasse.api_tokens.create(COMMAND_LINE, "revoked-owner", Role.OWNER)
        await kasse.api_tokens.revoke(COMMAND_LINE, "revoked-owner")
        tokens["revoked"] = made.plaintext
        made = await kasse.api_tokens.create(COMMAND_LINE, "expired-owner", Role.OWNER,
                                             expires_days=1)
        tokens["expired"] = made.plaintext
        await kasse.staff.add(COMMAND_LINE, "olga@shop.example", "Olga", Role.OWNER)
        await kasse.staff.add(COMMAND_LINE, "gone@shop.example", "Gone", Role.OWNER)
        made = await kasse.api_tokens.create(COMMAND_LINE, "gones-token", Role.OWNER,
                                             staff="gone@shop.example")
        await kasse.staff.set_disabled(COMMAND_LINE, "gone@shop.example", True)
        tokens["disabled-staff-member"] = made.plaintext
        target = await kasse.staff.add(COMMAND_LINE, "target@shop.example", "Target",
                                       Role.SUPPORT)
        revocable = await kasse.api_tokens.create(COMMAND_LINE, "revocable", Role.SUPPORT)
        # Nothing listens there: the order's events are deliveries that keep failing.
        await kasse.webhook_endpoints.add("http://127.0.0.1:9/matrix", "*", store="demo")
        return tokens, str(target.member.id), str(revocable.token.id)

    tokens, staff_id, token_id = run(make, db_url)

    async def expire(conn: Any) -> None:
        await conn.execute(update(api_tokens).where(api_tokens.c.name == "expired-owner")
                           .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))

    database(db_url, expire)
    headers = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    headers["no-credentials"] = {}
    headers["storefront-key"] = {"Api-Key": API_KEY, "Store": "demo"}
    headers["storefront-key-as-bearer"] = {"Authorization": f"Bearer {API_KEY}"}
    return headers, World("", "", "", staff_id, token_id)


def confirmation_email(db_url: str, order_id: uuid.UUID) -> str:
    """The id of the order's confirmation email, once the app's worker has made it."""
    async def find(conn: Any) -> Any:
        return (await conn.execute(select(email_messages.c.id).where(
            email_messages.c.order_id == order_id))).scalar()

    deadline = time.monotonic() + 20
    while (found := database(db_url, find)) is None:
        assert time.monotonic() < deadline, "the order's confirmation email was not made"
        time.sleep(0.1)
    return str(found)


def delivery_of(db_url: str, order_id: str) -> str:
    """A delivery of one of the order's events, once the app's worker has made it."""
    async def find(conn: Any) -> Any:
        return (await conn.execute(
            select(webhook_deliveries.c.id)
            .join(outbox_events, outbox_events.c.id == webhook_deliveries.c.event_id)
            .where(outbox_events.c.aggregate_id == uuid.UUID(order_id)))).first()

    for _ in range(200):
        found = database(db_url, find)
        if found is not None:
            return str(found[0])
        time.sleep(0.05)
    raise AssertionError("the order's events were not relayed to the webhook endpoint")


@pytest.fixture
def matrix(demo_db_url: str, tmp_path: Path) -> Iterator[Matrix]:
    import_other_store(demo_db_url)
    app = create_app(make_settings(demo_db_url, tmp_path))
    headers, world = callers(demo_db_url)
    with TestClient(app, raise_server_exceptions=False) as client:
        storefront = Api(client)
        order = storefront.confirmed(storefront.initialized(), "matrix-order")

        async def placed(conn: Any) -> Any:
            return (await conn.execute(select(orders.c.store_id, orders.c.customer_email)
                                       .where(orders.c.id == uuid.UUID(order.order_id)))).one()

        store_id, email = database(demo_db_url, placed)
        world = World(str(store_id), order.order_id, email, world.staff_id, world.token_id,
                      confirmation_email(demo_db_url, uuid.UUID(order.order_id)),
                      delivery_of(demo_db_url, order.order_id))
        document = client.get(f"{MANAGEMENT_PREFIX}/openapi.json").json()
        yield Matrix(client, demo_db_url, world, headers, document)


# --- the matrix -------------------------------------------------------------------------------

_PARAM = re.compile(r"\{(\w+)\}")
CHANGES = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    """As the document has it, with the prefix."""
    permission: Permission | None
    call: Call

    @property
    def name(self) -> str:
        return f"{self.method} {self.path.removeprefix(MANAGEMENT_PREFIX)}"

    @property
    def names_the_store(self) -> bool:
        return self.call.names_the_store or "{orderId}" in self.path


def operations(document: dict[str, Any]) -> tuple[list[Operation], list[str]]:
    """The document's operations, and what is wrong with the document or ``CALLS``."""
    found: list[Operation] = []
    problems: list[str] = []
    for path, item in sorted(document["paths"].items()):
        for method, operation in sorted(item.items()):
            key = (method.upper(), path.removeprefix(MANAGEMENT_PREFIX))
            if "x-kasse-permission" not in operation:
                problems.append(f"{key}: the document names no x-kasse-permission")
                continue
            call = CALLS.get(key)
            if call is None:
                problems.append(f"{key}: not in CALLS; say how to call it (body, query, "
                                "whether it names the demo store)")
                continue
            value = operation["x-kasse-permission"]
            if value != call.permission:
                problems.append(f"{key}: the document says it needs {value}, the product "
                                f"{call.permission}")
                continue
            found.append(Operation(key[0], path, None if value is None else Permission(value),
                                   call))
    return found, problems


def allows(permission: Permission | None, role: Role) -> bool:
    return permission is None or permission.value in MAY[role]


_unique = itertools.count(1)


def send(matrix: Matrix, operation: Operation, caller: str) -> Any:
    world = matrix.world

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PATH_VALUES:
            raise LookupError(f"{operation.name}: no value for {{{name}}}; teach PATH_VALUES")
        return PATH_VALUES[name](world)

    url = _PARAM.sub(value, operation.path)
    headers = dict(matrix.headers[caller])
    if operation.method in CHANGES:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    kwargs: dict[str, Any] = {"headers": headers}
    if operation.call.query is not None:
        kwargs["params"] = operation.call.query(world)
    if operation.call.body is not None:
        kwargs["json"] = operation.call.body(world, f"{next(_unique)}")
    return matrix.client.request(operation.method, url, **kwargs)


def check(matrix: Matrix, operation: Operation) -> list[str]:
    """What goes wrong for ``operation`` across the callers (empty: nothing)."""
    failures: list[str] = []

    def expect(caller: str, statuses: set[int], answer: Any) -> None:
        if answer.status_code not in statuses:
            failures.append(f"{operation.name} as {caller}: {answer.status_code} instead of "
                            f"{sorted(statuses)}: {answer.text[:200]}")
        elif not answer.headers["content-type"].startswith("application/problem+json"):
            failures.append(f"{operation.name} as {caller}: a {answer.status_code} without "
                            "a problem document")

    def refused(caller: str, statuses: set[int]) -> None:
        before = audit_count(matrix.db_url) if operation.method in CHANGES else None
        expect(caller, statuses, send(matrix, operation, caller))
        if before is not None and audit_count(matrix.db_url) != before:
            failures.append(f"{operation.name} as {caller}: refused, yet it changed something "
                            "(an audit entry was written)")

    for caller in UNAUTHENTICATED:
        refused(caller, {401})
    for role in ROLES:
        if not allows(operation.permission, role):
            refused(role.value, {403})
    if operation.names_the_store:
        refused(OTHER_STORE, {403, 404})
    else:
        answer = send(matrix, operation, OTHER_STORE)
        if answer.status_code in (401, 403):
            failures.append(f"{operation.name} as {OTHER_STORE}: {answer.status_code} on an "
                            f"operation that names no store: {answer.text[:200]}")
        shown = [mark for mark in (matrix.world.order_id, matrix.world.order_email)
                 if mark in answer.text]
        if shown:
            failures.append(f"{operation.name} as {OTHER_STORE}: shows the demo store's "
                            f"order ({shown})")
    succeeded = False
    for role in ROLES:
        if allows(operation.permission, role):
            answer = send(matrix, operation, role.value)
            if answer.status_code in (401, 403):
                failures.append(f"{operation.name} as {role.value}: {answer.status_code}, "
                                f"though its role allows it: {answer.text[:200]}")
            succeeded = succeeded or 200 <= answer.status_code < 300
    if not succeeded and operation.call.succeeds is None:
        failures.append(f"{operation.name}: no allowed caller got a 2xx (give real values, "
                        "or say in CALLS why none can)")
    return failures


def test_every_operation_is_open_to_exactly_the_callers_allowed(matrix: Matrix) -> None:
    found, problems = operations(matrix.document)
    assert not problems, "\n".join(problems)
    assert {op.name for op in found} >= {"GET /me", "POST /tokens", "GET /staff"}
    failures: list[str] = []
    for operation in found:
        failures += check(matrix, operation)
    assert not failures, "\n".join(failures)


def test_every_management_route_is_an_operation_of_the_document(matrix: Matrix) -> None:
    documented = set(matrix.document["paths"])
    # A route's converter (``{reference:path}``) is not part of the document's template.
    routes = {re.sub(r"\{(\w+):\w+\}", r"{\1}", e.path)
              for e in served(list(matrix.client.app.routes))  # type: ignore[attr-defined]
              if e.path.startswith(MANAGEMENT_PREFIX)}
    hidden = sorted(routes - documented - set(NOT_IN_THE_DOCUMENT))
    assert not hidden, f"management routes outside its document (and the matrix): {hidden}"


def test_the_callers_are_who_they_seem(matrix: Matrix) -> None:
    """The matrix's callers, checked once: each role's token acts as that role, the other
    store's owner on that store only, and the dead tokens are refused as such."""
    me = f"{MANAGEMENT_PREFIX}/me"
    for role in ROLES:
        body = matrix.client.get(me, headers=matrix.headers[role.value]).json()
        assert (body["role"], body["stores"]) == (role.value, None)
    other = matrix.client.get(me, headers=matrix.headers[OTHER_STORE]).json()
    assert other["role"] == "owner" and len(other["stores"]) == 1
    assert matrix.world.store_id not in other["stores"]
    for caller in ("revoked", "expired", "disabled-staff-member"):
        answer = matrix.client.get(me, headers=matrix.headers[caller])
        assert answer.status_code == 401 and "unknown, revoked or expired" in answer.text


def test_the_code_grants_what_the_product_says() -> None:
    assert {role: {p.value for p in ALLOWED[role]} for role in Role} == MAY
