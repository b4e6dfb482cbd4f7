"""Managers run their halls: staff open to an external identity, the day's roster, device enrolment.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 05:00:00

- `users.external_subject`: the account's subject at an identity provider (single sign-on
  attaches here later; nullable, unique).
- `sittings`: the roster, which clerk sits at which window on which day and when; it goes down
  to stations in the configuration snapshot.
- `device_enrolments`: one-time codes (stored hashed) a new device exchanges for its token.
- `devices.version`: the software version a device reports with its heartbeat.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("external_subject", sa.String(length=200), nullable=True))
        batch.create_unique_constraint("uq_users_external_subject", ["external_subject"])
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("version", sa.String(length=40), nullable=True))
    op.create_table(
        "sittings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("starts", sa.String(length=5), nullable=False),
        sa.Column("ends", sa.String(length=5), nullable=False),
        sa.ForeignKeyConstraint(["hall_id"], ["halls.id"]),
        sa.ForeignKeyConstraint(["window_id"], ["windows.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sittings_hall_day", "sittings", ["hall_id", "day"])
    op.create_table(
        "device_enrolments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )


def downgrade() -> None:
    op.drop_table("device_enrolments")
    op.drop_index("ix_sittings_hall_day", table_name="sittings")
    op.drop_table("sittings")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_external_subject", type_="unique")
        batch.drop_column("external_subject")
