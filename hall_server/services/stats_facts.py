"""One streaming pass over the scope's tickets (with their rating and case) into arrays, then every grouping
is a handful of vectorised counts: a year of a city (millions of tickets) in seconds, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from hall_server.db.models import FollowupCase, Rating, Ticket
from hall_server.lazy import lazy_module
from queueing.kpi import CASE_STEPS, indicators_from_counts

logger = logging.getLogger(__name__)

np = lazy_module("numpy")  # loads with the first statistics request or pass, not at start-up

T = Ticket.__table__
R = Rating.__table__
C = FollowupCase.__table__
# Expired: closed unserved at the business day's end (queueing.dayend), not a visitor's no-show.
FINISHED, NO_SHOW, EXPIRED = 1, 2, 3
FETCH_BATCH = 50_000
P90_DENSE_CELLS = 20_000_000  # groups x seconds up to which a percentile uses a dense histogram


@dataclass
class Facts:
    """Column arrays of one scope: one element per ticket."""

    n: int
    keys: dict[str, tuple[np.ndarray, list[Any]]]  # grouping -> (codes, labels)
    status: np.ndarray  # 0 other, 1 finished, 2 no-show
    transfers: np.ndarray
    appointment: np.ndarray
    wait: np.ndarray  # whole seconds, -1 when never called
    serve: np.ndarray  # whole seconds, -1 unless started and finished
    target: np.ndarray  # the hall's waiting target in seconds
    level: np.ndarray  # 0 when unrated
    prompted: np.ndarray
    step: np.ndarray  # index in CASE_STEPS, -1 without a case
    satisfied: np.ndarray  # -1 unknown, 0 no, 1 yes


def encode(values: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    lut: dict[Any, int] = {}
    codes = np.fromiter((lut.setdefault(v, len(lut)) for v in values), dtype=np.int32, count=len(values))
    return codes, list(lut)


def _flags() -> ColumnElement[int]:
    """Small per-ticket facts packed into one integer, so a row is five Python objects, not twelve.

    bits 0-1 status (1 finished, 2 no-show, 3 expired at day end), 2 appointment, 3 prompted, 4-6 rating level (0 none),
    7-9 case step + 1 (0 none), 10-11 revisit satisfied + 1, 12-15 transfers (capped at 15).
    """
    status = case(
        (T.c.status == "finished", FINISHED),
        (T.c.status == "no_show", NO_SHOW),
        (T.c.status == "expired", EXPIRED),
        else_=0,
    )
    appointment = case((T.c.appointment_id.is_not(None), 4), else_=0)
    prompted = case((R.c.prompted.is_(True), 8), else_=0)
    level = func.coalesce(R.c.level, 0) * 16
    step = case({s: (i + 1) * 128 for i, s in enumerate(CASE_STEPS)}, value=C.c.step, else_=0)
    sat = case((C.c.revisit_satisfied.is_(True), 2048), (C.c.revisit_satisfied.is_(False), 1024), else_=0)
    transfers = case((T.c.transfer_count > 15, 15), else_=func.coalesce(T.c.transfer_count, 0)) * 4096
    return status + appointment + prompted + level + step + sat + transfers


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def seconds_between(session: Session, start: Any, end: Any) -> ColumnElement[float]:
    if dialect(session) == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def whole_seconds(session: Session, secs: ColumnElement[float]) -> ColumnElement[int]:
    """Seconds rounded to whole ones: julianday() arithmetic is off by microseconds."""
    if dialect(session) == "postgresql":
        return cast(func.round(secs), Integer)
    return cast(secs + 0.5, Integer)  # CAST truncates in SQLite; durations are never negative


def hour_expr(session: Session, column: Any, zone: str) -> ColumnElement[int]:
    if dialect(session) == "postgresql":
        return cast(func.extract("hour", func.timezone(zone, column)), Integer)
    # SQLite keeps UTC wall time; China has no daylight saving, so a fixed offset is exact.
    offset = ZoneInfo(zone).utcoffset(datetime(2026, 1, 1)) or timedelta(0)
    hours = int(offset.total_seconds() // 3600)
    return cast(func.strftime("%H", column, f"{hours:+d} hours"), Integer)


KEY_COLUMNS: dict[str, Any] = {
    "day": T.c.business_day,
    "service": T.c.service_code,
    "group": T.c.group_prefix,
    "window": func.coalesce(T.c.window_id, -1),
    "clerk": func.coalesce(T.c.clerk_id, -1),
}


def load(
    session: Session,
    where: list[ColumnElement[bool]],
    hour: ColumnElement[int],
    wait_s: ColumnElement[int],
    serve_s: ColumnElement[int],
    targets: dict[str, float],
    default_target: float,
    groupings: Sequence[str] = ("hall", "day", "hour", "service", "group", "window", "clerk"),
) -> Facts:
    """Fetch the scope's tickets with rating and case in one query (only the groupings asked for)."""
    extra = [g for g in groupings if g not in ("hall",)]
    key_cols = [hour if g == "hour" else KEY_COLUMNS[g] for g in extra]
    stmt = (
        select(
            T.c.hall_id,
            _flags(),
            func.coalesce(case((T.c.called_at.is_not(None), wait_s)), -1),
            func.coalesce(
                case((and_(T.c.started_at.is_not(None), T.c.finished_at.is_not(None)), serve_s)), -1
            ),
            *key_cols,
        )
        .select_from(T.outerjoin(R, R.c.ticket_id == T.c.id).outerjoin(C, C.c.rating_id == R.c.id))
        .where(*where)
    )
    rows = fetch_raw(session, stmt)
    n = len(rows)
    cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if n else [() for _ in range(4 + len(extra))]
    del rows
    hall_codes, hall_labels = encode(cols[0])
    flags = np.array(cols[1], dtype=np.int64) if n else np.zeros(0, dtype=np.int64)
    per_hall = np.array([float(targets.get(h, default_target)) for h in hall_labels] or [default_target])
    keys: dict[str, tuple[np.ndarray, list[Any]]] = {"hall": (hall_codes, hall_labels)}
    for i, g in enumerate(extra):
        values = cols[4 + i]
        if g in ("window", "clerk"):
            codes, labels = encode(values)
            keys[g] = (codes, [None if v == -1 else int(v) for v in labels])
        elif g == "hour":
            codes, labels = encode(values)
            keys[g] = (codes, [int(v) for v in labels])
        else:
            keys[g] = encode(values)
    return Facts(
        n=n,
        keys=keys,
        status=flags & 3,
        transfers=(flags >> 12) & 15,
        appointment=(flags >> 2) & 1,
        wait=np.array(cols[2], dtype=np.float64) if n else np.zeros(0),
        serve=np.array(cols[3], dtype=np.float64) if n else np.zeros(0),
        target=per_hall[hall_codes] if n else np.zeros(0),
        level=(flags >> 4) & 7,
        prompted=(flags >> 3) & 1,
        step=((flags >> 7) & 7) - 1,
        satisfied=((flags >> 10) & 3) - 1,
    )


def fetch_raw(session: Session, stmt: Any, binary: bool = False) -> list[Any]:
    """Run on the session's own DBAPI cursor (same transaction): plain tuples, no per-row processing.

    binary: on PostgreSQL, results in binary format (bytea as its bytes, not hex text twice its size).
    """
    conn = session.connection()
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    args: Any = tuple(params[name] for name in compiled.positiontup) if compiled.positional else params
    dbapi = conn.connection.dbapi_connection
    cursor = dbapi.cursor(binary=True) if binary and conn.dialect.name == "postgresql" else dbapi.cursor()
    try:
        cursor.execute(compiled.string, args)
        rows: list[Any] = []
        while True:
            chunk = cursor.fetchmany(FETCH_BATCH)
            if not chunk:
                return rows
            rows.extend(chunk)
    finally:
        cursor.close()


# The additive counters of a group, in this order (stored as such in stat_rollups.counts).
COUNTERS = (
    "issued", "served", "no_show", "unserved", "transferred", "appointment_tickets",
    "wait_n", "wait_sum", "serve_n", "serve_sum", "rated_finished",
)  # fmt: skip
LEVELS_AT = len(COUNTERS)  # then 10 level counts: (level - 1) * 2 + prompted
CASES_AT = LEVELS_AT + 10  # then 18 case counts: step * 3 + satisfied + 1
HOURS_AT = CASES_AT + 18  # then, with hours, 24 tickets issued per hour of the day
N_COUNTS = HOURS_AT
N_COUNTS_HOURS = HOURS_AT + 24
COL = {name: i for i, name in enumerate(COUNTERS)}


@dataclass
class Grouped:
    """Per-group counters plus the whole-second waits and service times as (value, how many, group).

    From tickets every weight is 1; from the rollups a value comes once per histogram row that has it.
    """

    labels: list[Any]
    counts: np.ndarray  # (groups, N_COUNTS or N_COUNTS_HOURS) int64
    wait: np.ndarray  # whole seconds
    wait_w: np.ndarray  # how many waits took that long
    wait_group: np.ndarray
    wait_target: np.ndarray  # the waiting target of each wait's hall, in seconds
    serve: np.ndarray
    serve_w: np.ndarray
    serve_group: np.ndarray


def tally(f: Facts, g: np.ndarray, k: int, hours: np.ndarray | None = None) -> np.ndarray:
    """The counters of each of k groups (codes g, one per ticket); with hours, tickets per hour too."""
    cols = N_COUNTS if hours is None else N_COUNTS_HOURS
    out = np.zeros((k, cols), dtype=np.int64)

    def count(mask: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
        gg = g if mask is None else g[mask]
        w = weights if (mask is None or weights is None) else weights[mask]
        return np.bincount(gg, weights=w, minlength=k).astype(np.int64)

    fin = f.status == FINISHED
    rated = f.level > 0
    wm = f.wait >= 0
    sm = f.serve >= 0
    out[:, COL["issued"]] = count()
    out[:, COL["served"]] = count(fin)
    out[:, COL["no_show"]] = count(f.status == NO_SHOW)
    out[:, COL["unserved"]] = count(f.status == EXPIRED)
    out[:, COL["transferred"]] = count(weights=f.transfers.astype(np.float64))
    out[:, COL["appointment_tickets"]] = count(f.appointment == 1)
    out[:, COL["wait_n"]] = count(wm)
    out[:, COL["wait_sum"]] = count(wm, f.wait)
    out[:, COL["serve_n"]] = count(sm)
    out[:, COL["serve_sum"]] = count(sm, f.serve)
    out[:, COL["rated_finished"]] = count(fin & rated)
    level_idx = g[rated] * 10 + (f.level[rated] - 1) * 2 + f.prompted[rated]
    out[:, LEVELS_AT:CASES_AT] = np.bincount(level_idx, minlength=k * 10).reshape(k, 10)
    has_case = f.step >= 0
    case_idx = g[has_case] * 18 + f.step[has_case] * 3 + (f.satisfied[has_case] + 1)
    out[:, CASES_AT:HOURS_AT] = np.bincount(case_idx, minlength=k * 18).reshape(k, 18)
    if hours is not None:
        out[:, HOURS_AT:] = np.bincount(g * 24 + hours, minlength=k * 24).reshape(k, 24)
    return out


def group(f: Facts, by: str | None, hours: bool = False) -> Grouped:
    """Group the tickets by `by` (None: one group "all"); with hours, count tickets per hour too."""
    if by is None:
        g = np.zeros(f.n, dtype=np.int64)
        labels: list[Any] = ["all"] if f.n else []
    else:
        codes, labels = f.keys[by]
        g = codes.astype(np.int64)
    hour_of = None
    if hours:
        hcodes, hlabels = f.keys["hour"]
        hour_of = np.array(hlabels, dtype=np.int64)[hcodes] if f.n else np.zeros(0, dtype=np.int64)
    wm = f.wait >= 0
    sm = f.serve >= 0
    return Grouped(
        labels=list(labels),
        counts=tally(f, g, len(labels), hour_of),
        wait=f.wait[wm].astype(np.int64),
        wait_w=np.ones(int(wm.sum()), dtype=np.int64),
        wait_group=g[wm],
        wait_target=f.target[wm],
        serve=f.serve[sm].astype(np.int64),
        serve_w=np.ones(int(sm.sum()), dtype=np.int64),
        serve_group=g[sm],
    )


def _p90(groups: np.ndarray, values: np.ndarray, weights: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Nearest-rank 90th percentile per group of whole-second values, each counted `weights` times (nan if none)."""
    k = len(counts)
    out = np.full(k, np.nan)
    if values.size == 0:
        return out
    rank = np.maximum(np.ceil(0.9 * counts).astype(np.int64), 1)
    has = counts > 0
    before = np.concatenate(([0], np.cumsum(counts)[:-1]))
    step = np.diff(groups)
    if (step >= 0).all() and ((np.diff(values) >= 0) | (step > 0)).all():
        # Already in group order with each group's values ascending (one histogram per group, as
        # the subtree day rows give): the running weight finds every percentile without a table.
        at = np.searchsorted(np.cumsum(weights), (before + rank)[has], side="left")
        out[has] = values[at]
        return out
    span = int(values.max()) + 1
    if k * span <= P90_DENSE_CELLS:
        # A dense histogram per group: the rank-th value is where the running count reaches it.
        hist = np.bincount(groups * span + values, weights=weights, minlength=k * span).reshape(k, span)
        running = np.cumsum(hist, axis=1)
        at = np.argmax(running >= rank[:, None], axis=1)
        out[has] = at[has].astype(np.float64)
        return out
    # Sorted by group then value, the running weight crosses each group's rank at its percentile
    # (a zero weight never crosses first, so the value found is one that occurs).
    order = np.lexsort((values, groups))
    running_w = np.cumsum(weights[order])
    at = np.searchsorted(running_w, (before + rank)[has], side="left")
    out[has] = values[order][at]
    return out


def finish(gr: Grouped) -> dict[Any, dict[str, Any]]:
    """Per group: counts, times, 好差评 indicators and level counts (the one arithmetic of every source)."""
    k = len(gr.labels)
    if k == 0:
        return {}
    cnt = gr.counts
    wait_n = cnt[:, COL["wait_n"]]
    serve_n = cnt[:, COL["serve_n"]]
    over = gr.wait > gr.wait_target
    wait_over = np.bincount(gr.wait_group[over], weights=gr.wait_w[over], minlength=k).astype(np.int64)
    wait_p90 = _p90(gr.wait_group, gr.wait, gr.wait_w, wait_n)
    serve_p90 = _p90(gr.serve_group, gr.serve, gr.serve_w, serve_n)
    out: dict[Any, dict[str, Any]] = {}
    for i, key in enumerate(gr.labels):
        row = cnt[i]
        level_counts = {
            (lv, bool(p)): int(row[LEVELS_AT + (lv - 1) * 2 + p])
            for lv in range(1, 6)
            for p in (0, 1)
            if row[LEVELS_AT + (lv - 1) * 2 + p]
        }
        case_counts = {
            (CASE_STEPS[s], None if sat == 0 else bool(sat - 1)): int(row[CASES_AT + s * 3 + sat])
            for s in range(6)
            for sat in range(3)
            if row[CASES_AT + s * 3 + sat]
        }
        ind = indicators_from_counts(
            level_counts, int(row[COL["served"]]), int(row[COL["rated_finished"]]), case_counts
        )
        by_level: dict[str, int] = {}
        for (lv, _p), n in sorted(level_counts.items()):
            by_level[str(lv)] = by_level.get(str(lv), 0) + n
        out[key] = {
            "issued": int(row[COL["issued"]]),
            "served": int(row[COL["served"]]),
            "no_show": int(row[COL["no_show"]]),
            "unserved": int(row[COL["unserved"]]),
            "transferred": int(row[COL["transferred"]]),
            "appointment_tickets": int(row[COL["appointment_tickets"]]),
            "wait_n": int(wait_n[i]),
            "wait_avg": float(row[COL["wait_sum"]] / wait_n[i]) if wait_n[i] else None,
            "wait_over": int(wait_over[i]),
            "wait_p90": None if np.isnan(wait_p90[i]) else float(wait_p90[i]),
            "serve_n": int(serve_n[i]),
            "serve_avg": float(row[COL["serve_sum"]] / serve_n[i]) if serve_n[i] else None,
            "serve_p90": None if np.isnan(serve_p90[i]) else float(serve_p90[i]),
            "ratings": {**ind.as_dict(), "levels": by_level},
        }
    return out


def per_hour(gr: Grouped) -> list[int]:
    """Tickets issued per hour of the day, over all groups (a Grouped made with hours)."""
    if gr.counts.shape[1] < N_COUNTS_HOURS:
        raise ValueError("grouped without hours")
    return [int(n) for n in gr.counts[:, HOURS_AT:].sum(axis=0)] if len(gr.labels) else [0] * 24


def aggregate(f: Facts, by: str | None) -> dict[Any, dict[str, Any]]:
    """Per key of `by` (None: one key "all"): counts, times, 好差评 indicators and level counts."""
    return finish(group(f, by))


def wait_buckets(gr: Grouped, edges_minutes: Sequence[int]) -> list[int]:
    """How many waits fall in [0, e1), [e1, e2), ... [e_last, inf) minutes."""
    # A wait's bucket is the number of edges at or below it (waits are never negative).
    bucket = np.searchsorted(np.array([m * 60 for m in edges_minutes]), gr.wait, side="right")
    counts = np.bincount(bucket, weights=gr.wait_w, minlength=len(edges_minutes) + 1)
    return [int(c) for c in counts]
