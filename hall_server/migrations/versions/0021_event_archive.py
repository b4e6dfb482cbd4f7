"""Event retention: closed days of the event log move to a compressed archive table.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 15:00:00

`event_archive` holds, per stream and UTC day, the archived events as zlib-compressed JSON lines
with the chain hashes around the block, so the audit verifier walks archive then live rows as one
chain. Rows are only ever added (the app role gets no UPDATE/DELETE on it, like `events`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_archive",
        sa.Column("hall_id", sa.String(64), primary_key=True),
        sa.Column("first_seq", sa.BigInteger(), primary_key=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(80), nullable=True),
        sa.Column("head_hash", sa.String(80), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("event_archive")
