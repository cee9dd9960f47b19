"""Staff accounts and management API tokens: what they are, what may be shown of them, and
the rules their fields follow (email, name, password policy, what a grant may reach).

Passwords and tokens themselves never live here: a staff member is known by a password
hash kept by the storage, a token by its digest (see ``access.token_digest``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

from kasse.domain.access import (
    ALLOWED,
    TOKEN_PREFIX,
    NotAllowed,
    Principal,
    Role,
    new_token,
)
from kasse.domain.errors import InvalidInput
from kasse.domain.text import has_control_characters

MAX_EMAIL = 320
MAX_NAME = 200
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
"""Argon2 hashes any length, but a megabyte "password" is only a way to burn CPU."""
MAX_TOKEN_DAYS = 3650
PREFIX_LENGTH = len(TOKEN_PREFIX) + 8
"""How much of a token is kept in clear to tell tokens apart (48 of its 256 bits)."""


def normalise_email(value: str) -> str:
    """A staff member's email as it is stored and compared: trimmed and in lower case.

    Raises ``InvalidInput`` unless it is ``local@domain``, printable, without spaces and
    at most 320 characters."""
    if has_control_characters(value):
        raise InvalidInput("the email may not hold control characters")
    email = value.strip().lower()
    if not email:
        raise InvalidInput("an email is required")
    if len(email) > MAX_EMAIL:
        raise InvalidInput(f"the email is longer than {MAX_EMAIL} characters")
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in email):
        raise InvalidInput(f"{email[:60]!r} is not an email address (name@domain, "
                           "without spaces)")
    return email


def check_name(value: str, what: str = "name") -> str:
    """A staff member's or a token's name: trimmed, 1 to 200 printable characters."""
    if has_control_characters(value):
        raise InvalidInput(f"the {what} may not hold control characters")
    name = value.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"the {what} must be 1 to {MAX_NAME} characters")
    return name


def check_password(password: str, email: str) -> None:
    """The password policy: 12 to 1024 characters, and not the account's email.

    Raises ``InvalidInput`` saying which rule is broken (never echoing the password)."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the password must be at least {MIN_PASSWORD} characters "
                           f"(it has {len(password)})")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"the password may be at most {MAX_PASSWORD} characters")
    if password.strip().lower() in (email.lower(), email.lower().partition("@")[0]):
        raise InvalidInput("the password may not be the email address or its name part")


def generate_password() -> str:
    """A strong password to hand out once: 24 characters, 144 random bits."""
    return secrets.token_urlsafe(18)


def within(principal: Principal, role: Role, store_ids: frozenset[UUID] | None) -> bool:
    """Whether ``principal`` may give (and so see and manage) access with ``role`` on
    ``store_ids``: see ``check_grant``."""
    if ALLOWED[role] - ALLOWED[principal.role]:
        return False
    return principal.store_ids is None or (
        store_ids is not None and store_ids <= principal.store_ids)


def check_grant(grantor: Principal, role: Role, store_ids: frozenset[UUID] | None) -> None:
    """Whoever gives access (a new token, a new staff member) may give no more than they
    have: a role that may do nothing they may not, on stores they may act on.

    Raises ``NotAllowed`` otherwise."""
    beyond = ALLOWED[role] - ALLOWED[grantor.role]
    if beyond:
        raise NotAllowed(f"{grantor.name} ({grantor.role.value}) may not give the "
                         f"{role.value} role: it allows "
                         f"{', '.join(sorted(p.value for p in beyond))}")
    if grantor.store_ids is None:
        return
    if store_ids is None:
        raise NotAllowed(f"{grantor.name} may act on some stores only, so may not give "
                         "access to every store: name the stores")
    outside = store_ids - grantor.store_ids
    if outside:
        raise NotAllowed(f"{grantor.name} may not give access to stores "
                         f"{', '.join(sorted(str(s) for s in outside))}")


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A person who signs in to the back office (the password hash is kept aside)."""

    id: UUID
    email: str
    name: str
    role: Role
    store_ids: frozenset[UUID] | None
    """The stores the account may act on; ``None``: every store."""
    disabled: bool
    created_at: datetime
    password_changed_at: datetime
    last_sign_in_at: datetime | None = None

    @classmethod
    def new(cls, email: str, name: str, role: Role, store_ids: frozenset[UUID] | None,
            at: datetime) -> StaffMember:
        """A new, enabled account; email and name are checked and normalised."""
        return cls(id=uuid4(), email=normalise_email(email), name=check_name(name),
                   role=role, store_ids=_checked_stores(store_ids), disabled=False,
                   created_at=at, password_changed_at=at)

    def principal(self) -> Principal:
        """Whom this member's requests act as."""
        return Principal(kind="staff", id=str(self.id), name=self.email, role=self.role,
                         store_ids=self.store_ids, staff_id=self.id)


class TokenState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class ApiToken:
    """What is shown of a management API token: never the token nor its digest."""

    id: UUID
    name: str
    prefix: str
    """Its first characters (``kmt_`` and 8 more), to tell tokens apart."""
    role: Role
    store_ids: frozenset[UUID] | None
    staff_id: UUID | None
    """The staff member it belongs to: disabling the member stops the token."""
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @classmethod
    def issue(cls, name: str, role: Role, store_ids: frozenset[UUID] | None, at: datetime, *,
              staff_id: UUID | None = None, expires_days: int | None = None
              ) -> tuple[ApiToken, str]:
        """A new token and its plaintext, to be shown once and stored as its digest."""
        if expires_days is not None and not 1 <= expires_days <= MAX_TOKEN_DAYS:
            raise InvalidInput(f"a token expires after 1 to {MAX_TOKEN_DAYS} days "
                               f"(not {expires_days})")
        plaintext = new_token()
        token = cls(id=uuid4(), name=check_name(name, "token name"),
                    prefix=plaintext[:PREFIX_LENGTH], role=role,
                    store_ids=_checked_stores(store_ids), staff_id=staff_id, created_at=at,
                    expires_at=None if expires_days is None
                    else at + timedelta(days=expires_days))
        return token, plaintext

    def state(self, now: datetime) -> TokenState:
        """Whether it works now; a token revoked after it expired (as one is when its
        name is given again) shows as expired."""
        ended = self.revoked_at or now
        if self.expires_at is not None and self.expires_at <= ended:
            return TokenState.EXPIRED
        if self.revoked_at is not None:
            return TokenState.REVOKED
        return TokenState.ACTIVE


def id_list(store_ids: frozenset[UUID] | None) -> list[str] | None:
    """Store ids as shown and kept (sorted text); ``None``: every store."""
    return None if store_ids is None else sorted(str(s) for s in store_ids)


def _checked_stores(store_ids: frozenset[UUID] | None) -> frozenset[UUID] | None:
    if store_ids is not None and not store_ids:
        raise InvalidInput("name at least one store, or none at all for every store")
    return store_ids
