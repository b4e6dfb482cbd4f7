"""Station side: its identity and epoch, its id ranges, and the triggers that capture changes.

A station's database gets, once (`setup_station`, at the first start in station mode or by
`hall-server station setup`):
- the `sync_state` row: station id, station_no, and a random epoch. The epoch lives in the
  database, so a re-created database has a new one (the parent refuses it once the old stream
  made progress) and a restored copy has the old one with a shorter log (the parent sees the
  seq going back). Neither is merged.
- the id ranges: sqlite_sequence of every table whose rows it creates starts at
  station_no * 10**10 (const.STATION_ID_SPAN), so its rows copy verbatim to the city.
- capture triggers on the station-owned tables (protocol.UP_TABLES): every insert or update
  of a row records (table, pk) in `sync_changes`, whoever writes it (ORM, Core, a script).
  They write only while sync_state.capture is true; applying what came down turns it off
  inside that transaction, so nothing the parent sent is sent back.
Stations run on SQLite (the embedded default); station mode on PostgreSQL is refused at start
(check_backend).
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from hall_server.config import Settings
from hall_server.const import AUDIT_STREAM_PREFIX
from hall_server.db.engine import Database
from hall_server.db.models import HallSeq, SyncAck, SyncState
from hall_server.db.upsert import upsert_do_nothing
from hall_server.sync.protocol import UP_TABLES, WINDOW_OPERATION_COLUMNS, pk_column, station_range

logger = logging.getLogger(__name__)

_STATE = SyncState.__table__
_ACKS = SyncAck.__table__
_SEQ = HallSeq.__table__
# Tables whose ids a station draws from its range (migration 0009 RANGED).
RANGED_TABLES = (
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


@dataclass(frozen=True)
class Bundle:
    """What the parent issued a station (`hall-server station add`): credential, number, halls."""

    credential: str
    station_id: str | None = None
    station_no: int | None = None
    halls: tuple[str, ...] = ()


def read_bundle(settings: Settings) -> Bundle | None:
    """The station's credential (and, from a setup bundle file, its number and halls)."""
    if settings.station_credential:
        return Bundle(credential=settings.station_credential.strip(), station_id=settings.station_id)
    path: Path | None = settings.station_credential_file
    if path is None:
        return None
    raw = path.read_text(encoding="utf-8").strip()
    if raw.startswith("{"):
        doc = json.loads(raw)
        return Bundle(
            credential=str(doc["credential"]),
            station_id=str(doc.get("station_id") or settings.station_id or "") or None,
            station_no=int(doc["station_no"]) if doc.get("station_no") is not None else None,
            halls=tuple(str(h) for h in doc.get("halls") or ()),
        )
    return Bundle(credential=raw, station_id=settings.station_id)


def streams_of(halls: list[str] | tuple[str, ...]) -> list[str]:
    """The event logs a station sends for its halls: each hall's and its audit stream."""
    return [s for h in halls for s in (h, AUDIT_STREAM_PREFIX + h)]


def state(session: Session | Any) -> Any:
    """The station's sync_state row, or None on a server that is no station (yet)."""
    return session.execute(select(_STATE).where(_STATE.c.id == 1)).first()


class StationBackendError(RuntimeError):
    """Station mode on a database a station cannot run on (PostgreSQL)."""


def check_backend(database_url: str) -> None:
    """Refuse station mode on PostgreSQL before anything is served (docs/sync.md, "Limits").

    The capture triggers, the id ranges (sqlite_sequence) and the floors are SQLite's; a county
    server large enough for PostgreSQL runs as part of the city (a process of the city's
    deployment, its halls on the city's database) or as a SQLite station.
    """
    if not database_url.startswith("sqlite"):
        raise StationBackendError(
            "站点模式只支持 SQLite 数据库（HALL_DB_URL=sqlite:///...）；PostgreSQL 上的县区服务器请作为市平台"
            "的一部分运行，或改用 SQLite 站点 / station mode (HALL_PARENT_URL) runs on SQLite only: "
            "a county server on PostgreSQL runs as part of the city's deployment, or as a SQLite station"
        )


def setup_station(db: Database, settings: Settings, bundle: Bundle | None = None) -> Any:
    """Make this database a station's (idempotent); returns the sync_state row."""
    check_backend(str(db.engine.url))
    bundle = bundle or read_bundle(settings)
    station_id = settings.station_id or (bundle.station_id if bundle else None)
    if not station_id:
        raise RuntimeError("station mode needs HALL_STATION_ID (or a setup bundle that names the station)")
    with db.write() as s:
        row = state(s)
        if row is None:
            s.execute(
                _STATE.insert().values(
                    id=1,
                    station_id=station_id,
                    station_no=None,
                    epoch=secrets.token_hex(16),
                    capture=True,
                    rows_through=0,
                    down_cursor=0,
                    created_at=datetime.now(UTC),
                    link_state="down",
                )
            )
            logger.info("station %s: new sync state (epoch made)", station_id)
        elif row.station_id != station_id:
            raise RuntimeError(
                f"this database belongs to station {row.station_id!r}, not {station_id!r}; "
                "a station's database is never reused for another identity"
            )
        if bundle and bundle.station_no:
            assign_number(s, bundle.station_no)
        # The halls (and where their logs start) come with the first pull, not the bundle: the
        # station has no configuration to serve them before it anyway.
        install_triggers(s)
        install_delete_triggers(s)
        return state(s)


def assign_number(s: Session, station_no: int) -> None:
    """Record the station's number and start its id ranges there (once; a change is refused)."""
    row = state(s)
    if row.station_no is not None:
        if row.station_no != station_no:
            raise RuntimeError(
                f"this station database has number {row.station_no}, the parent says {station_no}"
            )
        return
    s.execute(_STATE.update().where(_STATE.c.id == 1).values(station_no=station_no))
    seed_sequences(s, station_no)


def seed_sequences(s: Session, station_no: int) -> None:
    """Start every ranged table's AUTOINCREMENT at the station's range (never lowering it)."""
    lo, hi = station_range(station_no)
    for table in RANGED_TABLES:
        top = s.execute(text(f"SELECT max(id) FROM {table} WHERE id < :hi"), {"hi": hi}).scalar()
        start = max(lo, int(top or 0))
        current = s.execute(text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}).scalar()
        if current is None:
            s.execute(
                text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :v)"), {"t": table, "v": start}
            )
        elif int(current) < start:
            s.execute(text("UPDATE sqlite_sequence SET seq = :v WHERE name = :t"), {"t": table, "v": start})


def apply_floors(s: Session, floors: dict[str, Any] | None, halls: list[str] | tuple[str, ...]) -> None:
    """Draw ids and ticket numbers above what the parent holds (services.stations.floors_of).

    Never lowering: a running station's own are ahead already; a re-installed or replacement
    station would otherwise draw again ids (overwriting the parent's rows) or numbers it holds.
    """
    if not floors:
        return
    for table, top in (floors.get("ids") or {}).items():
        if table not in RANGED_TABLES:
            continue
        current = s.execute(text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}).scalar()
        if current is None:
            s.execute(
                text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :v)"), {"t": table, "v": int(top)}
            )
        elif int(current) < int(top):
            s.execute(
                text("UPDATE sqlite_sequence SET seq = :v WHERE name = :t"), {"t": table, "v": int(top)}
            )
    mine = set(halls)
    for hall_id, prefix, day, top in floors.get("numbers") or []:
        if hall_id not in mine:
            continue
        s.execute(
            text(
                "INSERT INTO number_counters (hall_id, prefix, business_day, value) VALUES (:h, :p, :d, :v) "
                "ON CONFLICT (hall_id, prefix, business_day) DO UPDATE SET value = max(value, excluded.value)"
            ),
            {"h": hall_id, "p": prefix, "d": str(date.fromisoformat(day)), "v": int(top)},
        )


def own_halls(s: Session, halls: tuple[str, ...] | list[str], bases: dict[str, int] | None = None) -> None:
    """The streams this station sends: one ack row per hall and audit stream (kept if present).

    A stream the parent already has N events of (a hall that became a station's) continues at
    N + 1 with a chain of its own from the genesis of N (see services.stations.add_station).
    """
    have = {r[0] for r in s.execute(select(_ACKS.c.hall_id))}
    bases = bases or {}
    for stream in streams_of(list(halls)):
        if stream in have:
            continue
        base = int(bases.get(stream, 0))
        s.execute(_ACKS.insert().values(hall_id=stream, acked_seq=base))
        if base:
            s.execute(
                upsert_do_nothing(
                    s.get_bind().dialect.name,
                    _SEQ,
                    {"hall_id": stream, "last_seq": base, "chain_start": base, "last_hash": None},
                )
            )


def install_triggers(s: Session) -> None:
    """The capture triggers on every station-owned table (IF NOT EXISTS: safe at every start)."""
    for table in UP_TABLES:
        pk = pk_column(table)
        guard = "WHEN (SELECT capture FROM sync_state WHERE id = 1)"
        body = f"INSERT INTO sync_changes (table_name, pk) VALUES ('{table.name}', CAST(NEW.{pk} AS TEXT))"
        s.execute(
            text(
                f"CREATE TRIGGER IF NOT EXISTS sync_capture_{table.name}_ins AFTER INSERT ON {table.name} "
                f"{guard} BEGIN {body}; END"
            )
        )
        # Windows: only the station's columns (the city's configuration comes down, not up).
        cols = f" OF {', '.join(WINDOW_OPERATION_COLUMNS)}" if table.name == "windows" else ""
        s.execute(
            text(
                f"CREATE TRIGGER IF NOT EXISTS sync_capture_{table.name}_upd AFTER UPDATE{cols} ON {table.name} "
                f"{guard} BEGIN {body}; END"
            )
        )


def install_delete_triggers(s: Session) -> None:
    """Deletes of the tables a station deletes from are captured too (sync/deletes.py)."""
    from hall_server.sync.deletes import DELETABLE

    guard = "WHEN (SELECT capture FROM sync_state WHERE id = 1)"
    for name, table in DELETABLE.items():
        pk = pk_column(table)
        body = f"INSERT INTO sync_changes (table_name, pk) VALUES ('{name}', CAST(OLD.{pk} AS TEXT))"
        s.execute(
            text(
                f"CREATE TRIGGER IF NOT EXISTS sync_capture_{name}_del AFTER DELETE ON {name} "
                f"{guard} BEGIN {body}; END"
            )
        )


def set_capture(s: Session, on: bool) -> None:
    """Turn capture on or off inside the caller's transaction (off while applying from the parent)."""
    s.execute(_STATE.update().where(_STATE.c.id == 1).values(capture=on))
