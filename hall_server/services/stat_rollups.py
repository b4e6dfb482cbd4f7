"""Statistics rollups: every figure per hall, business day and key, rebuilt by a pass over the dirty log.

How each figure is kept, and why:
- All figures (counts, time sums, rating levels, case steps, tickets per hour, and the sorted
  whole-second waits and service times behind the percentiles) are rebuilt together per
  hall-day by one pass over `stat_dirty`, never adjusted in the transaction that changes a
  ticket. A ticket's figures move many times after it is issued (called, transferred, finished,
  rated days later, its case stepped for weeks, closed unserved at the end of the day), and
  several writers change the facts: the use cases, dayend, a station's rows applied set-wise
  at the city (sync/parent.py) and bulk loads. Triggers (migration 0016) log the hall-day of
  every change of tickets, ratings and follow-up cases, whoever makes it; the pass recomputes
  those hall-days from the raw rows with the same arithmetic as the raw path, so a late
  correction is right by construction and no writer needs to know about statistics.
- The dirty log is the durable watermark: the pass deletes the entries it claims and writes
  the rebuilt rows in one transaction. A crash rolls both back (the entries stay, the next pass
  redoes them); a rebuild of an unchanged hall-day writes the same rows (idempotent). On
  PostgreSQL the claim is one DELETE ... RETURNING, so an entry committed after it stays for
  the next pass, and a transaction-scoped advisory lock keeps two passes from rebuilding the
  same hall-day at once; SQLite has one writer.
- Percentiles need every value, so each row keeps its waits and service times, as a histogram of
  whole seconds: (value delta, count) pairs of uint16, one per distinct second (`pack_histograms`).
  A row's size is bounded by the spread of its waits, not by its tickets, and a read adds
  histograms instead of merging millions of values. "Above target" is counted at read time
  against the hall's current target, as the raw path does.
- The statistics use cases run the pass before they read, so figures are current to the request
  (the pass is a cheap empty check when nothing changed); the worker runs it too, so the log
  stays short when nobody asks.
- A breakdown by day cannot use month or year rows, and a hall's day has ~150 tickets with nearly
  all-distinct waits, so a city-year by day read 12,400 hall-day rows and ~3.5 M histogram pairs.
  Every hall with halls below it therefore also keeps subtree day rows (dim "t:all"): one row per
  day summing its whole subtree's hall-day "all" rows, keyed by a signature of the subtree's
  members, plus a marker row (dim "t:") saying which membership they were built for. The pass
  rebuilds the subtree days of every dirty hall-day's ancestors, and all of a subtree's rows when
  its membership changed. A by-day read of exactly one subtree (a manager's own area, the common
  case) whose marker matches today's membership and whose halls share one waiting target reads
  them; anything else (a hand-picked set of halls, mixed targets, a reorganised tree the pass has
  not seen yet) reads the hall-day rows as before, so the answer is the same either way.
- Visits (最多跑一次, matters) and appointments are not rolled up: they are read per request.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from hall_server.const import STAT_ROLLUP_DAYS_PER_STEP, STAT_ROLLUP_LOCK
from hall_server.db.engine import Database
from hall_server.db.models import Hall, StatDirty, StatRollup, Ticket
from hall_server.lazy import lazy_module
from hall_server.services import stats_facts
from hall_server.services.stats_facts import N_COUNTS, N_COUNTS_HOURS, Facts, Grouped

logger = logging.getLogger(__name__)

np = lazy_module("numpy")  # loads with the first statistics request or pass, not at start-up

T = Ticket.__table__
SR = StatRollup.__table__
# Grouping -> the dim of stat_rollups that answers it ("hall" and "day" read the hall-day totals).
DIM_OF = {None: "all", "hall": "all", "day": "all", "hour": "hour", "service": "service", "group": "group",
          "window": "window", "clerk": "clerk"}  # fmt: skip
DIMS = ("all", "hour", "service", "group", "window", "clerk")
# A month row (dim "m:<dim>", business_day the month's first day) sums the month's day rows, and a
# year row (dim "y:<dim>", business_day 1 January) the year's month rows, so a calendar year is one
# row per hall and key; a period's other whole months read month rows, its partial months day rows.
MONTH = "m:"
MONTH_DIMS = tuple(MONTH + d for d in DIMS)
YEAR = "y:"
YEAR_DIMS = tuple(YEAR + d for d in DIMS)
# Subtree day rows: dim TREE_ALL, hall_id the subtree's root, key the members' signature; one
# marker row per root (dim TREE, business_day TREE_MARK_DAY, key the signature) tells which
# membership the root's rows were built for.
TREE = "t:"
TREE_ALL = TREE + "all"
TREE_MARK_DAY = date(2000, 1, 1)
TREE_DAYS_PER_STEP = 64
# For the pass's transaction on PostgreSQL: a step reads 16 days of tickets with their ratings and
# cases. The planner hashed the whole ratings table for every step (1.1 M rows a step at a city-year,
# 11 M at ten years: the first pass grew with the square of the history); index look-ups per ticket
# read only the step's own (EXPLAIN ANALYZE at 2 M: 1.95 s -> 1.05 s a step, of which JIT compiling
# the plan was 0.43 s, a step's plan being cheap to interpret).
PASS_PLANNER = ("enable_hashjoin = off", "enable_mergejoin = off", "jit = off")
I4 = "<i4"  # int32, little-endian (a dtype spec: numpy loads at first use)
U2 = "<u2"  # a histogram pair's delta and count
U2_MAX = 0xFFFF


def catch_up(db: Database) -> int:
    """Roll up whatever changed since the last pass; the number of hall-days rebuilt."""
    with db.read() as s:
        if s.scalar(select(StatDirty.id).limit(1)) is None:
            return 0
    with db.write() as s:
        return refresh(s)


def refresh(session: Session) -> int:
    """Claim the dirty log and rebuild the hall-days it names (in the caller's transaction)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": STAT_ROLLUP_LOCK})
        for setting in PASS_PLANNER:
            session.execute(text(f"SET LOCAL {setting}"))
    claimed = session.execute(
        delete(StatDirty.__table__).returning(StatDirty.hall_id, StatDirty.business_day)
    ).all()
    if not claimed:
        return 0
    pairs = {(h, _as_date(d)) for h, d in claimed}
    zones = dict(
        session.execute(select(Hall.id, Hall.timezone).where(Hall.id.in_({h for h, _ in pairs}))).all()
    )
    by_zone: dict[str, dict[date, set[str]]] = defaultdict(lambda: defaultdict(set))
    for h, d in pairs:
        by_zone[zones.get(h) or "Asia/Shanghai"][d].add(h)
    for zone, days in by_zone.items():
        ordered = sorted(days)
        for i in range(0, len(ordered), STAT_ROLLUP_DAYS_PER_STEP):
            step = ordered[i : i + STAT_ROLLUP_DAYS_PER_STEP]
            halls = sorted(set().union(*(days[d] for d in step)))
            _rebuild(session, zone, halls, step)
    by_month: dict[date, set[str]] = defaultdict(set)
    for h, d in pairs:
        by_month[d.replace(day=1)].add(h)
    for month, halls_of_month in sorted(by_month.items()):
        _rebuild_sum(session, sorted(halls_of_month), month, _month_end(month), "", MONTH)
    by_year: dict[date, set[str]] = defaultdict(set)
    for h, d in pairs:
        by_year[date(d.year, 1, 1)].add(h)
    for year, halls_of_year in sorted(by_year.items()):
        _rebuild_sum(session, sorted(halls_of_year), year, date(year.year, 12, 31), MONTH, YEAR)
    _rebuild_subtrees(session, pairs)
    logger.info("rolled up %d hall-days", len(pairs))
    return len(pairs)


def _month_end(month: date) -> date:
    nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _rebuild_sum(session: Session, halls: list[str], first: date, last: date, src: str, dst: str) -> None:
    """Replace the rows of halls at `first` with grain `dst` by the sums of their `src` rows first..last.

    Month rows sum day rows (src ""), year rows sum month rows (src "m:"): counters added, histograms merged.
    """
    session.execute(
        delete(SR).where(
            SR.c.hall_id.in_(halls), SR.c.business_day == first, SR.c.dim.in_([dst + d for d in DIMS])
        )
    )
    rows = stats_facts.fetch_raw(
        session,
        select(SR.c.hall_id, SR.c.dim, SR.c.key, SR.c.counts, SR.c.waits, SR.c.serves).where(
            SR.c.hall_id.in_(halls),
            SR.c.business_day >= first,
            SR.c.business_day <= last,
            SR.c.dim.in_([src + d for d in DIMS]),
        ),
        binary=True,
    )
    by_dim: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_dim[row[1][len(src) :]].append(row)
    out: list[Row] = []
    for dim, items in by_dim.items():
        hall_ids, _dims, keys, counts, waits, serves = zip(*items, strict=True)
        width = N_COUNTS_HOURS if dim == "all" else N_COUNTS
        summed = _sum(list(zip(hall_ids, keys, strict=True)), counts, waits, serves, width)
        out += [(dst + dim, hall_id, first, key, c, w, v) for (hall_id, key), c, w, v in summed]
    _insert(session, out)


def _sum(
    labels_of_rows: Sequence[Any],
    counts: Sequence[bytes],
    waits: Sequence[bytes],
    serves: Sequence[bytes],
    width: int,
) -> list[tuple[Any, bytes, bytes, bytes]]:
    """Rows with equal labels added up: (label, counts, waits, serves), counters summed and histograms merged."""
    part, labels = stats_facts.encode(labels_of_rows)
    part = part.astype(np.int64)
    k = len(labels)
    mat = np.frombuffer(b"".join(counts), dtype=I4).reshape(len(counts), width).astype(np.int64)
    summed = np.zeros((k, width), dtype=np.int64)
    np.add.at(summed, part, mat)
    wv, ww, wsizes = unpack_histograms(waits)
    sv, sw, ssizes = unpack_histograms(serves)
    merged_waits = pack_histograms(np.repeat(part, wsizes), wv, ww, k)
    merged_serves = pack_histograms(np.repeat(part, ssizes), sv, sw, k)
    return [
        (label, c.astype(I4).tobytes(), w, v)
        for label, c, w, v in zip(labels, summed, merged_waits, merged_serves, strict=True)
    ]


def subtrees(session: Session) -> dict[str, tuple[str, ...]]:
    """Every hall with halls below it -> the ids of its subtree (itself and all below), sorted."""
    parents = dict(session.execute(select(Hall.id, Hall.parent_id)).all())
    children: dict[str, list[str]] = defaultdict(list)
    for hall_id, parent in parents.items():
        if parent is not None and parent in parents:
            children[parent].append(hall_id)
    out: dict[str, tuple[str, ...]] = {}
    for root in children:
        seen = {root}
        stack = [root]
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in seen:  # a cycle would be refused by the catalog; never loop on one
                    seen.add(child)
                    stack.append(child)
        out[root] = tuple(sorted(seen))
    return out


def signature(members: Sequence[str]) -> str:
    """A short fingerprint of a subtree's members (sorted ids): the key of its day rows."""
    return hashlib.sha1("\n".join(sorted(members)).encode()).hexdigest()[:16]


def _rebuild_subtrees(session: Session, pairs: set[tuple[str, date]]) -> None:
    """Bring every subtree's day rows up to date: the dirty days, or all days of a changed subtree."""
    trees = subtrees(session)
    marks = dict(session.execute(select(SR.c.hall_id, SR.c.key).where(SR.c.dim == TREE)).all())
    sigs = {root: signature(members) for root, members in trees.items()}
    stale = [h for h, key in marks.items() if sigs.get(h) != key]
    if stale:  # no longer a subtree, or its members changed: rebuilt whole below
        session.execute(delete(SR).where(SR.c.hall_id.in_(stale), SR.c.dim.in_([TREE, TREE_ALL])))
    dirty: dict[str, set[date]] = defaultdict(set)
    for hall_id, day in pairs:
        dirty[hall_id].add(day)
    for root, members in sorted(trees.items()):
        if marks.get(root) == sigs[root]:
            days = set().union(*(dirty.get(h, set()) for h in members))
        else:
            days = {
                _as_date(d)
                for d in session.scalars(
                    select(SR.c.business_day).where(SR.c.dim == "all", SR.c.hall_id.in_(members)).distinct()
                )
            }
            _insert(session, [(TREE, root, TREE_MARK_DAY, sigs[root], b"", b"", b"")])
        ordered = sorted(days)
        for i in range(0, len(ordered), TREE_DAYS_PER_STEP):
            _rebuild_tree_days(session, root, sigs[root], members, ordered[i : i + TREE_DAYS_PER_STEP])


def _rebuild_tree_days(
    session: Session, root: str, sig: str, members: Sequence[str], days: list[date]
) -> None:
    """Replace the subtree day rows of root on days by the sums of its members' hall-day rows."""
    session.execute(delete(SR).where(SR.c.hall_id == root, SR.c.dim == TREE_ALL, SR.c.business_day.in_(days)))
    rows = stats_facts.fetch_raw(
        session,
        select(SR.c.business_day, SR.c.counts, SR.c.waits, SR.c.serves).where(
            SR.c.dim == "all", SR.c.hall_id.in_(members), SR.c.business_day.in_(days)
        ),
        binary=True,
    )
    if not rows:
        return
    day_of, counts, waits, serves = zip(*rows, strict=True)
    summed = _sum([_as_date(d) for d in day_of], counts, waits, serves, N_COUNTS_HOURS)
    _insert(session, [(TREE_ALL, root, day, sig, c, w, v) for day, c, w, v in summed])


def tree_of(session: Session, hall_ids: Sequence[str]) -> tuple[str, str] | None:
    """(root, signature) when hall_ids are exactly one subtree whose day rows are built for its members."""
    asked = set(hall_ids)
    if len(asked) < 2:
        return None
    for root, members in subtrees(session).items():
        if root in asked and len(members) == len(asked) and asked.issuperset(members):
            sig = signature(members)
            mark = session.scalar(select(SR.c.key).where(SR.c.dim == TREE, SR.c.hall_id == root))
            return (root, sig) if mark == sig else None
    return None


def pack_histograms(g: np.ndarray, values: np.ndarray, weights: np.ndarray, k: int) -> list[bytes]:
    """Per group 0..k-1: its whole-second values as uint16 (delta from the previous value, count) pairs.

    A gap over 65,535 s is bridged by (65535, 0) pairs and a count over 65,535 split into pairs
    with delta 0: both add nothing to any count, so every row keeps four bytes per distinct second.
    """
    keep = weights > 0
    g, v, w = g[keep].astype(np.int64), values[keep].astype(np.int64), weights[keep].astype(np.int64)
    if v.size == 0:
        return [b""] * k
    order = np.lexsort((v, g))
    g, v, w = g[order], v[order], w[order]
    starts = np.flatnonzero(np.concatenate(([True], (g[1:] != g[:-1]) | (v[1:] != v[:-1]))))
    c = np.add.reduceat(w, starts)
    g, v = g[starts], v[starts]
    first = np.concatenate(([True], g[1:] != g[:-1]))
    d = np.where(first, v, v - np.concatenate(([0], v[:-1])))
    bridges = np.where(d > 0, (d - 1) // U2_MAX, 0)
    pieces = (c + U2_MAX - 1) // U2_MAX
    end = np.cumsum(bridges + pieces)
    start = end - bridges - pieces
    pairs = np.zeros((int(end[-1]), 2), dtype=np.int64)
    if bridges.any():
        within = np.arange(int(bridges.sum())) - np.repeat(np.cumsum(bridges) - bridges, bridges)
        pairs[np.repeat(start, bridges) + within, 0] = U2_MAX
    piece_first = np.cumsum(pieces) - pieces
    within = np.arange(int(pieces.sum())) - np.repeat(piece_first, pieces)
    at = np.repeat(start + bridges, pieces) + within
    pairs[at, 1] = U2_MAX
    pairs[at[piece_first + pieces - 1], 1] = c - U2_MAX * (pieces - 1)
    pairs[at[piece_first], 0] = d - U2_MAX * bridges
    bounds = np.concatenate(([0], end))
    lo = bounds[np.searchsorted(g, np.arange(k), side="left")].tolist()
    hi = bounds[np.searchsorted(g, np.arange(k), side="right")].tolist()
    packed = pairs.astype(U2).tobytes()
    return [packed[4 * a : 4 * b] for a, b in zip(lo, hi, strict=True)]


def unpack_histograms(blobs: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, count) of every pair of the blobs, and how many pairs each blob has.

    Bridge pairs (count 0) stay in: they weigh nothing in any count, and leaving them saves a copy
    of every array on the reads that matter.
    """
    sizes = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs)) // 4
    pairs = np.frombuffer(b"".join(blobs), dtype=U2).reshape(-1, 2)
    running = np.cumsum(pairs[:, 0], dtype=np.int64)
    before = np.concatenate(([0], running))[np.cumsum(sizes) - sizes]
    running -= np.repeat(before, sizes)
    return running, pairs[:, 1].astype(np.int64), sizes


def _as_date(v: Any) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v))


def _rebuild(session: Session, zone: str, halls: list[str], days: list[date]) -> None:
    """Replace the rollups of halls x days with ones computed from their tickets."""
    session.execute(
        delete(SR).where(SR.c.hall_id.in_(halls), SR.c.business_day.in_(days), SR.c.dim.in_(DIMS))
    )
    facts = stats_facts.load(
        session,
        [T.c.hall_id.in_(halls), T.c.business_day.in_(days)],
        stats_facts.hour_expr(session, T.c.issued_at, zone),
        stats_facts.whole_seconds(
            session, stats_facts.seconds_between(session, T.c.issued_at, T.c.called_at)
        ),
        stats_facts.whole_seconds(
            session, stats_facts.seconds_between(session, T.c.started_at, T.c.finished_at)
        ),
        {},
        0.0,
        ("day", "hour", "service", "group", "window", "clerk"),
    )
    if facts.n == 0:
        return
    _insert(session, [row for dim in DIMS for row in _rows(facts, dim)])


Row = tuple[
    str, str, date, str, bytes, bytes, bytes
]  # dim, hall_id, business_day, key, counts, waits, serves


def _insert(session: Session, rows: list[Row]) -> None:
    """Insert rollup rows on the session's connection with the driver's executemany (no per-value processing)."""
    if not rows:
        return
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    names = ("dim", "hall_id", "business_day", "key", "counts", "waits", "serves")
    sql = f"INSERT INTO stat_rollups ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"
    # SQLite keeps a Date as its ISO text (SQLAlchemy's storage format); psycopg adapts date itself.
    params: list[Any] = rows
    if sqlite:
        iso: dict[date, str] = {}
        params = [
            (dim, h, iso.get(d) or iso.setdefault(d, d.isoformat()), k, c, w, v)
            for dim, h, d, k, c, w, v in rows
        ]
    for i in range(0, len(params), 10_000):
        conn.exec_driver_sql(sql, params[i : i + 10_000])


def _key_text(dim: str, label: Any) -> str:
    if dim == "all" or label is None:
        return ""
    return str(label)


def _key_value(dim: str, key: str) -> Any:
    if dim in ("window", "clerk"):
        return int(key) if key else None
    if dim == "hour":
        return int(key)
    return key


def _rows(f: Facts, dim: str) -> list[Row]:
    """The rollup rows of one dim: one per hall, day and key present in the facts."""
    hc, hall_labels = f.keys["hall"]
    dc, day_labels = f.keys["day"]
    kc, key_labels = (np.zeros(f.n, dtype=np.int32), [""]) if dim == "all" else f.keys[dim]
    nd, nk = len(day_labels), len(key_labels)
    composite = (hc.astype(np.int64) * nd + dc) * nk + kc
    uniq, g = np.unique(composite, return_inverse=True)
    g = g.astype(np.int64).ravel()
    hours = None
    if dim == "all":
        hcodes, hlabels = f.keys["hour"]
        hours = np.array(hlabels, dtype=np.int64)[hcodes]
    counts = stats_facts.tally(f, g, len(uniq), hours)
    ones = np.ones(f.n, dtype=np.int64)
    waits = pack_histograms(g, f.wait, np.where(f.wait >= 0, ones, 0), len(uniq))
    serves = pack_histograms(g, f.serve, np.where(f.serve >= 0, ones, 0), len(uniq))
    packed = counts.astype(I4)
    days = [_as_date(d) for d in day_labels]
    keys = [_key_text(dim, k) for k in key_labels]
    return [
        (dim, hall_labels[h], days[d], keys[k], c, w, v)
        for h, d, k, c, w, v in zip(
            (uniq // (nk * nd)).tolist(),
            ((uniq // nk) % nd).tolist(),
            (uniq % nk).tolist(),
            [row.tobytes() for row in packed],
            waits,
            serves,
            strict=True,
        )
    ]


def _months_and_days(day_from: date, day_to: date) -> tuple[list[date], list[tuple[date, date]]]:
    """The whole months inside the period, and the day ranges before and after them."""
    first = day_from if day_from.day == 1 else _month_end(day_from) + timedelta(days=1)
    months = []
    m = first
    while _month_end(m) <= day_to:
        months.append(m)
        m = _month_end(m) + timedelta(days=1)
    if not months:
        return [], [(day_from, day_to)]
    spans = []
    if day_from < months[0]:
        spans.append((day_from, months[0] - timedelta(days=1)))
    after = _month_end(months[-1]) + timedelta(days=1)
    if after <= day_to:
        spans.append((after, day_to))
    return months, spans


def _periods(day_from: date, day_to: date) -> tuple[list[date], list[date], list[tuple[date, date]]]:
    """The whole calendar years inside the period, the other whole months, and the remaining day ranges."""
    years = [
        date(y, 1, 1)
        for y in range(day_from.year, day_to.year + 1)
        if date(y, 1, 1) >= day_from and date(y, 12, 31) <= day_to
    ]
    rest = [(day_from, day_to)]
    if years:
        rest = []
        if day_from < years[0]:
            rest.append((day_from, years[0] - timedelta(days=1)))
        if date(years[-1].year, 12, 31) < day_to:
            rest.append((date(years[-1].year + 1, 1, 1), day_to))
    months: list[date] = []
    spans: list[tuple[date, date]] = []
    for a, b in rest:
        m, sp = _months_and_days(a, b)
        months += m
        spans += sp
    return years, months, spans


def grouped(
    session: Session,
    hall_ids: tuple[str, ...],
    day_from: date,
    day_to: date,
    by: str | None,
    targets: dict[str, float],
    default_target: float,
) -> Grouped:
    """The scope's figures grouped by `by` (None: one group "all", with tickets per hour), from the rollups."""
    dim = DIM_OF[by]
    cols = (SR.c.hall_id, SR.c.business_day, SR.c.key, SR.c.counts, SR.c.waits, SR.c.serves)
    years, months, spans = ([], [], [(day_from, day_to)]) if by == "day" else _periods(day_from, day_to)

    def fetch(*where: Any) -> list[Any]:
        stmt = select(*cols).where(SR.c.hall_id.in_(hall_ids), *where)
        return stats_facts.fetch_raw(session, stmt, binary=True)

    rows: list[Any] = []
    # Above target is counted per wait against its hall's target: one subtree row per day mixes
    # halls, so it answers only when they share one target.
    tree = None
    if by == "day" and len({targets.get(h, default_target) for h in hall_ids}) == 1:
        tree = tree_of(session, hall_ids)
    if tree is not None:
        root, sig = tree
        targets = {root: targets.get(root, default_target)}
        rows = fetch(
            SR.c.dim == TREE_ALL,
            SR.c.hall_id == root,
            SR.c.key == sig,
            SR.c.business_day >= day_from,
            SR.c.business_day <= day_to,
        )
        spans = []
    if years:
        rows += fetch(SR.c.dim == YEAR + dim, SR.c.business_day.in_(years))
    if months:
        rows += fetch(SR.c.dim == MONTH + dim, SR.c.business_day.in_(months))
    for first, last in spans:
        rows += fetch(SR.c.dim == dim, SR.c.business_day >= first, SR.c.business_day <= last)
    n = len(rows)
    width = N_COUNTS_HOURS if dim == "all" else N_COUNTS
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Grouped(
            [], np.zeros((0, width), dtype=np.int64), empty, empty, empty, np.zeros(0), empty, empty, empty
        )
    halls, days, keys, counts, waits, serves = zip(*rows, strict=True)
    if by is None:
        g, labels = np.zeros(n, dtype=np.int64), ["all"]
    else:
        col = {"hall": halls, "day": days}.get(by, keys)
        codes, raw_labels = stats_facts.encode(col)
        g = codes.astype(np.int64)
        if by == "day":
            labels = [_as_date(v) for v in raw_labels]
        elif by == "hall":
            labels = list(raw_labels)
        else:
            labels = [_key_value(dim, v) for v in raw_labels]
    k = len(labels)
    mat = np.frombuffer(b"".join(counts), dtype=I4).reshape(n, width).astype(np.int64)
    if k == 1:
        summed = mat.sum(axis=0, keepdims=True)
    else:
        order = np.argsort(g, kind="stable")
        starts = np.searchsorted(g[order], np.arange(k))
        summed = np.add.reduceat(mat[order], starts, axis=0)
    hall_codes, hall_labels = stats_facts.encode(halls)
    per_hall = np.array([targets.get(h, default_target) for h in hall_labels], dtype=np.float64)
    wv, ww, wsizes = unpack_histograms(waits)
    sv, sw, ssizes = unpack_histograms(serves)
    return Grouped(
        labels=labels,
        counts=summed,
        wait=wv,
        wait_w=ww,
        wait_group=np.repeat(g, wsizes),
        wait_target=np.repeat(per_hall[hall_codes], wsizes),
        serve=sv,
        serve_w=sw,
        serve_group=np.repeat(g, ssizes),
    )
