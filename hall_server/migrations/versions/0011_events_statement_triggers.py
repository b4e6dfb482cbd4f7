"""PostgreSQL: the events triggers fire once per INSERT statement, not once per row.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 09:00:00

The chain head (hall_seq.last_hash) and the announcement to the other processes (NOTIFY
hall_events 'hall:seq') were row triggers: a station's catch-up batch, thousands of events in
one multi-row INSERT, paid a plpgsql call, an UPDATE of the same hall_seq row and a
notification per event. Per statement, with the inserted rows as a transition table, each hall
of the statement gets one UPDATE (the hash of its highest seq) and one notification (its
highest seq; a listener reads every event up to it). A single-row insert behaves as before.
SQLite has no statement triggers and keeps its row trigger (its writers insert one event at a
time).
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS events_chain_head ON events")
    op.execute("DROP TRIGGER IF EXISTS events_notify ON events")
    op.execute(
        """
        CREATE FUNCTION hall_events_chain_head_stmt() RETURNS trigger AS $$
        BEGIN
            UPDATE hall_seq h SET last_hash = n.hash
            FROM (
                SELECT DISTINCT ON (hall_id) hall_id, hash FROM new_events
                WHERE hash IS NOT NULL ORDER BY hall_id, seq DESC
            ) n
            WHERE h.hall_id = n.hall_id;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER events_chain_head AFTER INSERT ON events REFERENCING NEW TABLE AS new_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION hall_events_chain_head_stmt()"
    )
    op.execute(
        """
        CREATE FUNCTION hall_events_notify_stmt() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('hall_events', hall_id || ':' || max(seq)) FROM new_events GROUP BY hall_id;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER events_notify AFTER INSERT ON events REFERENCING NEW TABLE AS new_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION hall_events_notify_stmt()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS events_chain_head ON events")
    op.execute("DROP TRIGGER IF EXISTS events_notify ON events")
    op.execute("DROP FUNCTION IF EXISTS hall_events_chain_head_stmt()")
    op.execute("DROP FUNCTION IF EXISTS hall_events_notify_stmt()")
    op.execute(
        "CREATE TRIGGER events_chain_head AFTER INSERT ON events FOR EACH ROW "
        "WHEN (NEW.hash IS NOT NULL) EXECUTE FUNCTION hall_events_chain_head()"
    )
    op.execute(
        "CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION hall_events_notify()"
    )
