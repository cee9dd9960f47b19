"""Who may do what on the merchant's side: staff roles, what each role is allowed, and the
principal (a staff member or a management API token) that a request acts as.

Storefront keys are not principals here: they serve the Storefront API only and never
reach a management operation.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from kasse.domain.errors import DomainError, NotFound


class Role(StrEnum):
    OWNER = "owner"
    """Everything, including staff accounts and API tokens."""
    MANAGER = "manager"
    """Runs the shop: orders, money, shipping, stock, webhooks; not staff or tokens."""
    FULFILMENT = "fulfilment"
    """Ships orders and keeps stock: reads orders, adds notes, fulfils, adjusts stock."""
    SUPPORT = "support"
    """Answers customers: reads everything a manager can read, changes nothing (it may
    resend a shopper's email)."""


class Permission(StrEnum):
    ORDERS_READ = "orders:read"
    ORDERS_EXPORT = "orders:export"
    ORDERS_NOTE = "orders:note"
    ORDERS_EDIT = "orders:edit"
    """Change an order's status or tags."""
    PAYMENTS = "payments:write"
    """Capture, record a payment, refund, cancel an order."""
    FULFIL = "orders:fulfil"
    STOCK_READ = "stock:read"
    STOCK_ADJUST = "stock:adjust"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_REDELIVER = "webhooks:redeliver"
    AUDIT_READ = "audit:read"
    EMAILS_RESEND = "emails:resend"
    """Send a shopper's email again (reading them is ``orders:read``)."""
    STAFF = "staff:manage"
    """Staff accounts and management API tokens."""


_READ = frozenset({Permission.ORDERS_READ, Permission.STOCK_READ, Permission.WEBHOOKS_READ,
                   Permission.AUDIT_READ})

ALLOWED: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.MANAGER: frozenset(Permission) - {Permission.STAFF},
    Role.FULFILMENT: _READ | {Permission.ORDERS_NOTE, Permission.FULFIL,
                              Permission.STOCK_ADJUST, Permission.EMAILS_RESEND},
    Role.SUPPORT: _READ,
}
"""The one table of what each role may do."""


class NotAllowed(DomainError):
    """The caller is known but its role or stores do not allow this."""

    code = "not_allowed"


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise NotFound(f"no role {value.strip()[:40]!r}; roles: "
                       f"{', '.join(r.value for r in Role)}") from None


@dataclass(frozen=True, slots=True)
class Principal:
    """Whom a management request acts as."""

    kind: str
    """``token``, ``staff`` or ``cli``."""
    id: str | None
    name: str
    """For the audit log: a token's name or a staff member's email."""
    role: Role
    store_ids: frozenset[UUID] | None
    """The stores it may act on; ``None``: every store."""
    staff_id: UUID | None = None
    """The staff member it is (or whose token it is), if any: what it creates belongs to
    that member too."""

    @property
    def key(self) -> str:
        """A stable name for what it does (e.g. the owner of its idempotency keys)."""
        return f"{self.kind}:{self.id or self.name}"

    def may(self, permission: Permission, store_id: UUID | None = None) -> bool:
        if permission not in ALLOWED[self.role]:
            return False
        return store_id is None or self.store_ids is None or store_id in self.store_ids

    def require(self, permission: Permission, store_id: UUID | None = None) -> None:
        """Raise ``NotAllowed`` unless this principal may do ``permission`` (in the store)."""
        if permission not in ALLOWED[self.role]:
            raise NotAllowed(f"the {self.role.value} role may not do {permission.value}")
        if store_id is not None and self.store_ids is not None \
                and store_id not in self.store_ids:
            raise NotAllowed(f"{self.name} may not act on store {store_id}")

    def visible_stores(self, store_ids: Iterable[UUID]) -> list[UUID]:
        """Of ``store_ids``, the ones this principal may see."""
        return [s for s in store_ids if self.store_ids is None or s in self.store_ids]


CLI = Principal(kind="cli", id=None, name="command line", role=Role.OWNER, store_ids=None)
"""Whoever runs ``kasse`` on the server: they hold the database already."""


TOKEN_PREFIX = "kmt_"  # noqa: S105 (a marker, not a secret)
"""How every management API token begins (so that a leaked one is easy to spot)."""


def token_digest(token: str) -> str:
    """What is stored of a management API token: its SHA-256 (tokens are 256-bit random,
    so a fast hash is enough and a lookup by digest reveals nothing)."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def new_token() -> str:
    """A fresh management API token, to be shown once."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class StorefrontKey:
    """A storefront server's ``Api-Key``: every Storefront API operation, in its stores."""

    secret: bytes
    stores: frozenset[str] | None = None
    """Ids or aliases (lower case) of the stores it serves; ``None``: every store."""

    @classmethod
    def parse(cls, entry: str) -> StorefrontKey:
        """``KEY`` (every store) or ``KEY@alias+alias`` (those stores, by id or alias)."""
        secret, at, scope = entry.strip().partition("@")
        if not secret or (at and not scope.strip("+ ")):
            raise ValueError("an Api-Key entry is KEY or KEY@store+store")
        stores = (frozenset(s.strip().lower() for s in scope.split("+") if s.strip())
                  if at else None)
        return cls(secret.encode("utf-8", "surrogateescape"), stores)

    def serves(self, store_id: UUID, alias: str) -> bool:
        return self.stores is None or str(store_id) in self.stores \
            or alias.lower() in self.stores
