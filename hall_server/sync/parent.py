"""Parent side: apply a station's push in one transaction.

The rules (docs/sync.md, "Station sync, the principles"):
- a station writes only its own halls (and their audit streams); anything else refuses the
  whole batch (403 sync.wrong_hall) and nothing is applied;
- its stream identity is station id + epoch: the first push records the epoch; another epoch
  once the stream made progress is a re-created database or a second machine (409
  sync.epoch_changed), refused and shown on the station list, never merged;
- per stream, the parent's hall_seq is the highest seq applied (the parent never appends to a
  station's stream: events.stream_of). Events at or below it are a replay and skipped, if their
  hashes match what was applied; a different hash, or a station head below it, is a restored
  backup (409 sync.rewound). The first new event must be applied + 1 (else 409 sync.gap with
  the expected seq) and link to the applied chain head;
- row images are upserted in foreign-key order, only rows of the station's halls and, for the
  tables whose ids a station draws, only ids of its own range. Rows go in change-log order: a
  batch that says which change id it follows (rows_after, sent by a station with pushes in
  flight) is refused when the parent has not applied up to there (409 sync.gap with
  rows_through), and a batch whose changes all lie at or below what was applied (a replay, or a
  push that arrives after a later one was applied) changes no row: its images may be older than
  the ones applied since, and everything it carries is here already;
- the applied events are published on this server's bus after commit (and, on PostgreSQL,
  announced to the other processes by the events trigger).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import LargeBinary, Table, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hall_server.chain import genesis
from hall_server.const import AUDIT_STREAM_PREFIX, SYNC_MAX_ROWS
from hall_server.db.models import Event, HallSeq, Station, StationHall, Window
from hall_server.db.upsert import upsert_statement
from hall_server.errors import HallError
from hall_server.events import dumps
from hall_server.priority import YieldBudget
from hall_server.sync import deletes, relay
from hall_server.sync.attendance import TABLE as ATTENDANCE_TABLE
from hall_server.sync.attendance import apply_attendance
from hall_server.sync.capture import RANGED_TABLES
from hall_server.sync.protocol import (
    UP_COLUMNS,
    UP_TABLES,
    VIA_PARENT,
    WINDOW_OPERATION_COLUMNS,
    decode_row,
    pk_column,
    station_range,
)
from wire.sync import PushIn, SyncEvent

logger = logging.getLogger(__name__)

_EVENTS = Event.__table__
_SEQ = HallSeq.__table__
_STATIONS = Station.__table__
_SH = StationHall.__table__
_WINDOWS = Window.__table__
_UP = {t.name: t for t in UP_TABLES}
# Tables applied with Python values on every database: windows (an update of the station's
# columns only) and ticket documents (the photo follows on its own channel, sync/photos.py:
# data_enc starts empty, "not yet received").
_PYTHON_VALUE_TABLES = ("windows", "ticket_documents")
_JSON_UPSERTS: dict[tuple[str, tuple[str, ...]], Any] = {}
# A push of more events of a stream than this is announced to this process's WebSocket
# subscribers through the database (NOTIFY / poll, then one read), not event by event.
LIVE_PUBLISH_MAX = 200
_EVENT_COLUMNS = ("hall_id", "seq", "type", "at", "actor_kind", "actor_id", "payload", "prev_hash", "hash")
# The batch as one JSON document that PostgreSQL unpacks (json_to_recordset): psycopg quotes
# every element of a text[] parameter with a regular expression in Python, which cost more CPU
# than the rest of the apply (a catch-up's payloads are JSON full of quotes).
_PG_INSERT_EVENTS = text(
    f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) "
    "SELECT hall_id, seq, type, CAST(at AS timestamptz), actor_kind, actor_id, "
    # json keeps the text as sent (the hash covers it); the cast only refuses what is not JSON.
    "CAST(CAST(payload AS json) AS text), prev_hash, hash "
    "FROM json_to_recordset(CAST(:rows AS json)) AS x(hall_id text, seq bigint, type text, "
    "at text, actor_kind text, actor_id text, payload text, prev_hash text, hash text)"
)


def _utc_text(seq: int, at: str) -> str:
    """An event's time as sent, checked; one without an offset is UTC (as on every path)."""
    try:
        parsed = datetime.fromisoformat(at)
    except ValueError as exc:
        raise HallError("sync.bad_row", table="events", seq=seq, reason=str(exc)[:100]) from exc
    return at if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC).isoformat()


def _json_doc(rows: list[dict[str, Any]], default: Any = None) -> str:
    """A batch as the JSON document PostgreSQL unpacks: compact, and text as UTF-8 rather than
    \\u escapes (half the encoding time of a catch-up's Chinese payloads, fewer bytes to parse)."""
    return json.dumps(rows, default=default, ensure_ascii=False, separators=(",", ":"))


def _iso(value: Any) -> str:
    """JSON of an event's time (the only value of an event row that is not JSON already)."""
    return value.isoformat()


def lock_station(s: Session, station_id: str) -> Any:
    """The station's row, locked for this transaction (one push of a station at a time)."""
    stmt = select(_STATIONS).where(_STATIONS.c.id == station_id)
    if s.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = s.execute(stmt).first()
    if row is None:
        raise HallError("auth.invalid")
    if row.revoked_at is not None:
        raise HallError("sync.revoked", station_id=station_id)
    return row


def halls_of(s: Session, station_id: str) -> list[str]:
    """The halls a station owns."""
    return [
        r[0]
        for r in s.execute(
            select(_SH.c.hall_id).where(_SH.c.station_id == station_id).order_by(_SH.c.hall_id)
        )
    ]


def applied_seqs(s: Session, streams: list[str]) -> dict[str, tuple[int, str | None]]:
    """(applied seq, chain head) per stream, from this server's hall_seq."""
    rows = s.execute(
        select(_SEQ.c.hall_id, _SEQ.c.last_seq, _SEQ.c.last_hash).where(_SEQ.c.hall_id.in_(streams))
    )
    out = {stream: (0, None) for stream in streams}
    for r in rows:
        out[r.hall_id] = (int(r.last_seq or 0), r.last_hash)
    return out


def apply_push(
    s: Session,
    station_id: str,
    body: PushIn,
    now: datetime,
    relaying: bool = False,
    budget: YieldBudget | None = None,
) -> dict[str, Any]:
    """Apply one batch in the caller's transaction; returns {applied: {stream: seq}, rows_through}.

    relaying: this server is itself a station (a township) and passes the batch on to its own
    parent, which owns the bookings: the attendance is only stored and forwarded here.
    budget: between its steps the apply pauses while this server's own kiosks and windows have
    requests in flight, within the budget (hall_server/priority.py).
    """
    pause = budget.pause if budget is not None else _no_pause
    st = lock_station(s, station_id)
    if body.station_id != station_id:
        raise HallError("auth.forbidden", reason="the batch names another station")
    # Its own halls and those of the stations it relays for (sync/relay.py).
    halls = relay.served_halls(s, station_id)
    streams = [x for h in halls for x in (h, AUDIT_STREAM_PREFIX + h)]
    allowed = set(streams)
    _check_epoch(s, st, body.epoch, streams)
    # The change id applied up to, for this database of the station (another epoch starts over).
    rows_done = int(st.rows_through or 0) if st.epoch == body.epoch else 0
    if body.rows_after is not None and body.rows_after > rows_done:
        # Sent behind a push not applied (yet): the station sends again from rows_through.
        raise HallError(
            "sync.gap", expected=rows_done + 1, rows_through=rows_done, rows_after=body.rows_after
        )
    # A batch that names no change id (rows_through 0: a hand-made push) is applied as it is.
    rows_replayed = 0 < body.rows_through <= rows_done
    by_stream: dict[str, list[SyncEvent]] = defaultdict(list)
    for ev in body.events:
        if ev.hall_id not in allowed:
            raise HallError("sync.wrong_hall", hall_id=ev.hall_id)
        by_stream[ev.hall_id].append(ev)
    for stream in body.heads:
        if stream not in allowed:
            raise HallError("sync.wrong_hall", hall_id=stream)
    applied = applied_seqs(s, streams)
    for stream, head in body.heads.items():
        if head < applied[stream][0]:
            raise HallError("sync.rewound", hall_id=stream, station_seq=head, applied_seq=applied[stream][0])
    published: list[tuple[dict[str, Any], str]] = []
    for stream, events in by_stream.items():
        pause()
        applied[stream] = _apply_stream(s, stream, events, applied[stream], published)
    if not rows_replayed:
        # Before the rows: it must see the attendance stored before this push (replays, conflicts).
        if not relaying:
            apply_attendance(s, body.rows.get(ATTENDANCE_TABLE), set(halls), now)
        ranges = relay.served_ranges(s, station_id, int(st.station_no))
        _apply_rows(s, st, body.rows, set(halls), ranges, pause)
        deletes.apply_deletes(s, body.deletes, set(halls), ranges)
    relay.apply_relayed_status(s, station_id, {k: v.model_dump() for k, v in body.relayed.items()})
    hall_applied = {h: applied[h][0] for h in halls}
    s.execute(
        update(_STATIONS)
        .where(_STATIONS.c.id == station_id)
        .values(
            epoch=body.epoch,
            last_contact_at=now,
            last_push_at=now,
            rows_through=max(rows_done, body.rows_through),
            waiting=body.waiting,
            lag_s=body.lag_s,
            config_version=body.config_version,
            clock_skew_s=clock_skew(body.sent_at, now),
            conflict=None,
            conflict_at=None,
            conflict_epoch=None,
        )
    )
    for hall, seq in hall_applied.items():
        s.execute(update(_SH).where(_SH.c.hall_id == hall).values(applied_seq=seq, applied_at=now))
    if published:
        s.info.setdefault("events", []).extend(published)
    return {"applied": {k: v[0] for k, v in applied.items()}, "rows_through": body.rows_through}


def _no_pause() -> None:
    """Apply without pausing (no budget: the CLI, tests, a relay's own apply)."""


def clock_skew(sent_at: str | None, now: datetime) -> float | None:
    """The station's clock minus this server's, from the moment it says it sent the batch.

    The transfer time counts as skew (a batch takes well under a second on a working link), so
    only skews of seconds and more mean something; the station list shows it rounded.
    """
    if not sent_at:
        return None
    try:
        at = datetime.fromisoformat(sent_at)
    except ValueError:
        return None
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return round((at - now).total_seconds(), 1)


def _check_epoch(s: Session, st: Any, epoch: str, streams: list[str]) -> None:
    if st.epoch is None or st.epoch == epoch:
        return
    progress = s.execute(
        select(_SEQ.c.hall_id).where(_SEQ.c.hall_id.in_(streams), _SEQ.c.last_seq > 0).limit(1)
    ).first()
    if progress is not None:
        raise HallError("sync.epoch_changed", station_id=st.id, epoch=epoch, known_epoch=st.epoch)


def _apply_stream(
    s: Session,
    stream: str,
    events: list[SyncEvent],
    applied: tuple[int, str | None],
    published: list[tuple[dict[str, Any], str]],
) -> tuple[int, str | None]:
    events.sort(key=lambda e: e.seq)
    done, head = applied
    old = [e for e in events if e.seq <= done]
    new = [e for e in events if e.seq > done]
    if old:
        # A replay: the same records again are a no-op; different ones are another history.
        stored = dict(
            s.execute(
                select(_EVENTS.c.seq, _EVENTS.c.hash).where(
                    _EVENTS.c.hall_id == stream, _EVENTS.c.seq.in_([e.seq for e in old])
                )
            ).all()
        )
        for e in old:
            if e.seq in stored and stored[e.seq] != e.hash:
                raise HallError("sync.rewound", hall_id=stream, seq=e.seq, reason="hash differs")
    if not new:
        return applied
    expected = done + 1
    for n, e in enumerate(new):
        if e.seq != expected + n:
            raise HallError("sync.gap", hall_id=stream, expected=expected + n, got=e.seq)
    # A re-based stream (station add or reset: no head) links to the genesis of the applied seq.
    if done > 0 and new[0].prev_hash is not None and new[0].prev_hash != (head or genesis(stream, done)):
        raise HallError("sync.rewound", hall_id=stream, seq=new[0].seq, reason="chain does not link")
    rows = []
    # A catch-up batch is not handed to this process's subscribers event by event (a JSON
    # round trip each): they get it the way events of other processes arrive, the database's
    # announcement (PostgreSQL NOTIFY, the SQLite poll) and a read of the rows, in one go.
    live = len(new) <= LIVE_PUBLISH_MAX
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql" and not live:
        # PostgreSQL checks the payloads of the batch itself (_PG_INSERT_EVENTS casts them to
        # json; a bad one is a DataError, refused as sync.bad_row): no JSON parse per event here.
        rows = [
            {
                "hall_id": stream,
                "seq": e.seq,
                "type": e.type,
                "at": _utc_text(e.seq, e.at),
                "actor_kind": e.actor_kind,
                "actor_id": e.actor_id,
                "payload": e.payload,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            }
            for e in new
        ]
    for e in new if not rows else ():
        try:
            at = datetime.fromisoformat(e.at)
            payload = json.loads(e.payload)
        except ValueError as exc:
            raise HallError("sync.bad_row", table="events", seq=e.seq, reason=str(exc)[:100]) from exc
        at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        rows.append(
            {
                "hall_id": stream,
                "seq": e.seq,
                "type": e.type,
                "at": at,
                "actor_kind": e.actor_kind,
                "actor_id": e.actor_id,
                "payload": e.payload,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            }
        )
        if live:
            event = {
                "seq": e.seq,
                "hall_id": stream,
                "type": e.type,
                "at": at.isoformat(),
                "actor": {"kind": e.actor_kind, "id": e.actor_id},
                "payload": payload,
            }
            published.append((event, dumps(event)))
    last = new[-1].seq
    # The seq row first (the chain-head trigger of events updates it), then the events.
    s.execute(
        upsert_statement(
            dialect,
            _SEQ,
            {"hall_id": stream, "last_seq": last, "chain_start": 0},
            index_elements=["hall_id"],
            set_={"last_seq": last},
            returning=_SEQ.c.last_seq,
        )
    )
    if dialect == "postgresql":
        # The batch in one statement: its triggers run once per hall (migration 0010).
        s.execute(_PG_INSERT_EVENTS, {"rows": _json_doc(rows, default=_iso)})
    else:
        s.execute(insert(_EVENTS), rows)
    return last, new[-1].hash


def _apply_rows(
    s: Session,
    st: Any,
    rows: dict[str, list[dict[str, Any]]],
    halls: set[str],
    ranges: list[tuple[int, int]] | None = None,
    pause: Callable[[], None] = _no_pause,
) -> None:
    unknown = [name for name in rows if name not in _UP]
    if unknown:
        raise HallError("sync.bad_row", table=str(unknown[0])[:64], reason="not a table a station sends")
    total = sum(len(v) for v in rows.values())
    if total > SYNC_MAX_ROWS:
        raise HallError("request.invalid", reason=f"at most {SYNC_MAX_ROWS} rows per push")
    ranges = ranges or [station_range(int(st.station_no))]
    dialect = s.get_bind().dialect.name
    batch_parents: dict[str, set[int]] = defaultdict(set)
    for table in UP_TABLES:
        images = rows.get(table.name)
        if not images:
            continue
        pause()
        allowed_cols = UP_COLUMNS.get(table.name)
        # PostgreSQL reads the checked images as JSON itself (_upsert_json); the other tables
        # and SQLite get Python values.
        as_json = dialect == "postgresql" and table.name not in _PYTHON_VALUE_TABLES
        decoded = []
        for image in images:
            row = decode_row(table, image, convert=not as_json)
            if allowed_cols is not None and set(row) - set(allowed_cols):
                raise HallError("sync.bad_row", table=table.name, reason="a column the station does not own")
            decoded.append(row)
        pk = pk_column(table)
        for row in decoded:
            if table.name in RANGED_TABLES and not relay.in_ranges(int(row[pk]), ranges):
                raise HallError(
                    "sync.wrong_hall", table=table.name, id=row[pk], reason="id outside the station's range"
                )
            if "hall_id" in table.c and row.get("hall_id") not in halls:
                raise HallError("sync.wrong_hall", table=table.name, hall_id=row.get("hall_id"))
        _check_existing(s, table, decoded, halls)
        if table.name in VIA_PARENT:
            _check_via_parent(s, table, decoded, halls, batch_parents)
        if table.name == "windows":
            for row in decoded:
                values = {c: row[c] for c in WINDOW_OPERATION_COLUMNS if c in row}
                s.execute(
                    update(_WINDOWS)
                    .where(_WINDOWS.c.id == row["id"], _WINDOWS.c.hall_id == row["hall_id"])
                    .values(**values)
                )
            continue
        if table.name == "ticket_documents":
            for row in decoded:
                row.setdefault("data_enc", b"")  # not yet received: the photo follows (sync/photos.py)
        if as_json:
            _upsert_json(s, table, pk, decoded)
        else:
            _upsert_rows(s, dialect, table, pk, decoded)
        batch_parents[table.name].update(int(r[pk]) for r in decoded if isinstance(r[pk], int))


def _upsert_rows(s: Session, dialect: str, table: Table, pk: str, decoded: list[dict[str, Any]]) -> None:
    """Upsert a table's images set-wise: one INSERT ... ON CONFLICT DO UPDATE per column set,
    executed for all its rows at once (a day's catch-up is thousands of rows; one statement per
    row cost a compile and a round trip each)."""
    module = postgresql if dialect == "postgresql" else sqlite
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in decoded:
        by_columns[tuple(sorted(row))].append(row)
    for columns, batch in by_columns.items():
        stmt = module.insert(table)
        # The photo of a document comes on its own channel: an update never blanks the parent's copy.
        keep = [c for c in columns if c != pk and not (table.name == "ticket_documents" and c == "data_enc")]
        set_ = {c: stmt.excluded[c] for c in keep} or {pk: stmt.excluded[pk]}
        s.execute(stmt.on_conflict_do_update(index_elements=[pk], set_=set_), batch)


def _upsert_json(s: Session, table: Table, pk: str, images: list[dict[str, Any]]) -> None:
    """Upsert checked row images on PostgreSQL: one statement per column set whose rows travel
    as one JSON document (json_to_recordset), so neither Python nor the driver handles values
    one by one (executemany of a catch-up cost more CPU than the rest of the apply)."""
    last: dict[Any, dict[str, Any]] = {}
    for row in images:
        last[row[pk]] = row  # one image per row: ON CONFLICT may touch a row once per statement
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in last.values():
        by_columns[tuple(sorted(row))].append(row)
    for columns, batch in by_columns.items():
        s.execute(_json_upsert_statement(table, pk, columns), {"rows": _json_doc(batch)})


def _json_upsert_statement(table: Table, pk: str, columns: tuple[str, ...]) -> Any:
    key = (table.name, columns)
    stmt = _JSON_UPSERTS.get(key)
    if stmt is not None:
        return stmt
    pg = postgresql.dialect()
    record = []
    values = []
    for name in columns:
        col = table.c[name]
        if isinstance(col.type, LargeBinary):  # base64 in the image
            record.append(f'"{name}" text')
            values.append(f"decode(x.\"{name}\", 'base64')")
        else:
            record.append(f'"{name}" {col.type.compile(dialect=pg)}')
            values.append(f'x."{name}"')
    names = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c != pk) or f'"{pk}" = EXCLUDED."{pk}"'
    stmt = text(
        f'INSERT INTO "{table.name}" ({names}) SELECT {", ".join(values)} '
        f"FROM json_to_recordset(CAST(:rows AS json)) AS x({', '.join(record)}) "
        f'ON CONFLICT ("{pk}") DO UPDATE SET {updates}'
    )
    _JSON_UPSERTS[key] = stmt
    return stmt


def _check_existing(s: Session, table: Table, decoded: list[dict[str, Any]], halls: set[str]) -> None:
    """A row already here must belong to one of the station's halls (a device id, a window)."""
    if "hall_id" not in table.c:
        return
    pk = pk_column(table)
    keys = [r[pk] for r in decoded]
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        other = s.execute(
            select(table.c[pk], table.c.hall_id).where(
                table.c[pk].in_(chunk), table.c.hall_id.not_in(list(halls))
            )
        ).first()
        if other is not None:
            raise HallError("sync.wrong_hall", table=table.name, hall_id=other.hall_id)


def _check_via_parent(
    s: Session, table: Table, decoded: list[dict[str, Any]], halls: set[str], batch: dict[str, set[int]]
) -> None:
    column, parent_name = VIA_PARENT[table.name]
    parent = _UP.get(parent_name)
    if parent is None:
        raise HallError("sync.bad_row", table=table.name, reason="not a table a station sends")
    ids = {int(r[column]) for r in decoded} - batch.get(parent_name, set())
    ids_list = sorted(ids)
    for i in range(0, len(ids_list), 500):
        chunk = ids_list[i : i + 500]
        found = (
            s.execute(select(parent.c.id).where(parent.c.id.in_(chunk), parent.c.hall_id.in_(list(halls))))
            .scalars()
            .all()
        )
        if len(set(found)) != len(chunk):
            raise HallError(
                "sync.wrong_hall", table=table.name, reason=f"a {parent_name} row of another hall"
            )
