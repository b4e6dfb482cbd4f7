"""Window zones: the part of the hall a window stands in (分区, "B区"), said in the directions.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 12:00:00

`windows.zone`: short text set by a manager (NULL: the hall has no zones). The visitor screen and
the phone page say 请到B区7–9号窗口 when the windows of a queue share a zone; the hall display
groups its windows by zone. The city owns it like the window's name: it travels down in the
station's configuration snapshot.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("windows") as batch:
        batch.add_column(sa.Column("zone", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("windows") as batch:
        batch.drop_column("zone")
