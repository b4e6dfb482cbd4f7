"""A small partial index of the tickets still open (waiting, called, serving, suspended).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 22:00:00

The day-end pass (hall_server.services.dayend) asks every few seconds whether a hall has
open tickets of a business day that is over. Through the queue index that read would walk
every ticket of every past day; this index holds only the open ones, which is nearly none
once the days are closed, so the question costs a few blocks on both databases.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

WHERE = "status IN ('waiting', 'called', 'serving', 'suspended')"


def upgrade() -> None:
    op.create_index(
        "ix_tickets_open",
        "tickets",
        ["hall_id", "business_day", "id"],
        unique=False,
        sqlite_where=sa.text(WHERE),
        postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_open", table_name="tickets")
