"""The catalogue's guide versions, the halls' own guide values, and edited work calendars.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 05:00:00

- service_item_versions: every edit of a service item's guide is a new row (never updated), so
  a guide can be shown as it was on a date; the current text stays in service_items.guide.
- hall_services.overrides: the guide fields a hall may set for itself (where to go, phones,
  daily cap, whether an ID card is needed for a ticket).
- work_calendars: a year's holidays and working days as edited by the city, with its verified
  flag; they override the files shipped in assets/calendar and flow down to stations.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_item_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=64), sa.ForeignKey("service_items.code"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("guide", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", "version", name="uq_service_item_versions_code_version"),
    )
    with op.batch_alter_table("hall_services") as batch:
        batch.add_column(sa.Column("overrides", sa.JSON(), nullable=False, server_default="{}"))
    op.create_table(
        "work_calendars",
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("region", "year"),
    )


def downgrade() -> None:
    op.drop_table("work_calendars")
    with op.batch_alter_table("hall_services") as batch:
        batch.drop_column("overrides")
    op.drop_table("service_item_versions")
