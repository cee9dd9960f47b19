"""Which database errors mean the database is out of reach, not that a statement is wrong.

Out of reach: no connection could be opened (the server is down, restarting, out of
connections), or the one in use was lost (the server or an administrator ended it, or
the driver's side of it was left in a state no statement can follow). A request that
meets one is answered 503 with ``Retry-After``: trying again shortly may well succeed.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError

_UNAVAILABLE_SQLSTATE_CLASSES = frozenset({
    "08",  # connection exception
    "53",  # insufficient resources: too many connections, out of memory or disk
    "57",  # operator intervention: shutdown, restart, backend ended, statement cancelled
})
"""SQLSTATE classes (the first two characters) of the server's errors that say so."""

_LOST_CLIENT_STATE = "InternalClientError"
"""asyncpg's error for a connection whose protocol state broke ("cannot switch to
state …"), as the driver adapter names it; no statement can follow on it."""


def connection_lost(exc: BaseException) -> bool:
    """The connection broke while in use; a fresh connection may well succeed.

    Not every ``InterfaceError`` is one: asyncpg reports a query argument of the wrong
    type as one, a fault no other connection mends.
    """
    if not isinstance(exc, DBAPIError):
        return False
    return (exc.connection_invalidated or type(exc.orig).__name__ == _LOST_CLIENT_STATE
            or _sqlstate(exc).startswith(("08", "57P")))


def unavailable(exc: BaseException) -> bool:
    """The database cannot serve now (unreachable, restarting, busy, its connection
    lost): worth a retry, unlike an error in what was asked of it."""
    if isinstance(exc, OperationalError) or connection_lost(exc):
        return True
    return (isinstance(exc, DBAPIError)
            and _sqlstate(exc)[:2] in _UNAVAILABLE_SQLSTATE_CLASSES)


def _sqlstate(exc: DBAPIError) -> str:
    """The server's SQLSTATE code of the error; empty when it has none."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate if isinstance(sqlstate, str) else ""
