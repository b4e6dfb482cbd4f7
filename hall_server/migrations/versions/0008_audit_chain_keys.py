"""Audit chain, data-key fingerprint, verification state, who recorded a rating.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 22:00:00

Events written before this revision carry no hash. Each hall's chain starts after its last
event at migration time (hall_seq.chain_start, the genesis): verification covers what follows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=80), nullable=True))
    with op.batch_alter_table("hall_seq", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_hash", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("chain_start", sa.BigInteger(), nullable=False, server_default="0"))
    # Genesis: every hall's chain begins after the events it already has.
    op.execute("UPDATE hall_seq SET chain_start = last_seq")
    # The chain head follows every chained insert inside the INSERT statement itself: no
    # extra statement per append (SQLite) and no extra CTE (PostgreSQL).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION hall_events_chain_head() RETURNS trigger AS $$
            BEGIN
                UPDATE hall_seq SET last_hash = NEW.hash WHERE hall_id = NEW.hall_id;
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER events_chain_head AFTER INSERT ON events FOR EACH ROW "
            "WHEN (NEW.hash IS NOT NULL) EXECUTE FUNCTION hall_events_chain_head()"
        )
    else:
        op.execute(
            "CREATE TRIGGER events_chain_head AFTER INSERT ON events WHEN NEW.hash IS NOT NULL "
            "BEGIN UPDATE hall_seq SET last_hash = NEW.hash WHERE hall_id = NEW.hall_id; END"
        )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recorded_by", sa.String(length=120), nullable=True))
    op.create_table(
        "server_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "audit_checks",
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("verified_seq", sa.BigInteger(), nullable=False),
        sa.Column("verified_hash", sa.String(length=80), nullable=True),
        sa.Column("broken_seq", sa.BigInteger(), nullable=True),
        sa.Column("problem", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("hall_id"),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_chain_head ON events")
        op.execute("DROP FUNCTION IF EXISTS hall_events_chain_head()")
    else:
        op.execute("DROP TRIGGER IF EXISTS events_chain_head")
    op.drop_table("audit_checks")
    op.drop_table("server_meta")
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_column("recorded_by")
    with op.batch_alter_table("hall_seq", schema=None) as batch_op:
        batch_op.drop_column("chain_start")
        batch_op.drop_column("last_hash")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
