"""Waiting counts per queue class, so a new ticket's people-ahead figure costs the same at any queue length.

Revision ID: 0024
Revises: 0021
Create Date: 2026-12-07 15:00:00

`waiting_counts` holds, per hall, business day, group and class (green or not, appointment or
not), how many tickets wait unbound (status 'waiting', no bound window): the four figures from
which services/queue.py places a just-issued ticket. Triggers on `tickets` keep it, so every
writer is covered (issue, call, transfer, cancel, no-show, day-end, a station's rows applied at
the city, bulk loads) by one rule instead of an adjustment in each use case. On PostgreSQL an
update that moves a ticket between two classes changes the two rows in key order, so two such
transactions cannot wait on each other. Existing waiting tickets are counted once here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0021"
branch_labels = None
depends_on = None

KEY = "hall_id, business_day, group_prefix, priority, appointed"
# A row counts when it waits unbound; its class is (priority, appointment held).
COUNTS_OLD = "OLD.status = 'waiting' AND OLD.bound_window_id IS NULL"
COUNTS_NEW = "NEW.status = 'waiting' AND NEW.bound_window_id IS NULL"
SAME_CLASS = (
    "NEW.hall_id = OLD.hall_id AND NEW.business_day = OLD.business_day "
    "AND NEW.group_prefix = OLD.group_prefix AND NEW.priority = OLD.priority "
    "AND (NEW.appointment_id IS NULL) = (OLD.appointment_id IS NULL)"
)
COLUMNS = "status, bound_window_id, group_prefix, priority, appointment_id, hall_id, business_day"


def _add(row: str) -> str:
    return (
        f"INSERT INTO waiting_counts ({KEY}, n) VALUES ({row}.hall_id, {row}.business_day, "
        f"{row}.group_prefix, {row}.priority, {row}.appointment_id IS NOT NULL, 1) "
        f"ON CONFLICT ({KEY}) DO UPDATE SET n = waiting_counts.n + 1"
    )


def _take(row: str) -> str:
    return (
        f"UPDATE waiting_counts SET n = n - 1 WHERE hall_id = {row}.hall_id "
        f"AND business_day = {row}.business_day AND group_prefix = {row}.group_prefix "
        f"AND priority = {row}.priority AND appointed = ({row}.appointment_id IS NOT NULL)"
    )


def _sqlite_triggers() -> None:
    op.execute(
        f"CREATE TRIGGER tickets_waiting_insert AFTER INSERT ON tickets WHEN {COUNTS_NEW} "
        f"BEGIN {_add('NEW')}; END"
    )
    op.execute(
        f"CREATE TRIGGER tickets_waiting_delete AFTER DELETE ON tickets WHEN {COUNTS_OLD} "
        f"BEGIN {_take('OLD')}; END"
    )
    moved = f"NOT (({COUNTS_OLD}) AND ({COUNTS_NEW}) AND {SAME_CLASS})"
    op.execute(
        f"CREATE TRIGGER tickets_waiting_update_old AFTER UPDATE OF {COLUMNS} ON tickets "
        f"WHEN ({COUNTS_OLD}) AND {moved} BEGIN {_take('OLD')}; END"
    )
    op.execute(
        f"CREATE TRIGGER tickets_waiting_update_new AFTER UPDATE OF {COLUMNS} ON tickets "
        f"WHEN ({COUNTS_NEW}) AND {moved} BEGIN {_add('NEW')}; END"
    )


def _postgres_triggers() -> None:
    op.execute(
        "CREATE FUNCTION tickets_waiting_count() RETURNS trigger AS $$ "
        "DECLARE was boolean := false; now_ boolean := false; BEGIN "
        f"IF TG_OP <> 'INSERT' THEN was := {COUNTS_OLD}; END IF; "
        f"IF TG_OP <> 'DELETE' THEN now_ := {COUNTS_NEW}; END IF; "
        f"IF was AND now_ AND {SAME_CLASS} THEN RETURN NULL; END IF; "
        # Two rows change: lower key first, whatever the direction of the move.
        "IF was AND now_ AND ROW(NEW.hall_id, NEW.business_day, NEW.group_prefix, NEW.priority, "
        "NEW.appointment_id IS NOT NULL) < ROW(OLD.hall_id, OLD.business_day, OLD.group_prefix, "
        f"OLD.priority, OLD.appointment_id IS NOT NULL) THEN {_add('NEW')}; {_take('OLD')}; RETURN NULL; END IF; "
        f"IF was THEN {_take('OLD')}; END IF; "
        f"IF now_ THEN {_add('NEW')}; END IF; "
        "RETURN NULL; END; $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER tickets_waiting_insert AFTER INSERT ON tickets FOR EACH ROW "
        f"WHEN ({COUNTS_NEW}) EXECUTE FUNCTION tickets_waiting_count()"
    )
    op.execute(
        "CREATE TRIGGER tickets_waiting_delete AFTER DELETE ON tickets FOR EACH ROW "
        f"WHEN ({COUNTS_OLD}) EXECUTE FUNCTION tickets_waiting_count()"
    )
    op.execute(
        f"CREATE TRIGGER tickets_waiting_update AFTER UPDATE OF {COLUMNS} ON tickets FOR EACH ROW "
        f"WHEN (({COUNTS_OLD}) OR ({COUNTS_NEW})) EXECUTE FUNCTION tickets_waiting_count()"
    )


def upgrade() -> None:
    op.create_table(
        "waiting_counts",
        sa.Column("hall_id", sa.String(64), primary_key=True),
        sa.Column("business_day", sa.Date(), primary_key=True),
        sa.Column("group_prefix", sa.String(4), primary_key=True),
        sa.Column("priority", sa.Boolean(), primary_key=True),
        sa.Column("appointed", sa.Boolean(), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()
    op.execute(
        f"INSERT INTO waiting_counts ({KEY}, n) SELECT hall_id, business_day, group_prefix, priority, "
        "appointment_id IS NOT NULL, count(*) FROM tickets "
        "WHERE status = 'waiting' AND bound_window_id IS NULL "
        "GROUP BY hall_id, business_day, group_prefix, priority, appointment_id IS NOT NULL"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS tickets_waiting_{name} ON tickets")
        op.execute("DROP FUNCTION IF EXISTS tickets_waiting_count()")
    else:
        for name in ("insert", "delete", "update_old", "update_new"):
            op.execute(f"DROP TRIGGER IF EXISTS tickets_waiting_{name}")
    op.drop_table("waiting_counts")
