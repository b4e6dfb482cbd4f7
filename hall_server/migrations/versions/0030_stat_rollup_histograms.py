"""Statistics rollups keep waits and service times as histograms, not one value per ticket.

Revision ID: 0030
Revises: 0028
Create Date: 2026-12-08 22:00:00

`stat_rollups.waits` and `.serves` held every whole-second value of a row, sorted (int32), so a
city-year read merged ~2 million values. They now hold (value delta, count) pairs of uint16
(services/stat_rollups.py), one pair per distinct second: a row's size is bounded by the spread
of its waits, not by its tickets. The old blobs cannot be read by the new code, so every rollup
row is dropped and every hall-day with tickets is marked dirty: the next pass (the worker's, or
the first statistics request's) rebuilds them with the same arithmetic as ever. Downgrade does
the same for the old format.
"""

from __future__ import annotations

from alembic import op

revision = "0030"
down_revision = "0028"
branch_labels = None
depends_on = None


def _rebuild_all() -> None:
    op.execute("DELETE FROM stat_rollups")
    op.execute("DELETE FROM stat_dirty")
    op.execute(
        "INSERT INTO stat_dirty (hall_id, business_day) SELECT DISTINCT hall_id, business_day FROM tickets"
    )


def upgrade() -> None:
    _rebuild_all()


def downgrade() -> None:
    _rebuild_all()
