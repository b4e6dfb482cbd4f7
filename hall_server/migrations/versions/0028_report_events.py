"""Report events: archived events that a report still reads, kept as plain rows.

Revision ID: 0028
Revises: 0025
Create Date: 2026-12-07 18:40:00

The green-channel report (services/green_channel.removals) lists `ticket.priority_removed`
events by time. Event retention (0021) moves whole days into compressed `event_archive` blocks,
where the report could only find them by decompressing every block of its halls and days. The
archive pass copies those few events (const.REPORT_EVENT_TYPES) here as it archives them; the
report reads `events` and `report_events` together. Each server derives its own rows from its own
archive pass (a station's events reach the city through sync and are archived there), so the
table is neither captured upward nor sent down. Rows are only ever added, like `events`. Blocks
archived before this revision are read once here for the events the report needs.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0025"
branch_labels = None
depends_on = None

# const.EV_TICKET_PRIORITY_REMOVED as of this revision (a migration does not follow later renames).
REPORT_TYPE = "ticket.priority_removed"


def upgrade() -> None:
    op.create_table(
        "report_events",
        sa.Column("hall_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    op.create_index("ix_report_events_type_at", "report_events", ["type", "at"])
    _copy_from_archive()


def _copy_from_archive() -> None:
    """The report's events from blocks already archived (format of hall_server/event_archive.py)."""
    archive = sa.table("event_archive", sa.column("hall_id"), sa.column("first_seq"), sa.column("body"))
    kept = sa.table(
        "report_events",
        sa.column("hall_id"),
        sa.column("seq"),
        sa.column("type"),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("payload"),
    )
    conn = op.get_bind()
    marker = json.dumps(REPORT_TYPE)
    for hall_id, body in conn.execute(
        sa.select(archive.c.hall_id, archive.c.body).order_by(archive.c.first_seq)
    ):
        rows = []
        for line in zlib.decompress(body).decode("utf-8").split("\n"):
            if marker not in line:
                continue
            seq, type_, at, _kind, _actor, payload, _prev, _hash = json.loads(line)
            if type_ == REPORT_TYPE:
                at_utc = datetime.fromisoformat(at).replace(tzinfo=UTC)
                rows.append({"hall_id": hall_id, "seq": seq, "type": type_, "at": at_utc, "payload": payload})
        if rows:
            conn.execute(sa.insert(kept), rows)


def downgrade() -> None:
    op.drop_index("ix_report_events_type_at", table_name="report_events")
    op.drop_table("report_events")
