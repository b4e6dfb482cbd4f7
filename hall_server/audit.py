"""The audit trail (全过程留痕): security acts recorded, and the hash chain verified.

Where records go. Every state change of a hall is already an event of that hall (events.py).
Security acts (logins, token changes, reveals of a full ID number, document views, settings)
must not reach the hall's displays, so they are appended to the same events table under the
pseudo-hall "audit:<scope>" (scope = the hall, or "city" for acts of no hall): one table, one
seq counter per stream, one hash chain, one verifier, one database role that may only INSERT.
Nobody subscribes to those streams; managers read them through GET /audit/records.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall_server import chain, event_archive
from hall_server.const import AUDIT_CITY_SCOPE, AUDIT_STREAM_PREFIX, AUDIT_VERIFY_PAGE
from hall_server.db.engine import Database, Tx
from hall_server.db.models import AuditCheck, Event, HallSeq
from hall_server.db.upsert import upsert_returning
from hall_server.events import Actor, stage_event

logger = logging.getLogger(__name__)

E = Event.__table__
S = HallSeq.__table__
A = AuditCheck.__table__

# The client address of the request being served (set by the ASGI middleware in app.py);
# contextvars follow the request into the thread pool where use cases run.
client_address: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "hall_client_address", default=None
)


def stream_of(scope: str | None) -> str:
    """The pseudo-hall id of a scope's audit stream."""
    return AUDIT_STREAM_PREFIX + (scope or AUDIT_CITY_SCOPE)


def record(
    session: Session | Tx,
    type_: str,
    actor: Actor | dict[str, Any] | None,
    *,
    hall_id: str | None = None,
    source: str | None = None,
    **detail: Any,
) -> None:
    """Append a security act to its audit stream in the caller's transaction.

    The mechanism for every module (sessions.py records logins through it): type, who, from
    where (the client address unless `source` is given) and when, plus a small detail dict that
    must hold no secret and no full personal data.
    """
    payload = {"source": source if source is not None else client_address.get(), **detail}
    # Staged on the hot paths' transactions (written just before commit): the stream's seq row
    # is then locked for one statement, not for the whole use case (see events.stage_event).
    stage_event(session, stream_of(hall_id), type_, payload, actor)


@dataclass(frozen=True)
class Verdict:
    """The outcome of verifying one chain."""

    hall_id: str
    ok: bool
    checked: int
    last_seq: int
    head: str | None
    broken_seq: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def chains(session: Session) -> list[str]:
    """Every chained stream: the halls' event logs and the audit streams."""
    return [r[0] for r in session.execute(select(S.c.hall_id).order_by(S.c.hall_id))]


def _rows(session: Session, hall_id: str, after: int, upto: int) -> Iterator[Any]:
    # Archived days first (event_archive), then the live rows: one chain either way.
    for row in event_archive.archived_rows(session, hall_id, after, upto):
        yield row
        after = row.seq
    while True:
        page = session.execute(
            select(
                E.c.seq, E.c.type, E.c.at, E.c.actor_kind, E.c.actor_id, E.c.payload, E.c.prev_hash, E.c.hash
            )
            .where(E.c.hall_id == hall_id, E.c.seq > after, E.c.seq <= upto)
            .order_by(E.c.seq)
            .limit(AUDIT_VERIFY_PAGE)
        ).all()
        yield from page
        if len(page) < AUDIT_VERIFY_PAGE:
            return
        after = int(page[-1].seq)


def verify_chain(
    session: Session, hall_id: str, *, after: int | None = None, prev: str | None = None
) -> Verdict:
    """Walk a hall's chain from its genesis (or from a verified point) and report the first break."""
    head_row = session.execute(
        select(S.c.last_seq, S.c.last_hash, S.c.chain_start).where(S.c.hall_id == hall_id)
    ).first()
    if head_row is None:
        return Verdict(hall_id, True, 0, 0, None)
    last_seq, head, start = int(head_row.last_seq), head_row.last_hash, int(head_row.chain_start or 0)
    # From the genesis when nothing after chain_start was verified yet (also after a re-base).
    if after is None or after <= start:
        after, prev = start, chain.genesis(hall_id, start)
    assert prev is not None
    expected = after + 1
    checked = 0

    def broken(seq: int, problem: str) -> Verdict:
        logger.warning("audit chain of %s broken at seq %d: %s", hall_id, seq, problem)
        return Verdict(hall_id, False, checked, last_seq, head, seq, problem)

    # Only up to the head read above: records appended meanwhile are for the next pass.
    for row in _rows(session, hall_id, after, last_seq):
        seq = int(row.seq)
        if seq != expected:
            return broken(expected, f"deleted: records {expected}..{seq - 1} are missing")
        if row.hash is None or row.prev_hash is None or chain.algorithm_of(row.hash) is None:
            return broken(seq, "altered: record carries no chain hash")
        if row.prev_hash != prev:
            moved = session.execute(
                select(E.c.seq).where(E.c.hall_id == hall_id, E.c.hash == row.prev_hash)
            ).scalar()
            if moved is not None:
                return broken(seq, f"reordered: record links to seq {moved}, not to seq {seq - 1}")
            return broken(seq, "deleted: the record before it is missing or was replaced")
        alg = chain.algorithm_of(row.hash)
        digest = chain.record_hash(
            row.prev_hash, hall_id, seq, row.type, row.at, row.actor_kind, row.actor_id, row.payload, alg
        )
        if digest != row.hash:
            return broken(seq, "altered: the record's content does not match its hash")
        prev = row.hash
        expected += 1
        checked += 1
    if expected - 1 < last_seq:
        return broken(expected, f"deleted: records {expected}..{last_seq} are missing")
    if expected - 1 > start and head != prev:
        return broken(expected - 1, "altered: the chain head does not match the last record")
    return Verdict(hall_id, True, checked, last_seq, prev)


def verify_all(db: Database, hall_id: str | None = None) -> list[Verdict]:
    """Verify one chain, or every chain of the database, each in its own read transaction."""
    with db.read() as s:
        names = [hall_id] if hall_id else chains(s)
    out = []
    for name in names:
        with db.read(consistent=True) as s:
            out.append(verify_chain(s, name))
    return out


def periodic_verify(db: Database, *, full: bool = False) -> list[Verdict]:
    """Verify every chain from its last good point (all of it if full) and store the state."""
    with db.read() as s:
        names = chains(s)
        state = {r.hall_id: r for r in s.execute(select(A))}
    out = []
    for name in names:
        prior = state.get(name)
        with db.read(consistent=True) as s:
            if not full and prior is not None and prior.ok and prior.verified_hash:
                verdict = verify_chain(s, name, after=int(prior.verified_seq), prev=prior.verified_hash)
            else:
                verdict = verify_chain(s, name)
        with db.write() as s:
            values = {
                "hall_id": name,
                "checked_at": datetime.now(UTC),
                "ok": verdict.ok,
                "verified_seq": verdict.last_seq if verdict.ok else (verdict.broken_seq or 1) - 1,
                "verified_hash": verdict.head if verdict.ok else None,
                "broken_seq": verdict.broken_seq,
                "problem": verdict.problem,
            }
            s.execute(
                upsert_returning(
                    s,
                    A,
                    values,
                    index_elements=["hall_id"],
                    set_={k: v for k, v in values.items() if k != "hall_id"},
                    returning=A.c.hall_id,
                )
            )
        out.append(verdict)
    return out


def check_states(session: Session) -> list[dict[str, Any]]:
    """The stored verification state of every chain, for the dashboard."""
    rows = session.execute(select(A).order_by(A.c.hall_id)).all()
    return [
        {
            "hall_id": r.hall_id,
            "checked_at": (
                r.checked_at if r.checked_at.tzinfo else r.checked_at.replace(tzinfo=UTC)
            ).isoformat(),
            "ok": bool(r.ok),
            "verified_seq": int(r.verified_seq),
            "broken_seq": r.broken_seq,
            "problem": r.problem,
        }
        for r in rows
    ]
