"""Staff calls: a visitor's 呼叫工作人员 from a kiosk, open until a manager acknowledges it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 12:00:00

`staff_calls` is the live state the dashboard's alerts read (open calls of a hall, by the index on
hall and acknowledged_at); the record of each call and its acknowledgement is in the hall's event
log (staff_call.requested / staff_call.acknowledged), which a station sends upward like every event.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "staff_calls",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("hall_id", sa.String(64), nullable=False),
        sa.Column("token_id", BIG_ID, nullable=False),
        sa.Column("device_name", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(100), nullable=True),
    )
    op.create_index("ix_staff_calls_hall_open", "staff_calls", ["hall_id", "acknowledged_at"])


def downgrade() -> None:
    op.drop_index("ix_staff_calls_hall_open", table_name="staff_calls")
    op.drop_table("staff_calls")
