"""Single-value reads by the shortest path SQLite offers.

Some reads are asked on nearly every request and answer one small value, such as an
order's current version (see ``api.rendered_orders``). Through the engine such a read
checks out a pooled connection, opens and resets a transaction and builds a result: ten
times the cost of the query itself. On SQLite a probe keeps one plain connection of its
own and runs the statement, compiled once, directly; in WAL mode it sees every committed
write of every process. Other engines take the usual path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import Select


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]


class SqliteProbe:
    """Runs compiled single-value selects on one connection held for the purpose."""

    def __init__(self, path: str, dialect: Dialect, busy_ms: int) -> None:
        self.path = path
        self.dialect = dialect
        self.busy_ms = busy_ms
        self._connection: sqlite3.Connection | None = None
        self._compiled: dict[Select[Any], _Compiled] = {}

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self.path, isolation_level=None,
                                         check_same_thread=False)
            connection.execute(f"PRAGMA busy_timeout={self.busy_ms}")
            self._connection = connection
        return self._connection

    def _compile(self, statement: Select[Any]) -> _Compiled:
        compiled = statement.compile(dialect=self.dialect)
        names = tuple(compiled.positiontup or ())
        processors = tuple(compiled.binds[name].type.bind_processor(self.dialect)
                           for name in names)
        found = _Compiled(compiled.string, names, processors)
        self._compiled[statement] = found
        return found

    def scalar(self, statement: Select[Any], params: Mapping[str, Any]) -> Any:
        """The first column of the first row (``None`` without rows), unconverted: meant
        for integer and text columns."""
        compiled = self._compiled.get(statement) or self._compile(statement)
        values = [process(params[name]) if process else params[name]
                  for name, process in zip(compiled.names, compiled.processors, strict=True)]
        try:
            row = self._connect().execute(compiled.sql, values).fetchone()
        except sqlite3.Error as exc:
            raise OperationalError(compiled.sql, values, exc) from None
        return None if row is None else row[0]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
