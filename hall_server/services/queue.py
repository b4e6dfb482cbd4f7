"""Read helpers for the queue: waiting candidates, positions and wait estimates."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Connection, bindparam, false, literal_column, or_, select, true, union_all
from sqlalchemy.orm import Session

from hall_server.catalog import HallConfig
from hall_server.const import RECENT_SERVICE_SAMPLE
from hall_server.db.engine import Tx
from hall_server.db.models import QueueGroup, Ticket, WaitingCount, Window
from hall_server.db.prepared import Prepared
from queueing.estimate import effective_windows, estimate_wait_minutes
from queueing.model import HallPolicy
from queueing.policy import Candidate, expected_order

# Wait estimates may lag this much behind finished tickets and window changes.
ESTIMATE_TTL_S = 5.0
# Calling policies for which the head of each (group, class, binding) is all choose_next needs.
HEAD_POLICIES = frozenset({"default", "fifo"})

logger = logging.getLogger(__name__)

T = Ticket.__table__
WC = WaitingCount.__table__
W = Window.__table__

_CAND_COLS = (T.c.id, T.c.group_prefix, T.c.priority, T.c.appointment_id, T.c.bound_window_id)


def to_candidate(row: Any, hall_id: str) -> Candidate:
    """A ticket row as the calling policy sees it (issued order = the hall-wide insert order)."""
    return Candidate(
        ticket_id=row.id,
        group=row.group_prefix,
        issued_order=row.id,
        priority=bool(row.priority),
        appointment=row.appointment_id is not None,
        bound_window_id=row.bound_window_id,
        hall_id=hall_id,
    )


def waiting_candidates(
    session: Session,
    hall_id: str,
    day: date,
    *,
    groups: list[str] | None = None,
    window_id: int | None = None,
) -> list[Candidate]:
    """Today's waiting tickets of a hall, optionally only those a window could call."""
    stmt = select(*_CAND_COLS).where(T.c.hall_id == hall_id, T.c.status == "waiting", T.c.business_day == day)
    if groups is not None:
        cond = T.c.group_prefix.in_(groups)
        if window_id is not None:
            cond = or_(cond, T.c.bound_window_id == window_id)
        stmt = stmt.where(cond)
    return [to_candidate(r, hall_id) for r in session.execute(stmt).all()]


_APPOINTED = T.c.appointment_id.is_not(None)
G = QueueGroup.__table__
_QUEUE_KEY = (
    T.c.hall_id,
    T.c.business_day,
    T.c.group_prefix,
    T.c.status,
    T.c.priority,
    T.c.bound_window_id,
    T.c.appointment_id,
    T.c.id,
)
_CAND_OUT = (T.c.id, T.c.group_prefix, T.c.priority, _APPOINTED.label("appointed"), T.c.bound_window_id)


def _waiting_today() -> tuple[Any, ...]:
    return (
        T.c.hall_id == bindparam("hall_id"),
        T.c.business_day == bindparam("day"),
        T.c.status == "waiting",
    )


def _class_head(group_param: str, priority: bool, appointed: bool) -> Any:
    """The first `depth` unbound waiting tickets of one (group, priority) class without bookings.

    With appointed=True: every waiting appointment holder of the class (a few per day), since
    the index orders those by appointment before id.

    Every condition is an equality on ix_tickets_queue, whose entries then run in id order: a
    seek and a few steps however long the queue is (the aggregate over the whole queue it
    replaces grew with every waiting ticket). The ORDER BY is the index's whole key (all but
    id fixed by the WHERE): an order only that index gives without sorting, so PostgreSQL uses
    it whatever its statistics say (a table that grew faster than autovacuum analyses it).
    """
    stmt = (
        select(*_CAND_OUT)
        .where(
            *_waiting_today(),
            T.c.group_prefix == bindparam(group_param),
            T.c.priority == (true() if priority else false()),
            T.c.bound_window_id.is_(None),
            _APPOINTED if appointed else T.c.appointment_id.is_(None),
        )
        .order_by(*_QUEUE_KEY)
    )
    if not appointed:
        stmt = stmt.limit(bindparam("depth"))
    inner = stmt.subquery()
    return select(*inner.c)


def _bound_heads(postgres: bool) -> Any:
    """The first `depth` waiting tickets transferred to this window (they go before any class).

    PostgreSQL: written to match the partial index ix_tickets_bound_waiting (the status as a
    literal, since a bound parameter could not prove the index's condition); through the queue
    index it walked every waiting and dead entry of the day. SQLite has no dead entries and no
    such index: the hall's groups and both priorities are listed so the queue index is
    searched, not scanned (groups are never deleted, so the list covers every ticket's group).
    """
    if postgres:
        where = (
            T.c.bound_window_id == bindparam("window_id"),
            T.c.business_day == bindparam("day"),
            T.c.status == literal_column("'waiting'"),
            T.c.hall_id == bindparam("hall_id"),
        )
    else:
        where = (
            *_waiting_today(),
            T.c.group_prefix.in_(select(G.c.prefix).where(G.c.hall_id == bindparam("hall_id"))),
            T.c.priority.in_([false(), true()]),
            T.c.bound_window_id == bindparam("window_id"),
        )
    inner = select(*_CAND_OUT).where(*where).order_by(T.c.id).limit(bindparam("depth")).subquery()
    return select(*inner.c)


_HEADS: dict[tuple[int, bool], Prepared] = {}


def _heads_statement(n_groups: int, postgres: bool) -> Prepared:
    """One UNION ALL of the class heads of a window serving n_groups groups (built once per n)."""
    stmt = _HEADS.get((n_groups, postgres))
    if stmt is None:
        parts = [
            _class_head(f"g{i}", priority, appointed)
            for i in range(n_groups)
            for priority in (False, True)
            for appointed in (False, True)
        ]
        stmt = Prepared(union_all(*parts, _bound_heads(postgres)))
        _HEADS[(n_groups, postgres)] = stmt
    return stmt


def class_of(c: Candidate) -> tuple[str, bool, bool, int | None]:
    """The (group, priority, appointment, binding) class of a candidate."""
    return (c.group, c.priority, c.appointment, c.bound_window_id)


def _connection(session: Session | Tx | Connection) -> Connection:
    return session if isinstance(session, Connection) else session.connection()


def head_candidates(
    session: Session | Tx | Connection,
    hall_id: str,
    day: date,
    groups: list[str],
    window_id: int,
    skip: Iterable[int] = (),
    depth: int = 1,
) -> list[Candidate]:
    """The earliest `depth` waiting tickets of each (group, priority, appointment, binding) class.

    The built-in calling policies choose by class and then by arrival, so these heads give the
    same choice as the whole queue, in one query instead of loading every ticket. A depth above
    one lets call-next pass over tickets other windows are claiming without asking again.
    """
    groups = list(dict.fromkeys(groups))
    skipped = set(skip)
    # Skipped tickets are dropped here; each class loads that many more so none runs short.
    params: dict[str, Any] = {
        "depth": max(1, depth) + len(skipped),
        "hall_id": hall_id,
        "day": day,
        "window_id": window_id,
    }
    params.update({f"g{i}": g for i, g in enumerate(groups)})
    conn = _connection(session)
    rows = _heads_statement(len(groups), conn.dialect.name == "postgresql").all(conn, params)
    return [
        Candidate(
            ticket_id=r.id,
            group=r.group_prefix,
            issued_order=r.id,
            priority=bool(r.priority),
            appointment=bool(r.appointed),
            bound_window_id=r.bound_window_id,
            hall_id=hall_id,
        )
        for r in rows
        if r.id not in skipped
    ]


# The four class figures of a group: at most four rows by primary key, whatever the queue length.
_WAITING_COUNTS = Prepared(
    select(WC.c.priority, WC.c.appointed, WC.c.n).where(
        WC.c.hall_id == bindparam("hall_id"),
        WC.c.business_day == bindparam("day"),
        WC.c.group_prefix == bindparam("group"),
    )
)


def group_counts(
    session: Session | Tx | Connection, hall_id: str, day: date, group: str
) -> dict[tuple[bool, bool], int]:
    """The group's waiting counts per class (priority, appointed)."""
    conn = _connection(session)
    return {
        (bool(priority), bool(appointed)): int(n)
        for priority, appointed, n in _WAITING_COUNTS.all(
            conn, {"hall_id": hall_id, "day": day, "group": group}
        )
    }


def new_ticket_ahead(row: Any, policy: HallPolicy, before: dict[tuple[bool, bool], int] | None) -> int | None:
    """People ahead of a just-issued ticket from its group's waiting counts, or None if the policy needs the queue.

    `before` are the group's counts (group_counts) read in the issue's transaction before the
    ticket went in: on PostgreSQL the triggers that keep them (migrations 0024, 0032) fold a
    transaction's own changes in at its commit, so a read after the insert would not count the
    new ticket there and would on SQLite. Every unbound waiting ticket they count was issued
    before it. Mirrors queueing.policy.DefaultCallingPolicy.group_order for the newest arrival
    (a test keeps the two in step): within its class (green or normal) it comes after everyone
    (after every appointment holder when it holds one itself and appointments go first), and
    the classes interleave as the hall's green mode says.
    """
    if policy.calling_policy != "default" or row.bound_window_id is not None or before is None:
        return None
    return ahead_from_counts(before, bool(row.priority), row.appointment_id is not None, policy)


def ahead_from_counts(
    counts: dict[tuple[bool, bool], int], priority: bool, appointment: bool, policy: HallPolicy
) -> int:
    """Position of the newest ticket of class (priority, appointment) given earlier counts per class."""
    same = counts.get((priority, True), 0) + counts.get((priority, False), 0)
    k = counts.get((priority, True), 0) if (appointment and policy.appointment_first) else same
    other = counts.get((not priority, True), 0) + counts.get((not priority, False), 0)
    if policy.green_mode == "absolute":
        return k + (0 if priority else other)
    p, n = policy.green_ratio
    if priority:
        return k + min(other, (k // p) * n)
    return k + min(other, (k // n + 1) * p)


class EstimateCache:
    """Recent service durations and serving windows per (hall, group), refreshed every few seconds."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, date, str], tuple[float, list[float], float]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, hall_id: str, day: date, group: str) -> tuple[list[float], float]:
        """(recent service seconds, open windows serving the group)."""
        key = (hall_id, day, group)
        hit = self._data.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < ESTIMATE_TTL_S:
            return hit[1], hit[2]
        recent = recent_service_seconds(session, hall_id, day, group)
        windows = serving_windows(session, hall_id).get(group, 0)
        with self._lock:
            self._data[key] = (now, recent, windows)
        return recent, windows

    def clear(self) -> None:
        """Forget everything (tests, configuration changes)."""
        with self._lock:
            self._data.clear()


def recent_service_seconds(session: Session, hall_id: str, day: date, group: str) -> list[float]:
    """Durations (start to finish) of the group's latest finished tickets today, oldest first."""
    rows = session.execute(
        select(T.c.started_at, T.c.finished_at)
        .where(
            T.c.hall_id == hall_id,
            T.c.business_day == day,
            T.c.group_prefix == group,
            T.c.status == "finished",
        )
        .order_by(T.c.id.desc())
        .limit(RECENT_SERVICE_SAMPLE)
    ).all()
    out = [(r.finished_at - r.started_at).total_seconds() for r in rows if r.started_at and r.finished_at]
    out.reverse()
    return out


def serving_windows(session: Session, hall_id: str) -> dict[str, float]:
    """Open windows' capacity per group of a hall (a shared window counts by its weight share)."""
    weights = [
        dict(groups or {})
        for groups, status in session.execute(
            select(W.c.groups, W.c.status).where(W.c.hall_id == hall_id)
        ).all()
        if status == "open"
    ]
    prefixes = {p for w in weights for p in w}
    return {p: effective_windows(p, weights) for p in prefixes}


class QueueEstimator:
    """Positions and wait estimates for many tickets of one hall from one set of reads."""

    def __init__(
        self, session: Session, hall: HallConfig, day: date, cache: EstimateCache | None = None
    ) -> None:
        self.session = session
        self.hall = hall
        self.day = day
        self.cache = cache
        self.candidates = waiting_candidates(session, hall.id, day)
        self._orders: dict[str, dict[int, int]] = {}
        self._seqs: dict[str, list[Candidate]] = {}
        self._recent: dict[str, list[float]] = {}
        self._windows: dict[str, float] | None = None

    def people_ahead(self, ticket_id: int, group: str, bound_window_id: int | None) -> int:
        """Waiting tickets expected before this one."""
        if bound_window_id is not None:
            return sum(
                1 for c in self.candidates if c.bound_window_id == bound_window_id and c.ticket_id < ticket_id
            )
        order = self._orders.get(group)
        if order is None:
            order = {c.ticket_id: i for i, c in enumerate(self._order_of(group))}
            self._orders[group] = order
        return order.get(ticket_id, 0)

    def head_of(self, group: str) -> Candidate | None:
        """The unbound waiting ticket of a group the calling policy takes first, or None."""
        seq = self._order_of(group)
        return seq[0] if seq else None

    def _order_of(self, group: str) -> list[Candidate]:
        seq = self._seqs.get(group)
        if seq is None:
            seq = self._seqs[group] = expected_order(self.candidates, group, self.hall.policy)
        return seq

    def waiting_in(self, group: str) -> int:
        """Unbound waiting tickets of a group."""
        return sum(1 for c in self.candidates if c.group == group and c.bound_window_id is None)

    def wait_minutes(self, group: str, ahead: int) -> int:
        """Estimated minutes for someone with `ahead` people before them in group."""
        if ahead <= 0:
            return 0
        if self.cache is not None:
            recent, windows = self.cache.get(self.session, self.hall.id, self.day, group)
            return estimate_wait_minutes(ahead, recent, windows)
        if self._windows is None:
            self._windows = serving_windows(self.session, self.hall.id)
        recent = self._recent.get(group)
        if recent is None:
            recent = recent_service_seconds(self.session, self.hall.id, self.day, group)
            self._recent[group] = recent
        return estimate_wait_minutes(ahead, recent, self._windows.get(group, 0))

    def position(self, row: Any) -> tuple[int | None, int | None]:
        """(people_ahead, estimated_wait_minutes) of a ticket row; (None, None) unless waiting today."""
        if row.status != "waiting" or row.business_day != self.day:
            return None, None
        ahead = self.people_ahead(row.id, row.group_prefix, row.bound_window_id)
        return ahead, self.wait_minutes(row.group_prefix, ahead)
