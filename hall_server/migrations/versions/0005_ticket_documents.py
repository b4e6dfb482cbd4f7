"""Document photos kept with a ticket (材料留存), encrypted at rest.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 02:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.Column("clerk_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("data_enc", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "sha256", name="uq_ticket_documents_content"),
    )
    with op.batch_alter_table("ticket_documents", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_documents_hall", ["hall_id", "taken_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_documents", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_documents_hall")
    op.drop_table("ticket_documents")
