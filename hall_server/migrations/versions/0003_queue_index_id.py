"""The queue index ends with the ticket id, so PostgreSQL reads a class's head in id order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 00:30:00

call-next reads the first few waiting tickets of each (group, priority, appointment) class
with ORDER BY id LIMIT k. SQLite's indexes end with the rowid anyway; a PostgreSQL index
without id had to fetch and sort every waiting ticket of the class on each call.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OLD = ["hall_id", "business_day", "group_prefix", "status", "priority", "bound_window_id", "appointment_id"]


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_queue")
        batch_op.create_index("ix_tickets_queue", [*OLD, "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_queue")
        batch_op.create_index("ix_tickets_queue", OLD, unique=False)
