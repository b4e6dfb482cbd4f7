"""Waiting counts: PostgreSQL folds a ticket's change into its count row at commit, not at the change.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-08 01:10:00

The triggers of 0024 updated the group's `waiting_counts` row at the ticket's insert (an issue,
+1) or update (a call's claim, -1), so the row stayed locked for the rest of the transaction:
every issue and call of a group waited for each other's whole transaction (its events, the
window, the Python work between statements on a busy process), which put that row at the top
of pg_stat_statements in the 200-station fleet benchmark. Here the same function runs as a
constraint trigger, DEFERRABLE INITIALLY DEFERRED: the row is updated (and locked) during the
commit only, still inside the transaction, so the committed counts stay exact. A transaction no
longer sees its own ticket changes in the counts: the issue use case reads the group's counts
before its insert (services/queue.new_ticket_ahead takes them as they are), the only reader
inside a writing transaction. SQLite (one writer at a time) keeps its immediate triggers.
"""

from __future__ import annotations

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

COUNTS_OLD = "OLD.status = 'waiting' AND OLD.bound_window_id IS NULL"
COUNTS_NEW = "NEW.status = 'waiting' AND NEW.bound_window_id IS NULL"
COLUMNS = "status, bound_window_id, group_prefix, priority, appointment_id, hall_id, business_day"
# (name, event, condition): the triggers of 0024, same function, same conditions.
TRIGGERS = (
    ("tickets_waiting_insert", "INSERT", COUNTS_NEW),
    ("tickets_waiting_delete", "DELETE", COUNTS_OLD),
    ("tickets_waiting_update", f"UPDATE OF {COLUMNS}", f"({COUNTS_OLD}) OR ({COUNTS_NEW})"),
)


def _recreate(deferred: bool) -> None:
    for name, event, condition in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON tickets")
        kind = "CONSTRAINT TRIGGER" if deferred else "TRIGGER"
        timing = " DEFERRABLE INITIALLY DEFERRED" if deferred else ""
        op.execute(
            f"CREATE {kind} {name} AFTER {event} ON tickets{timing} FOR EACH ROW "
            f"WHEN ({condition}) EXECUTE FUNCTION tickets_waiting_count()"
        )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _recreate(deferred=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _recreate(deferred=False)
