"""The event log: append_event() writes one row per state change with a gap-free per-hall seq."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, bindparam, insert, select, text
from sqlalchemy.orm import Session

from hall_server import chain
from hall_server.const import AUDIT_STREAM_PREFIX, CITY_STREAM_SUFFIX, PG_EVENTS_PER_APPEND
from hall_server.db.engine import Tx
from hall_server.db.models import Event, HallSeq, StationHall
from hall_server.db.prepared import Prepared
from hall_server.db.upsert import upsert_statement

logger = logging.getLogger(__name__)

_EVENTS = Event.__table__
_SEQ = HallSeq.__table__


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused an event: kind (clerk, manager, admin, device, system) and an id."""

    kind: str
    id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The wire form {kind, id}."""
        return {"kind": self.kind, "id": self.id}


SYSTEM = Actor("system", None)


def dumps(value: Any) -> str:
    """Compact JSON with Chinese kept readable."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


_INSERT_EVENT = Prepared(
    insert(_EVENTS).values(
        hall_id=bindparam("hall_id"),
        seq=bindparam("seq"),
        type=bindparam("type"),
        at=bindparam("at"),
        actor_kind=bindparam("actor_kind"),
        actor_id=bindparam("actor_id"),
        payload=bindparam("payload"),
        prev_hash=bindparam("prev_hash"),
        hash=bindparam("hash"),
    )
)
# PostgreSQL with SHA-256: draw the seqs, link and insert k events in one statement, as before
# the chain (the predecessor's hash is in the seq row the upsert locks and returns; each
# further row links to the hash computed for the row before it in the same statement). Bodies
# come as bytes, hashed the same way as chain.record_hash does; SM3 has no SQL function and
# takes the two-statement path below.
_PG_APPEND_SHA256: dict[int, Prepared] = {}
_SHA256_OF = (
    "'sha256:' || encode(sha256(convert_to(x.prev || chr(10) || x.seq::text || chr(10), 'UTF8') "
    "|| :body_{i}), 'hex')"
)


def _pg_append_sha256(k: int) -> Prepared:
    """The one statement that appends k events of a hall (built once per k)."""
    stmt = _PG_APPEND_SHA256.get(k)
    if stmt is None:
        links = []
        for i in range(k):
            src = (
                f"s.last_seq - {k - 1} AS seq, s.prev AS prev FROM s"
                if i == 0
                else (f"e{i - 1}.seq + 1 AS seq, e{i - 1}.hash AS prev FROM e{i - 1}")
            )
            links.append(
                f"e{i} AS (SELECT x.seq, x.prev, {_SHA256_OF.format(i=i)} AS hash FROM (SELECT {src}) x)"
            )
        rows = " UNION ALL ".join(
            f"SELECT :hall_id, e{i}.seq, :type_{i}, :at_{i}, :actor_kind_{i}, :actor_id_{i}, :payload_{i}, "
            f"e{i}.prev, e{i}.hash FROM e{i}"
            for i in range(k)
        )
        stmt = Prepared(
            text(
                f"WITH s AS (INSERT INTO hall_seq (hall_id, last_seq) VALUES (:hall_id, {k}) "
                f"ON CONFLICT (hall_id) DO UPDATE SET last_seq = hall_seq.last_seq + {k} "
                "RETURNING last_seq, coalesce(last_hash, 'genesis:' || hall_id || ':' || chain_start) AS prev), "
                + ", ".join(links)
                + " INSERT INTO events (hall_id, seq, type, at, actor_kind, actor_id, payload, prev_hash, hash) "
                + rows
                + " RETURNING seq"
            ).columns(seq=BigInteger)
        )
        _PG_APPEND_SHA256[k] = stmt
    return stmt


def _pg_sha256(conn: Any) -> bool:
    """True where the seq draw, the links and the inserts are one statement (see above)."""
    return conn.dialect.name == "postgresql" and chain.algorithm() == "sha256"


def _append_pg_sha256(conn: Any, rows: list[dict[str, Any]]) -> int:
    """Append rows (one hall, all but seq and links), PG_EVENTS_PER_APPEND a statement; the last seq.

    The seqs are consecutive across statements: the first one locks the hall's seq row until
    commit, and each statement's trigger has moved the chain head on before the next.
    """
    last = 0
    for start in range(0, len(rows), PG_EVENTS_PER_APPEND):
        part = rows[start : start + PG_EVENTS_PER_APPEND]
        params: dict[str, Any] = {"hall_id": part[0]["hall_id"]}
        for i, r in enumerate(part):
            params[f"body_{i}"] = chain.record_body(
                r["hall_id"], r["type"], r["at"], r["actor_kind"], r["actor_id"], r["payload"]
            )
            for key in ("type", "at", "actor_kind", "actor_id", "payload"):
                params[f"{key}_{i}"] = r[key]
        last = max(int(row[0]) for row in _pg_append_sha256(len(part)).all(conn, params))
    return last


_SEQ_TAKE: dict[str, Prepared] = {}


def _seq_take(dialect: str) -> Prepared:
    """Advance a hall's counter by :k in one statement, returning the last seq taken and the chain head."""
    stmt = _SEQ_TAKE.get(dialect)
    if stmt is None:
        stmt = Prepared(
            upsert_statement(
                dialect,
                _SEQ,
                {"hall_id": bindparam("hall_id"), "last_seq": bindparam("k")},
                index_elements=["hall_id"],
                set_={"last_seq": _SEQ.c.last_seq + bindparam("k")},
                returning=(_SEQ.c.last_seq, _SEQ.c.last_hash, _SEQ.c.chain_start),
            )
        )
        _SEQ_TAKE[dialect] = stmt
    return stmt


def _take(conn: Any, hall_id: str, k: int) -> tuple[int, str]:
    """Draw k seqs for a hall: (last seq drawn, hash of the record before the first)."""
    row = _seq_take(conn.dialect.name).one(conn, {"hall_id": hall_id, "k": k})
    last, head, start = int(row[0]), row[1], int(row[2] or 0)
    return last, head if head is not None else chain.genesis(hall_id, start)


def _link(params: dict[str, Any], seq: int, prev: str) -> dict[str, Any]:
    """The row's parameters with its seq and chain hashes."""
    digest = chain.record_hash(
        prev,
        params["hall_id"],
        seq,
        params["type"],
        params["at"],
        params["actor_kind"],
        params["actor_id"],
        params["payload"],
    )
    return {**params, "seq": seq, "prev_hash": prev, "hash": digest}


def append_event(
    session: Session | Tx,
    hall_id: str,
    type: str,
    payload: dict[str, Any],
    actor: Actor | dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Append an event in the caller's transaction; it is published to subscribers after commit."""
    actor = _actor(actor)
    conn = session.connection()
    hall_id = stream_of(conn, hall_id)
    params = _row(hall_id, type, payload, actor, at or datetime.now(UTC))
    if _pg_sha256(conn):
        seq = _append_pg_sha256(conn, [params])
        return _publish_after_commit(session, params, payload, actor, seq)
    seq, prev = _take(conn, hall_id, 1)
    row = _link(params, seq, prev)
    # Triggers move the chain head (hall_seq.last_hash) and, on PostgreSQL, NOTIFY at commit.
    _INSERT_EVENT.all(conn, row)
    return _publish_after_commit(session, params, payload, actor, seq)


def stage_event(
    tx: Session | Tx,
    hall_id: str,
    type: str,
    payload: dict[str, Any],
    actor: Actor | dict[str, Any] | None = None,
) -> None:
    """Like append_event, but written just before the transaction commits.

    The hall's seq counter row is locked from the moment a seq is drawn until commit, and
    every writer of the hall waits on it. Drawn at the end, with all of the transaction's
    events in one go, it is held for one statement instead of the whole use case (on
    PostgreSQL the windows of a hall otherwise queue behind each other's claims).
    """
    if not isinstance(tx, Tx):  # a Session has no before-commit step: write it now
        append_event(tx, hall_id, type, payload, actor)
        return
    staged: list[tuple[str, str, dict[str, Any], Any, datetime]] | None = tx.info.get("staged_events")
    if staged is None:
        staged = tx.info["staged_events"] = []
        tx.info.setdefault("before_commit", []).append(lambda: _flush_staged(tx))
    staged.append((hall_id, type, payload, actor, datetime.now(UTC)))


def _flush_staged(tx: Tx) -> None:
    staged = tx.info.pop("staged_events", None) or []
    i = 0
    while i < len(staged):
        # Consecutive events of one hall take their seqs together.
        j = i
        while j < len(staged) and staged[j][0] == staged[i][0]:
            j += 1
        batch = staged[i:j]
        if len(batch) == 1:
            hall_id, type_, payload, actor, at = batch[0]
            append_event(tx, hall_id, type_, payload, actor, at=at)
        else:
            _append_batch(tx, batch)
        i = j


def _append_batch(tx: Tx, batch: list[tuple[str, str, dict[str, Any], Any, datetime]]) -> None:
    conn = tx.connection()
    hall_id = stream_of(conn, batch[0][0])
    if _pg_sha256(conn):
        # One statement for the whole batch: seqs, links, rows (and one run of its triggers).
        staged = [
            (_row(hall_id, type_, payload, _actor(actor), at), payload, _actor(actor))
            for _hall, type_, payload, actor, at in batch
        ]
        last = _append_pg_sha256(conn, [r for r, _, _ in staged])
        for n, (params, payload, who) in enumerate(staged):
            _publish_after_commit(tx, params, payload, who, last - len(batch) + 1 + n)
        return
    last, prev = _take(conn, hall_id, len(batch))
    rows = []
    for n, (_hall, type_, payload, actor, at) in enumerate(batch):
        seq = last - len(batch) + 1 + n
        who = _actor(actor)
        params = _row(hall_id, type_, payload, who, at)
        _publish_after_commit(tx, params, payload, who, seq)
        row = _link(params, seq, prev)
        prev = row["hash"]
        rows.append(row)
    _INSERT_EVENT.many(conn, rows)


# --- the streams of station-owned halls (docs/sync.md) -------------------------------------
# A station owns its halls' event logs: the parent applies them with the station's seqs and
# hashes and must never append to them itself (the seqs would collide). What a parent's own use
# case does about such a hall (a county manager works a follow-up case, an admin makes a token)
# goes to a stream of its own, "<hall>@city" (and "audit:<hall>@city"). This is the one place
# that rule lives.
_STATION_HALLS_TTL_S = 5.0
# Per database (engine URL): one process may hold several (tests, tools).
_station_halls: dict[str, tuple[float, frozenset[str]]] = {}
_station_halls_lock = threading.Lock()


def station_halls(conn: Any) -> frozenset[str]:
    """The halls a station owns at this (parent) server; re-read every few seconds."""
    key = str(conn.engine.url)
    expires, halls = _station_halls.get(key, (0.0, frozenset()))
    if time.monotonic() < expires:
        return halls
    with _station_halls_lock:
        halls = frozenset(r[0] for r in conn.execute(select(StationHall.__table__.c.hall_id)))
        _station_halls[key] = (time.monotonic() + _STATION_HALLS_TTL_S, halls)
    return halls


def forget_station_halls() -> None:
    """Re-read the station halls on the next append (a station was added or changed here)."""
    _station_halls.clear()


def hall_of_stream(stream: str) -> str:
    """The hall a readable stream is about: "<hall>@city" (this server's own events about a
    station's hall) is read by whoever may read the hall; any other name is the hall itself."""
    return stream[: -len(CITY_STREAM_SUFFIX)] if stream.endswith(CITY_STREAM_SUFFIX) else stream


def stream_of(conn: Any, hall_id: str) -> str:
    """The event stream this server appends to for hall_id: "<hall>@city" for a station's hall."""
    base = hall_id[len(AUDIT_STREAM_PREFIX) :] if hall_id.startswith(AUDIT_STREAM_PREFIX) else hall_id
    halls = station_halls(conn)
    if halls and base in halls:
        return hall_id + CITY_STREAM_SUFFIX
    return hall_id


def _actor(actor: Actor | dict[str, Any] | None) -> Actor:
    if actor is None:
        return SYSTEM
    if isinstance(actor, dict):
        return Actor(str(actor.get("kind", "system")), _opt_str(actor.get("id")))
    return actor


def _row(hall_id: str, type: str, payload: dict[str, Any], actor: Actor, at: datetime) -> dict[str, Any]:
    """An events row's parameters, all but the seq."""
    return {
        "hall_id": hall_id,
        "type": type,
        # UTC always: SQLite keeps the wall time only, and the chain hashes what comes back.
        "at": at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC),
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "payload": dumps(payload),
    }


def _publish_after_commit(
    session: Session | Tx, row: dict[str, Any], payload: dict[str, Any], actor: Actor, seq: int
) -> dict[str, Any]:
    """Queue the event for the subscribers (sent once the transaction commits); returns it."""
    event = {
        "seq": seq,
        "hall_id": row["hall_id"],
        "type": row["type"],
        "at": row["at"].isoformat(),
        "actor": actor.as_dict(),
        "payload": payload,
    }
    # The wire text is built once here, around the payload JSON already made for the row.
    head = {k: event[k] for k in ("seq", "hall_id", "type", "at", "actor")}
    session.info.setdefault("events", []).append((event, _wire(head, row["payload"])))
    return event


def _wire(head: dict[str, Any], payload_json: str) -> str:
    """An event's wire text: its head fields, then the payload JSON as stored (not re-encoded)."""
    return dumps(head)[:-1] + ',"payload":' + payload_json + "}"


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _head(row: Any, hall_id: str | None = None) -> dict[str, Any]:
    """An events row's wire fields but the payload."""
    at = row.at
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return {
        "seq": int(row.seq),
        "hall_id": row.hall_id if hall_id is None else hall_id,
        "type": row.type,
        "at": at.isoformat() if at else None,
        "actor": {"kind": row.actor_kind, "id": row.actor_id},
    }


def row_to_event(row: Any, hall_id: str | None = None) -> dict[str, Any]:
    """The wire form of an events row (hall_id: the stream's, for a row that does not carry it,
    such as an archived event)."""
    return {**_head(row, hall_id), "payload": json.loads(row.payload)}


_WIRE_COLUMNS = (
    _EVENTS.c.seq,
    _EVENTS.c.hall_id,
    _EVENTS.c.type,
    _EVENTS.c.at,
    _EVENTS.c.actor_kind,
    _EVENTS.c.actor_id,
    _EVENTS.c.payload,
)


def read_event_texts(session: Session, hall_id: str, since: int, limit: int) -> list[tuple[int, str]]:
    """read_events as (seq, wire text), made around each stored payload without decoding it:
    the text a live subscriber got, at a fraction of the cost (replays, gap fills)."""
    rows = session.execute(
        select(*_WIRE_COLUMNS)
        .where(_EVENTS.c.hall_id == hall_id, _EVENTS.c.seq > since)
        .order_by(_EVENTS.c.seq)
        .limit(limit)
    ).all()
    return [(int(r.seq), _wire(_head(r), r.payload)) for r in rows]


def read_events(session: Session, hall_id: str, since: int, limit: int) -> list[dict[str, Any]]:
    """Events of a hall with seq > since, in order, at most limit."""
    rows = session.execute(
        select(_EVENTS)
        .where(_EVENTS.c.hall_id == hall_id, _EVENTS.c.seq > since)
        .order_by(_EVENTS.c.seq)
        .limit(limit)
    ).all()
    return [row_to_event(r) for r in rows]


def last_seq(session: Session, hall_id: str) -> int:
    """The last event seq of a hall (0 if none)."""
    value = session.execute(select(_SEQ.c.last_seq).where(_SEQ.c.hall_id == hall_id)).scalar()
    return int(value or 0)
