"""Config generation: a counter the configuration tables' triggers bump, so a pull can reuse the
snapshot it built for a station while nothing changed (sync/config_snapshot.py, docs/sync.md).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 15:00:00

`config_generation` has one row (id 1). Every insert, delete and update of a table of the
downward configuration snapshot bumps `gen` in the writer's transaction (triggers, so every
writer is caught: use cases, CLI, seed, a relay applying its parent's snapshot). Updates of the
columns the snapshot leaves out (a window's operation, a token's last use) do not bump it: they
happen on every call and log-in use, and would make the cache useless.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# Table -> the columns whose update changes the snapshot (None: any column). Kept in step with
# sync/protocol.py CONFIG_TABLES and CONFIG_SKIP (tests/hall_server/test_sync_config_cache.py).
WATCHED: dict[str, tuple[str, ...] | None] = {
    "service_items": None,
    "service_item_versions": None,
    "halls": None,
    "hall_services": None,
    "queue_groups": None,
    "hall_ext_settings": None,
    "work_calendars": None,
    "users": None,
    "windows": ("id", "hall_id", "number", "name", "kind", "zone", "groups"),
    "sittings": None,
    "api_tokens": (
        "id",
        "token_hash",
        "role",
        "hall_id",
        "window_id",
        "user_id",
        "label",
        "created_at",
        "revoked_at",
        "expires_at",
        "idle_s",
    ),
}
BUMP = "UPDATE config_generation SET gen = gen + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "config_generation",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("gen", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO config_generation (id, gen) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION hall_config_bump() RETURNS trigger AS $$ BEGIN {BUMP}; RETURN NULL; END; "
            "$$ LANGUAGE plpgsql"
        )
        for table, columns in WATCHED.items():
            # Once per statement: a snapshot applied at a relay is one bump per table, not per row.
            of = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
            op.execute(
                f"CREATE TRIGGER {table}_config_gen AFTER INSERT OR DELETE OR {of} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION hall_config_bump()"
            )
        return
    for table, columns in WATCHED.items():
        for when in ("INSERT", "DELETE", f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"):
            name = f"{table}_config_gen_{when.split()[0].lower()}"
            op.execute(f"CREATE TRIGGER {name} AFTER {when} ON {table} BEGIN {BUMP}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_config_gen ON {table}")
        op.execute("DROP FUNCTION IF EXISTS hall_config_bump()")
    else:
        for table in WATCHED:
            for when in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_config_gen_{when}")
    op.drop_table("config_generation")
