"""Station sync: station registry, sync state and change logs, 64-bit ids, SQLite AUTOINCREMENT.

Revision ID: 0009
Revises: 0008
Create Date: 2027-01-10 10:00:00

A station's own rows take ids from station_no * 10**10 on (const.STATION_ID_SPAN), so they copy
verbatim to the city and back. On PostgreSQL the id and reference columns of those tables become
BIGINT (with their sequences); on SQLite, whose INTEGER is 64-bit already, the tables are rebuilt
with AUTOINCREMENT, so the next id comes from sqlite_sequence (seeded at station set-up) and not
from the largest id present (which may be one the city sent down).

The down change log (sync_down_changes) is filled by triggers on the parent-owned operational
tables a station shows (follow-up cases and steps), on both databases, for halls a station owns.
The station's capture triggers are made at station set-up (hall_server.sync.capture), so a city
or a stand-alone hall pays nothing for them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Tables whose integer ids a station draws from its own range.
RANGED = (
    "tickets",
    "ratings",
    "followup_cases",
    "followup_steps",
    "matters",
    "matter_visits",
    "matter_steps",
    "ticket_documents",
    "appointment_slots",
    "appointments",
    "api_tokens",
)
# (table, column) that hold such ids (PostgreSQL: widened to BIGINT).
WIDE = (
    *((t, "id") for t in RANGED),
    ("ratings", "ticket_id"),
    ("followup_cases", "rating_id"),
    ("followup_cases", "ticket_id"),
    ("followup_steps", "case_id"),
    ("matters", "first_ticket_id"),
    ("matter_visits", "matter_id"),
    ("matter_visits", "ticket_id"),
    ("matter_steps", "matter_id"),
    ("ticket_documents", "ticket_id"),
    ("appointments", "slot_id"),
    ("appointments", "ticket_id"),
    ("windows", "current_ticket_id"),
    ("windows", "last_ticket_id"),
    ("socket_tickets", "token_id"),
)
# Parent-owned operational tables whose changes for station halls go down (table, hall expression).
DOWN_TABLES = (
    ("followup_cases", "NEW.hall_id"),
    ("followup_steps", "(SELECT hall_id FROM followup_cases WHERE id = NEW.case_id)"),
)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    op.create_table(
        "stations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("station_no", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("credential_hash", sa.String(length=64), nullable=False),
        sa.Column("epoch", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_push_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_through", sa.BigInteger(), nullable=False),
        sa.Column("waiting", sa.BigInteger(), nullable=False),
        sa.Column("lag_s", sa.Float(), nullable=True),
        sa.Column("config_version", sa.String(length=80), nullable=True),
        sa.Column("conflict", sa.String(length=40), nullable=True),
        sa.Column("conflict_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("conflict_epoch", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("station_no"),
        sa.UniqueConstraint("credential_hash"),
    )
    op.create_table(
        "station_halls",
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("applied_seq", sa.BigInteger(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["hall_id"], ["halls.id"]),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"]),
        sa.PrimaryKeyConstraint("hall_id"),
    )
    op.create_index("ix_station_halls_station_id", "station_halls", ["station_id"])
    op.create_table(
        "sync_down_changes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("pk", sa.String(length=100), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sync_down_changes_hall", "sync_down_changes", ["hall_id", "id"])
    op.create_table(
        "sync_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("station_no", sa.Integer(), nullable=True),
        sa.Column("epoch", sa.String(length=64), nullable=False),
        sa.Column("capture", sa.Boolean(), nullable=False),
        sa.Column("rows_through", sa.BigInteger(), nullable=False),
        sa.Column("config_version", sa.String(length=80), nullable=True),
        sa.Column("down_cursor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("link_state", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.String(length=60), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "sync_acks",
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("acked_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hall_id"),
    )
    op.create_table(
        "sync_changes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("pk", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    if pg:
        _widen_postgres()
        _down_triggers_postgres()
    else:
        for table in RANGED:
            with op.batch_alter_table(
                table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
            ) as batch_op:
                batch_op.alter_column("id", existing_type=sa.Integer(), autoincrement=True)
        _down_triggers_sqlite()


def _widen_postgres() -> None:
    for table, column in WIDE:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE BIGINT")
    for table in RANGED:
        op.execute(
            f"DO $$ DECLARE s text := pg_get_serial_sequence('{table}', 'id'); BEGIN "
            f"IF s IS NOT NULL THEN EXECUTE 'ALTER SEQUENCE ' || s || ' AS BIGINT MAXVALUE "
            f"9223372036854775807'; END IF; END $$"
        )


def _down_triggers_postgres() -> None:
    # The advisory lock makes writers of the log commit in id order, so a station reading
    # "after id C" never skips a row that commits later with a smaller id.
    op.execute(
        """
        CREATE FUNCTION hall_sync_down_log() RETURNS trigger AS $$
        DECLARE h text;
        BEGIN
            IF TG_TABLE_NAME = 'followup_steps' THEN
                SELECT hall_id INTO h FROM followup_cases WHERE id = NEW.case_id;
            ELSE
                h := NEW.hall_id;
            END IF;
            IF h IS NOT NULL AND EXISTS (SELECT 1 FROM station_halls WHERE hall_id = h) THEN
                PERFORM pg_advisory_xact_lock(724115);
                INSERT INTO sync_down_changes (table_name, pk, hall_id)
                VALUES (TG_TABLE_NAME, NEW.id::text, h);
            END IF;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    for table, _hall in DOWN_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_sync_down AFTER INSERT OR UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION hall_sync_down_log()"
        )


def _down_triggers_sqlite() -> None:
    for table, hall in DOWN_TABLES:
        for when in ("INSERT", "UPDATE"):
            op.execute(
                f"CREATE TRIGGER {table}_sync_down_{when.lower()} AFTER {when} ON {table} "
                f"WHEN EXISTS (SELECT 1 FROM station_halls WHERE hall_id = {hall}) BEGIN "
                f"INSERT INTO sync_down_changes (table_name, pk, hall_id) "
                f"VALUES ('{table}', CAST(NEW.id AS TEXT), {hall}); END"
            )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table, _hall in DOWN_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_sync_down ON {table}")
        op.execute("DROP FUNCTION IF EXISTS hall_sync_down_log()")
        for table, column in WIDE:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE INTEGER")
    else:
        for table, _hall in DOWN_TABLES:
            for when in ("insert", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_sync_down_{when}")
    op.drop_table("sync_changes")
    op.drop_table("sync_acks")
    op.drop_table("sync_state")
    op.drop_index("ix_sync_down_changes_hall", table_name="sync_down_changes")
    op.drop_table("sync_down_changes")
    op.drop_index("ix_station_halls_station_id", table_name="station_halls")
    op.drop_table("station_halls")
    op.drop_table("stations")
