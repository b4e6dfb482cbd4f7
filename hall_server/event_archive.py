"""Event retention: closed days of the event log move into `event_archive`, compressed, chain intact.

The live `events` table keeps the days within the retention period (Settings.event_retention_days;
0 keeps everything). Older days of every stream (halls, "<hall>@city", "audit:*") are written as
one archive row per stream and UTC day: zlib-compressed JSON lines holding every column the hash
chain covers, plus the hash the block links to and the hash of its last record. The audit verifier
reads archive blocks then live rows as one chain (audit._rows), so a pruned log still verifies from
its genesis; statistics come from tickets and rollups, which are not pruned. Events a report reads
by time (const.REPORT_EVENT_TYPES: the green-channel removals) are also copied, plain, into
`report_events` in the same transaction, so the report does not lose archived days. Replays asking for
pruned seqs are refused with events.pruned (410, WebSocket 4410), never answered with a gap.

At a station, nothing after the seq the parent acknowledged (sync_acks) is archived: those events
still have to go up.

Under PostgreSQL's append-only app role (db/roles.py) the server may not delete events: the rule is
then the database owner's (`hall-server db archive-events`). The worker asks the database first
(`may_archive`) instead of failing a transaction every pass, and keeps the outcome in server_meta
(`record_retention`), written only when it changes: one warning in the log per change, and the
managers' alerts show it for as long as it lasts (services/health.py).
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from hall_server import chain
from hall_server.const import (
    EVENT_ARCHIVE_BATCH,
    META_EVENT_RETENTION,
    RECENT_ARCHIVE_BLOCKS,
    REPORT_EVENT_TYPES,
)
from hall_server.db.engine import Database
from hall_server.db.models import Event, EventArchive, HallSeq, ReportEvent, ServerMeta, SyncAck
from hall_server.db.upsert import upsert_do_nothing
from hall_server.errors import HallError

logger = logging.getLogger(__name__)

E = Event.__table__
X = EventArchive.__table__
R = ReportEvent.__table__
S = HallSeq.__table__
K = SyncAck.__table__
M = ServerMeta.__table__


@dataclass(frozen=True, slots=True)
class ArchivedEvent:
    """One event as read back from an archive block (the columns the chain hashes)."""

    seq: int
    type: str
    at: datetime
    actor_kind: str
    actor_id: str | None
    payload: str
    prev_hash: str | None
    hash: str | None


def _day_of(at: datetime) -> date:
    """The UTC day of an event time (both databases give naive UTC or aware times back)."""
    return (at.astimezone(UTC) if at.tzinfo is not None else at).date()


def _naive_utc(at: datetime) -> datetime:
    """An event time as naive UTC (SQLite gives it back naive, PostgreSQL aware)."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


def _encode(rows: list[Any]) -> bytes:
    lines = (
        json.dumps(
            [
                r.seq,
                r.type,
                chain.canonical_at(r.at),
                r.actor_kind,
                r.actor_id,
                r.payload,
                r.prev_hash,
                r.hash,
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for r in rows
    )
    return zlib.compress("\n".join(lines).encode("utf-8"), 6)


def _decode(body: bytes) -> Iterator[ArchivedEvent]:
    for line in zlib.decompress(body).decode("utf-8").split("\n"):
        seq, type_, at, kind, actor_id, payload, prev_hash, hash_ = json.loads(line)
        yield ArchivedEvent(
            int(seq), type_, datetime.fromisoformat(at), kind, actor_id, payload, prev_hash, hash_
        )


def archived_upto(session: Session, hall_id: str) -> int:
    """The last seq of a stream that was moved to the archive (0: none)."""
    return int(session.execute(select(func.max(X.c.last_seq)).where(X.c.hall_id == hall_id)).scalar() or 0)


def check_replayable(session: Session, hall_id: str, since: int) -> None:
    """Refuse (events.pruned, 410) a replay from a seq whose successors were archived."""
    oldest = archived_upto(session, hall_id)
    if since < oldest:
        raise HallError("events.pruned", hall_id=hall_id, since=since, oldest_seq=oldest)


def archived_rows(session: Session, hall_id: str, after: int, upto: int) -> Iterator[ArchivedEvent]:
    """Archived events of a stream with after < seq <= upto, in order (one block in memory at a time)."""
    while True:
        block = session.execute(
            select(X.c.first_seq, X.c.last_seq, X.c.body)
            .where(X.c.hall_id == hall_id, X.c.last_seq > after, X.c.first_seq <= upto)
            .order_by(X.c.first_seq)
            .limit(1)
        ).first()
        if block is None:
            return
        for ev in _decode(block.body):
            if after < ev.seq <= upto:
                yield ev
        after = int(block.last_seq)


def recent_archived(
    session: Session, hall_id: str, types: tuple[str, ...], limit: int
) -> list[ArchivedEvent]:
    """The newest archived events of these types of a stream, newest first, at most limit, from
    its last RECENT_ARCHIVE_BLOCKS day blocks (a display's recent calls after a long holiday)."""
    blocks = session.execute(
        select(X.c.body)
        .where(X.c.hall_id == hall_id)
        .order_by(X.c.first_seq.desc())
        .limit(RECENT_ARCHIVE_BLOCKS)
    ).scalars()
    out: list[ArchivedEvent] = []
    for body in blocks:
        for ev in reversed(list(_decode(body))):
            if ev.type in types:
                out.append(ev)
                if len(out) >= limit:
                    return out
    return out


def _limits(session: Session, station: bool) -> dict[str, int]:
    """Per stream, the highest seq that may be archived by the sync rule (station: the parent's ack)."""
    streams = [r[0] for r in session.execute(select(S.c.hall_id).order_by(S.c.hall_id))]
    if not station:
        return {name: 2**62 for name in streams}
    acked = {r.hall_id: int(r.acked_seq or 0) for r in session.execute(select(K.c.hall_id, K.c.acked_seq))}
    return {name: acked.get(name, 0) for name in streams}


def archive_closed_days(db: Database, now: datetime, retention_days: int, *, station: bool = False) -> int:
    """Move events of UTC days ended more than retention_days ago to the archive; how many moved.

    Each batch is one short transaction: insert the day blocks, delete the same seqs from events.
    A stream stops at its first event that is too new or (station) not yet acknowledged upward, so
    what stays in `events` is always a contiguous tail.
    """
    if retention_days <= 0:
        return 0
    cutoff = datetime.combine(now.astimezone(UTC).date() - timedelta(days=retention_days), time(), UTC)
    with db.read() as s:
        # Most passes find nothing old: one row per stream tells, in one read, instead of a
        # writing transaction and a batch of rows with their payloads for every stream.
        limits = {
            name: limit for name, limit in _limits(s, station).items() if _starts_old(s, name, cutoff, limit)
        }
    moved = 0
    for hall_id, limit in limits.items():
        while True:
            with db.write() as s:
                n, more = _archive_batch(s, hall_id, cutoff, limit, now)
            moved += n
            if not more:
                break
    if moved:
        logger.info("archived %d events recorded before %s", moved, cutoff.date().isoformat())
    return moved


def _starts_old(s: Session, hall_id: str, cutoff: datetime, limit: int) -> bool:
    """Whether the stream's oldest live event that may be archived was recorded before cutoff."""
    first = s.execute(
        select(E.c.at).where(E.c.hall_id == hall_id, E.c.seq <= limit).order_by(E.c.seq).limit(1)
    ).first()
    return first is not None and _naive_utc(first.at) < cutoff.replace(tzinfo=None)


def _archive_batch(s: Session, hall_id: str, cutoff: datetime, limit: int, now: datetime) -> tuple[int, bool]:
    """Archive up to EVENT_ARCHIVE_BATCH old events of one stream; (how many, whether more may follow)."""
    rows = s.execute(
        select(E.c.seq, E.c.type, E.c.at, E.c.actor_kind, E.c.actor_id, E.c.payload, E.c.prev_hash, E.c.hash)
        .where(E.c.hall_id == hall_id, E.c.seq <= limit)
        .order_by(E.c.seq)
        .limit(EVENT_ARCHIVE_BATCH)
    ).all()
    naive_cutoff = cutoff.replace(tzinfo=None)
    take = []
    for r in rows:
        if _naive_utc(r.at) >= naive_cutoff or (take and r.seq != take[-1].seq + 1):
            break
        take.append(r)
    if not take:
        return 0, False
    for day, group in groupby(take, key=lambda r: _day_of(r.at)):
        block = list(group)
        s.execute(
            insert(X).values(
                hall_id=hall_id,
                first_seq=block[0].seq,
                last_seq=block[-1].seq,
                day=day,
                count=len(block),
                prev_hash=block[0].prev_hash,
                head_hash=block[-1].hash,
                body=_encode(block),
                archived_at=now,
            )
        )
    kept = [
        {"hall_id": hall_id, "seq": r.seq, "type": r.type, "at": r.at, "payload": r.payload}
        for r in take
        if r.type in REPORT_EVENT_TYPES
    ]
    if kept:
        s.execute(insert(R), kept)
    s.execute(delete(E).where(E.c.hall_id == hall_id, E.c.seq >= take[0].seq, E.c.seq <= take[-1].seq))
    return len(take), len(take) == len(rows) == EVENT_ARCHIVE_BATCH


def may_archive(db: Database) -> bool:
    """Whether the server's database role may move events to the archive (PostgreSQL's
    append-only app role may not: the owner runs the rule)."""
    if db.is_sqlite:
        return True
    with db.read() as s:
        return bool(s.execute(text("SELECT has_table_privilege('events', 'DELETE')")).scalar())


def retention_state(session: Session) -> dict[str, Any] | None:
    """The retention rule's last recorded outcome: {state, since} (None: never recorded)."""
    raw = session.execute(select(M.c.value).where(M.c.key == META_EVENT_RETENTION)).scalar()
    return json.loads(raw) if raw else None


def record_retention(db: Database, state: str, now: datetime) -> str | None:
    """Keep the rule's outcome where every process and the managers' alerts read it, writing only
    when it changed; the state recorded before (None: none)."""
    with db.read() as s:
        before = retention_state(s)
    previous = before["state"] if before else None
    if previous == state:
        return previous
    value = json.dumps({"state": state, "since": now.astimezone(UTC).isoformat()})
    with db.write() as s:
        s.execute(upsert_do_nothing(db.engine.dialect.name, M, {"key": META_EVENT_RETENTION, "value": value}))
        s.execute(update(M).where(M.c.key == META_EVENT_RETENTION).values(value=value))
    return previous
