"""Config generation: a log-in no longer bumps it; only token changes a station must receive do.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 22:10:00

0020 bumped `config_generation` on every insert and on every update of a token's configuration
columns, so every log-in (a new session row; a clerk's log-in also runs an UPDATE of its other
sessions, which on PostgreSQL fires a statement trigger even when it changes no row) wrote the
one generation row: log-ins queued on it on PostgreSQL, and each invalidated every station's
cached snapshot. Now the token triggers are per row and bump only for a token of a hall a station
owns (`station_halls`, the only tokens any snapshot carries): a device token's creation, any
change of the configuration columns (a revocation above all: it reaches the station in the next
round) and a deletion. A new session (log-in, refresh's successor) never bumps: a station
receives it with the next snapshot rebuilt anyway (at most CONFIG_CACHE_TTL_S later).
PostgreSQL has no stations' relays (stations run on SQLite), so per-row bumps stay few.
"""

from __future__ import annotations

from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

BUMP = "UPDATE config_generation SET gen = gen + 1 WHERE id = 1"
# As in 0020: the token columns the snapshot carries (not last_used_at, written on use).
TOKEN_COLUMNS = (
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
)
# const.DEVICE_ROLES as of this revision (a migration does not follow later changes of the code).
DEVICE_ROLES = ("kiosk", "display", "rating")
_ROLES = ", ".join(f"'{r}'" for r in DEVICE_ROLES)
_OF = ", ".join(TOKEN_COLUMNS)
_STATION_HALL = "{row}.hall_id IN (SELECT hall_id FROM station_halls)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS api_tokens_config_gen ON api_tokens")
        op.execute(
            "CREATE FUNCTION hall_config_bump_token() RETURNS trigger AS $$ BEGIN "
            "IF TG_OP = 'INSERT' THEN "
            f"  IF {_STATION_HALL.format(row='NEW')} THEN {BUMP}; END IF; "
            "ELSIF TG_OP = 'DELETE' THEN "
            f"  IF {_STATION_HALL.format(row='OLD')} THEN {BUMP}; END IF; "
            f"ELSIF {_STATION_HALL.format(row='NEW')} OR {_STATION_HALL.format(row='OLD')} THEN {BUMP}; "
            "END IF; RETURN NULL; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER api_tokens_config_gen AFTER UPDATE OF {_OF} ON api_tokens "
            "FOR EACH ROW EXECUTE FUNCTION hall_config_bump_token()"
        )
        op.execute(
            "CREATE TRIGGER api_tokens_ins_config_gen AFTER INSERT ON api_tokens "
            f"FOR EACH ROW WHEN (NEW.role IN ({_ROLES})) EXECUTE FUNCTION hall_config_bump_token()"
        )
        op.execute(
            "CREATE TRIGGER api_tokens_del_config_gen AFTER DELETE ON api_tokens "
            "FOR EACH ROW EXECUTE FUNCTION hall_config_bump_token()"
        )
        return
    for when in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS api_tokens_config_gen_{when}")
    new_, old_ = _STATION_HALL.format(row="NEW"), _STATION_HALL.format(row="OLD")
    op.execute(
        "CREATE TRIGGER api_tokens_config_gen_insert AFTER INSERT ON api_tokens "
        f"WHEN NEW.role IN ({_ROLES}) AND {new_} BEGIN {BUMP}; END"
    )
    op.execute(
        f"CREATE TRIGGER api_tokens_config_gen_update AFTER UPDATE OF {_OF} ON api_tokens "
        f"WHEN {new_} OR {old_} BEGIN {BUMP}; END"
    )
    op.execute(
        f"CREATE TRIGGER api_tokens_config_gen_delete AFTER DELETE ON api_tokens WHEN {old_} BEGIN {BUMP}; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("api_tokens_config_gen", "api_tokens_ins_config_gen", "api_tokens_del_config_gen"):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON api_tokens")
        op.execute("DROP FUNCTION IF EXISTS hall_config_bump_token()")
        op.execute(
            f"CREATE TRIGGER api_tokens_config_gen AFTER INSERT OR DELETE OR UPDATE OF {_OF} ON api_tokens "
            "FOR EACH STATEMENT EXECUTE FUNCTION hall_config_bump()"
        )
        return
    for when in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS api_tokens_config_gen_{when}")
    for when in ("INSERT", "DELETE", f"UPDATE OF {_OF}"):
        name = f"api_tokens_config_gen_{when.split()[0].lower()}"
        op.execute(f"CREATE TRIGGER {name} AFTER {when} ON api_tokens BEGIN {BUMP}; END")
