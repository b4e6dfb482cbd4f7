"""Statistics rollups and the dirty log that keeps them current (services/stat_rollups.py).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 05:00:00

`stat_rollups` holds one row per hall, business day, grouping and key; `stat_dirty` receives the
hall-day of every inserted, updated or deleted ticket, rating and follow-up case, written by
triggers so that every writer is covered: the use cases, the end-of-day closing, a station's
rows applied set-wise at the city, bulk loads. PostgreSQL uses statement triggers with
transition tables (one INSERT per statement, however many rows it touched); SQLite row
triggers. Every existing hall-day starts dirty, so the first pass rolls up the history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# table -> how a changed row names its hall-day ("changed" is the row or the transition table)
SOURCES = {
    "tickets": "SELECT DISTINCT hall_id, business_day FROM changed",
    "ratings": "SELECT DISTINCT t.hall_id, t.business_day FROM changed c JOIN tickets t ON t.id = c.ticket_id",
    "followup_cases": (
        "SELECT DISTINCT t.hall_id, t.business_day FROM changed c JOIN tickets t ON t.id = c.ticket_id"
    ),
}
EVENTS = ("INSERT", "UPDATE", "DELETE")


def _sqlite_triggers() -> None:
    for table in SOURCES:
        for event in EVENTS:
            row = "OLD" if event == "DELETE" else "NEW"
            if table == "tickets":
                body = f"SELECT {row}.hall_id, {row}.business_day"
            else:
                body = f"SELECT hall_id, business_day FROM tickets WHERE id = {row}.ticket_id"
            op.execute(
                f"CREATE TRIGGER {table}_stat_dirty_{event.lower()} AFTER {event} ON {table} "
                f"BEGIN INSERT INTO stat_dirty (hall_id, business_day) {body}; END"
            )


def _postgres_triggers() -> None:
    for table, source in SOURCES.items():
        op.execute(
            f"CREATE FUNCTION {table}_stat_dirty() RETURNS trigger AS $$ BEGIN "
            f"INSERT INTO stat_dirty (hall_id, business_day) {source}; RETURN NULL; END; $$ LANGUAGE plpgsql"
        )
        for event in EVENTS:
            rows = "OLD" if event == "DELETE" else "NEW"
            op.execute(
                f"CREATE TRIGGER {table}_stat_dirty_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {rows} TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {table}_stat_dirty()"
            )


def upgrade() -> None:
    op.create_table(
        "stat_rollups",
        sa.Column("dim", sa.String(12), primary_key=True),
        sa.Column("hall_id", sa.String(64), primary_key=True),
        sa.Column("business_day", sa.Date(), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("counts", sa.LargeBinary(), nullable=False),
        sa.Column("waits", sa.LargeBinary(), nullable=False),
        sa.Column("serves", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_stat_rollups_hall_day", "stat_rollups", ["hall_id", "business_day"])
    op.create_table(
        "stat_dirty",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("hall_id", sa.String(64), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()
    op.execute(
        "INSERT INTO stat_dirty (hall_id, business_day) SELECT DISTINCT hall_id, business_day FROM tickets"
    )


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for table in SOURCES:
        for event in EVENTS:
            op.execute(
                f"DROP TRIGGER IF EXISTS {table}_stat_dirty_{event.lower()}" + (f" ON {table}" if pg else "")
            )
        if pg:
            op.execute(f"DROP FUNCTION IF EXISTS {table}_stat_dirty()")
    op.drop_table("stat_dirty")
    op.drop_table("stat_rollups")
