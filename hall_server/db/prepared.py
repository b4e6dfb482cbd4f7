"""Hot statements compiled once per dialect and run straight on the DBAPI cursor.

SQLAlchemy's Connection.execute builds a cache key from the statement tree, looks up the
compiled form, processes parameters and wraps the cursor in a Result on every call: 25-40 us
per statement, more than SQLite needs to run most of ours. A Prepared statement does those
steps once per dialect (and per set of parameter names for INSERT/UPDATE, whose SET list
depends on them) and keeps SQLAlchemy's own type processors, so values go in and come out
exactly as through the ORM. It runs inside the caller's transaction on the same connection;
driver errors are raised as SQLAlchemy's exceptions (IntegrityError, OperationalError, ...).
"""

from __future__ import annotations

import logging
from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase

logger = logging.getLogger(__name__)

Processor = Callable[[Any], Any] | None
_NO_DEFAULT = object()


class _Plan:
    """One compiled form: SQL text, how to build the driver's parameters, how to read rows."""

    __slots__ = ("binds", "names", "order", "positional", "procs", "row", "sql")

    def __init__(self, stmt: Any, dialect: Any, column_keys: list[str] | None) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=column_keys)
        sql = compiled.string
        if "POSTCOMPILE" in sql or "[EXPANDING" in sql:
            raise ValueError("a Prepared statement cannot have expanding or literal-execute parameters")
        self.sql = sql
        self.positional = bool(compiled.positional)
        self.names: list[str] = list(compiled.positiontup) if self.positional else list(compiled.binds)
        # name -> (default value or _NO_DEFAULT, bind processor)
        self.binds: dict[str, tuple[Any, Processor]] = {}
        for name, bind in compiled.binds.items():
            default = _NO_DEFAULT if bind.required else bind.effective_value
            proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
            self.binds[name] = (default, proc)
        # The driver's parameters in the order it takes them: (name, default, processor) each,
        # so that building them per execution is one pass with no intermediate dict.
        self.order: tuple[tuple[str, Any, Processor], ...] = tuple(
            (name, *self.binds[name]) for name in self.names
        )
        # SELECT columns, or RETURNING columns of INSERT/UPDATE (none without RETURNING).
        columns = list(getattr(stmt, "exported_columns", ()) or ())
        self.row = namedtuple("Row", [c.key for c in columns], rename=True) if columns else None
        procs = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        self.procs: list[tuple[int, Callable[[Any], Any]]] = [
            (i, p) for i, p in enumerate(procs) if p is not None
        ]

    def parameters(self, params: Mapping[str, Any]) -> Any:
        values: list[Any] = []
        for name, default, proc in self.order:
            value = params.get(name, default)
            if value is _NO_DEFAULT:
                raise KeyError(f"missing parameter {name!r}")
            values.append(proc(value) if proc is not None and value is not None else value)
        if self.positional:
            return tuple(values)
        return dict(zip(self.names, values, strict=True))

    def rows(self, raw: list[Any]) -> list[Any]:
        make = self.row
        if make is None:
            return []
        if not self.procs:
            return [make._make(r) for r in raw]
        out = []
        for r in raw:
            vals = list(r)
            for i, proc in self.procs:
                if vals[i] is not None:
                    vals[i] = proc(vals[i])
            out.append(make._make(vals))
        return out


class Prepared:
    """A Core statement to run many times on the hot paths (see the module docstring)."""

    def __init__(self, stmt: Any) -> None:
        self.stmt = stmt
        # Without explicit values an INSERT/UPDATE sets the columns its parameters name.
        self._by_keys = isinstance(stmt, UpdateBase)
        self._plans: dict[Any, _Plan] = {}

    def _plan(self, dialect: Any, params: Mapping[str, Any]) -> _Plan:
        key: Any = dialect.name
        if self._by_keys:
            key = (dialect.name, frozenset(params))
        plan = self._plans.get(key)
        if plan is None:
            plan = _Plan(self.stmt, dialect, sorted(params) if self._by_keys else None)
            self._plans[key] = plan
        return plan

    def all(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Run and return every row (named tuples with the statement's column keys)."""
        params = params or {}
        plan = self._plan(conn.dialect, params)
        args = plan.parameters(params)
        raw = _run(conn, plan.sql, args, lambda c: c.execute(plan.sql, args), fetch=plan.row is not None)
        return plan.rows(raw)

    def many(self, conn: Connection, rows: list[Mapping[str, Any]]) -> None:
        """Run once per parameter set (the driver's executemany; no rows returned)."""
        if not rows:
            return
        plan = self._plan(conn.dialect, rows[0])
        if plan.row is not None:
            raise ValueError("many() is for statements without RETURNING")
        args = [plan.parameters(r) for r in rows]
        _run(conn, plan.sql, args, lambda c: c.executemany(plan.sql, args), fetch=False)

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first row or None."""
        rows = self.all(conn, params)
        return rows[0] if rows else None

    def one(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """Exactly one row (LookupError otherwise)."""
        rows = self.all(conn, params)
        if len(rows) != 1:
            raise LookupError(f"expected one row, got {len(rows)}")
        return rows[0]

    def scalar(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row, or None."""
        row = self.first(conn, params)
        return None if row is None else row[0]


def _run(conn: Connection, sql: str, args: Any, execute: Callable[[Any], Any], *, fetch: bool) -> list[Any]:
    """Run on a fresh driver cursor; driver errors come out as SQLAlchemy's exceptions."""
    dialect = conn.dialect
    raw = conn.connection.dbapi_connection
    cursor = raw.cursor()
    try:
        try:
            execute(cursor)
            return cursor.fetchall() if fetch else []
        except dialect.loaded_dbapi.Error as exc:
            # A dead connection must not go back to the pool (SQLAlchemy's own execute does the same).
            gone = bool(dialect.is_disconnect(exc, raw, cursor))
            if gone:
                conn.invalidate(exc)
            raise DBAPIError.instance(
                sql, args, exc, dialect.loaded_dbapi.Error, dialect=dialect, connection_invalidated=gone
            ) from exc
    finally:
        cursor.close()
