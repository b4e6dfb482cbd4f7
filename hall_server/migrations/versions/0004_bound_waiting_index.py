"""A small partial index of the waiting tickets bound to a window.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 03:00:00

Every call-next also asks for tickets transferred to this very window. Through the queue
index that read walked every waiting entry of the day (the window id comes after the group
and priority in its key), and on PostgreSQL also every dead entry that called tickets leave
behind until vacuum: some 30,000 index blocks per call after a few thousand calls. This index
holds only waiting tickets bound to a window, so the read is a few blocks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

WHERE = "status = 'waiting' AND bound_window_id IS NOT NULL"


def _postgres() -> bool:
    # SQLite reads these tickets through the queue index, cheaply (no dead entries there);
    # the extra index only cost it time on every insert and update.
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgres():
        op.create_index(
            "ix_tickets_bound_waiting",
            "tickets",
            ["bound_window_id", "business_day", "id"],
            unique=False,
            postgresql_where=sa.text(WHERE),
        )


def downgrade() -> None:
    if _postgres():
        op.drop_index("ix_tickets_bound_waiting", table_name="tickets")
