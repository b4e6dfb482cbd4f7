"""Run the Alembic migrations inside the package programmatically."""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, inspect, pool, text
from sqlalchemy.engine import Connection

from hall_server.db.engine import normalise_url

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
_REVISION_LINE = re.compile(
    r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:["'](\w+)["']|None)\s*$""", re.M
)


@cache
def head_revision() -> str | None:
    """The single newest revision, read from the version files' own lines (no Alembic import).

    None when the files do not make one linear head (Alembic then decides, as before)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict((m.group(1), m.group(2)) for m in _REVISION_LINE.finditer(path.read_text("utf-8")))
        if "revision" not in found or found["revision"] is None:
            continue
        revisions.add(found["revision"])
        if found.get("down_revision"):
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _at_head(conn: Connection) -> bool:
    """True when the database's recorded revision is exactly the head: nothing to upgrade."""
    head = head_revision()
    if head is None or not inspect(conn).has_table(VERSION_TABLE):
        return False
    rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return rows == [head]


def alembic_config(url: str) -> Config:
    """An Alembic Config pointing at the package's migrations and the database url."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at url to the newest schema (idempotent)."""
    url = normalise_url(url)
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        if revision == "heads":
            # A server restarting on its own database: one SELECT instead of loading Alembic
            # and every migration script (a fifth of the start-up time).
            with engine.connect() as conn:
                if _at_head(conn):
                    logger.info(
                        "database at %s is up to date", engine.url.render_as_string(hide_password=True)
                    )
                    return
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Several server processes may start at once: migrate one at a time.
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(724113)")
            elif conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
                conn.exec_driver_sql("PRAGMA busy_timeout=30000")
                # Hold the write lock for the whole upgrade so two processes cannot interleave.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            from alembic import command

            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()
    logger.info("database at %s is up to date", engine.url.render_as_string(hide_password=True))


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None."""
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(normalise_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
