"""Event retention: closed days of the event log move into `event_archive`, compressed, chain intact.

The live `events` table keeps the days within the retention period (Settings.event_retention_days;
0 keeps everything). Older days of every stream (halls, "<hall>@city", "audit:*") are written as
one archive row per stream and UTC day: zlib-compressed JSON lines holding every column the hash
chain covers, plus the hash the block links to and the hash of its last record. The audit verifier
reads archive blocks then live rows as one chain (audit._rows), so a pruned log still verifies from
its genesis; statistics come from tickets and rollups, which are not pruned. Replays asking for
pruned seqs are refused with events.pruned (410, WebSocket 4410), never answered with a gap.

At a station, nothing after the seq the parent acknowledged (sync_acks) is archived: those events
still have to go up.
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

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from hall_server import chain
from hall_server.const import EVENT_ARCHIVE_BATCH
from hall_server.db.engine import Database
from hall_server.db.models import Event, EventArchive, HallSeq, SyncAck
from hall_server.errors import HallError

logger = logging.getLogger(__name__)

E = Event.__table__
X = EventArchive.__table__
S = HallSeq.__table__
K = SyncAck.__table__


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
        limits = _limits(s, station)
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
        at = r.at.astimezone(UTC).replace(tzinfo=None) if r.at.tzinfo is not None else r.at
        if at >= naive_cutoff or (take and r.seq != take[-1].seq + 1):
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
    s.execute(delete(E).where(E.c.hall_id == hall_id, E.c.seq >= take[0].seq, E.c.seq <= take[-1].seq))
    return len(take), len(take) == len(rows) == EVENT_ARCHIVE_BATCH
