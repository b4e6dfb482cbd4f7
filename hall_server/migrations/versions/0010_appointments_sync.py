"""Appointments across the city network: the station's attendance records, bookings go down.

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-20 10:00:00

The city owns a station hall's booking capacity and its bookings (made on the city's booking
page); the station owns whether a booking was kept (docs/sync.md, "Appointments"):
- `appointment_attendance` (one row per booking, written only by a station: checked in with
  its ticket, or no-show) goes up like the station's tickets;
- the city's appointment slots and bookings of station halls go down through the change log:
  the down-log triggers of 0009 now cover appointment_slots and appointments too (PostgreSQL:
  the same function, hall_sync_down_log, whose hall is NEW.hall_id for both).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

DOWN_TABLES = ("appointment_slots", "appointments")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "appointment_attendance",
        sa.Column("appointment_id", BIG_ID, nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("ticket_id", BIG_ID, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["appointment_id"], ["appointments.id"]),
        sa.ForeignKeyConstraint(["hall_id"], ["halls.id"]),
        sa.PrimaryKeyConstraint("appointment_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in DOWN_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_sync_down AFTER INSERT OR UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION hall_sync_down_log()"
            )
    else:
        for table in DOWN_TABLES:
            for when in ("INSERT", "UPDATE"):
                op.execute(
                    f"CREATE TRIGGER {table}_sync_down_{when.lower()} AFTER {when} ON {table} "
                    "WHEN EXISTS (SELECT 1 FROM station_halls WHERE hall_id = NEW.hall_id) BEGIN "
                    "INSERT INTO sync_down_changes (table_name, pk, hall_id) "
                    f"VALUES ('{table}', CAST(NEW.id AS TEXT), NEW.hall_id); END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in DOWN_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_sync_down ON {table}")
    else:
        for table in DOWN_TABLES:
            for when in ("insert", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_sync_down_{when}")
    op.drop_table("appointment_attendance")
