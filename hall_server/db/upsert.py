"""INSERT ... ON CONFLICT DO UPDATE ... RETURNING for SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert_returning(
    session: Session,
    table: Table,
    values: dict[str, Any],
    *,
    index_elements: list[str],
    set_: dict[str, Any],
    returning: Any,
) -> Any:
    """An upsert statement for the session's dialect that returns `returning`."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(table).values(**values)
    return stmt.on_conflict_do_update(index_elements=index_elements, set_=set_).returning(returning)


def upsert_statement(
    dialect: str,
    table: Table,
    values: dict[str, Any],
    *,
    index_elements: list[str],
    set_: dict[str, Any],
    returning: Any,
) -> Any:
    """The same upsert for a dialect name, to build once and reuse with bind parameters.

    `returning` is one column or a tuple of them.
    """
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(table).values(**values)
    columns = returning if isinstance(returning, tuple) else (returning,)
    return stmt.on_conflict_do_update(index_elements=index_elements, set_=set_).returning(*columns)


def upsert_do_nothing(dialect: str, table: Table, values: dict[str, Any]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for a dialect name (keep the row already there)."""
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).values(**values).on_conflict_do_nothing()
