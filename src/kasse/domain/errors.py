"""Domain errors: a stable code and a human explanation, never an HTTP status.

The API layer owns the one table that maps codes to problem documents.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every expected failure; ``code`` is stable, ``detail`` is for humans."""

    code = "domain_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    code = "not_found"


class StoreNotFound(NotFound):
    code = "store_not_found"


class InvalidInput(DomainError):
    code = "invalid_input"


class CurrencyMismatch(DomainError):
    code = "currency_mismatch"


class PrecisionError(InvalidInput):
    code = "too_many_decimals"


class Conflict(DomainError):
    code = "conflict"


class ConcurrentUpdate(Conflict):
    """Someone else saved the same aggregate since it was loaded; callers retry."""

    code = "concurrent_update"


class StaleVersion(Conflict):
    """The caller acted on a version of an order that has changed since (``If-Match``)."""

    code = "stale_version"
