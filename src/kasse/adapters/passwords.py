"""Staff passwords, hashed with Argon2id (argon2-cffi's ``PasswordHasher``)."""

from __future__ import annotations

from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2Passwords:
    """Hashes and checks passwords with argon2-cffi's defaults (RFC 9106's low-memory
    profile: 64 MiB, 3 passes, 4 lanes), unless given a hasher of other parameters."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()

    @cached_property
    def _dummy(self) -> str:
        # Checked when there is no hash to check against (an unknown email), so that the
        # answer takes as long as for a known one: timing tells nobody who has an account.
        return self._hasher.hash("no account has this password; it only costs time")

    def hash(self, password: str) -> str:
        """A salted hash of ``password`` (a fresh salt each time)."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``password_hash``; with ``None`` it is checked
        against a dummy hash and the answer is False, in about the same time."""
        dummy = self._dummy  # made at the first check of any kind, never inside one
        try:
            return self._hasher.verify(password_hash or dummy, password) \
                and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than today's (to be replaced
        at the next successful sign-in)."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True
