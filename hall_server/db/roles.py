"""PostgreSQL: the server's own role, which may append to the audit trail but never rewrite it."""

from __future__ import annotations

import logging
import re

from sqlalchemy import create_engine, make_url

from hall_server.db.engine import normalise_url

logger = logging.getLogger(__name__)

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Tables whose rows are history: the server may add to them and read them, nothing else.
APPEND_ONLY_TABLES = ("events", "event_archive", "report_events")


def grant_app_role_sql(role: str, password: str | None, database: str) -> list[str]:
    """The statements that create (or re-grant) the role; run them as the database owner."""
    if not _ROLE_NAME.match(role):
        raise ValueError(f"role name {role!r}: lower-case letters, digits and _ only")
    if password:
        quoted = password.replace("'", "''")
        login = f" LOGIN PASSWORD '{quoted}'"
    else:
        login = " LOGIN"
    sql = [
        # CREATE ROLE has no IF NOT EXISTS: a DO block keeps the command re-runnable.
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN "
        f"CREATE ROLE {role}{login}; END IF; END $$",
        f'GRANT CONNECT ON DATABASE "{database}" TO {role}',
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ]
    for table in APPEND_ONLY_TABLES:
        sql.append(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {role}")
    # The schema's owner runs migrations; the role never owns anything it could ALTER or DROP.
    sql.append(f"REVOKE CREATE ON SCHEMA public FROM {role}")
    return sql


def database_of(url: str) -> str:
    """The database name of a URL."""
    return str(make_url(normalise_url(url)).database)


def run_sql(url: str, statements: list[str]) -> None:
    """Run the statements in one transaction on the database of url (as its owner)."""
    engine = create_engine(normalise_url(url))
    try:
        with engine.begin() as conn:
            for stmt in statements:
                # Driver-level: a password may hold characters text() would read as parameters.
                conn.exec_driver_sql(stmt)
    finally:
        engine.dispose()
    logger.info("granted the app role on %s", url.rsplit("/", 1)[-1])
