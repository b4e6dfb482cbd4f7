"""Station relay and clock skew: a station registered at the city may reach it through another
station (a township relaying for its villages), and the city records each station's clock skew.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-07 05:00:00

`stations.relay_id`: the station this one pushes and pulls through (NULL: directly to this
server). The city keeps the whole registry (numbers, credentials, revocations), so id ranges stay
unique across the network; the relaying station receives its villages' rows with its pull.
`stations.clock_skew_s`: the station's clock minus this server's, measured at its last push.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("relay_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("clock_skew_s", sa.Float(), nullable=True))
    op.create_index("ix_stations_relay_id", "stations", ["relay_id"])


def downgrade() -> None:
    op.drop_index("ix_stations_relay_id", table_name="stations")
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("clock_skew_s")
        batch.drop_column("relay_id")
