"""One streaming pass over the scope's tickets (with their rating and case) into arrays, then every grouping
is a handful of vectorised counts: a year of a city (millions of tickets) in seconds, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from hall_server.db.models import FollowupCase, Rating, Ticket
from queueing.kpi import CASE_STEPS, indicators_from_counts

logger = logging.getLogger(__name__)

T = Ticket.__table__
R = Rating.__table__
C = FollowupCase.__table__
# Expired: closed unserved at the business day's end (queueing.dayend), not a visitor's no-show.
FINISHED, NO_SHOW, EXPIRED = 1, 2, 3
FETCH_BATCH = 50_000


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


def _encode(values: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
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
    rows = _fetch_raw(session, stmt)
    n = len(rows)
    cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if n else [() for _ in range(4 + len(extra))]
    del rows
    hall_codes, hall_labels = _encode(cols[0])
    flags = np.array(cols[1], dtype=np.int64) if n else np.zeros(0, dtype=np.int64)
    per_hall = np.array([float(targets.get(h, default_target)) for h in hall_labels] or [default_target])
    keys: dict[str, tuple[np.ndarray, list[Any]]] = {"hall": (hall_codes, hall_labels)}
    for i, g in enumerate(extra):
        values = cols[4 + i]
        if g in ("window", "clerk"):
            codes, labels = _encode(values)
            keys[g] = (codes, [None if v == -1 else int(v) for v in labels])
        elif g == "hour":
            codes, labels = _encode(values)
            keys[g] = (codes, [int(v) for v in labels])
        else:
            keys[g] = _encode(values)
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


def _fetch_raw(session: Session, stmt: Any) -> list[Any]:
    """Run on the session's own DBAPI cursor (same transaction): plain tuples, no per-row processing."""
    conn = session.connection()
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    args: Any = tuple(params[name] for name in compiled.positiontup) if compiled.positional else params
    cursor = conn.connection.dbapi_connection.cursor()
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


def _p90(groups: np.ndarray, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Nearest-rank 90th percentile per group (nan where a group has no value)."""
    out = np.full(len(counts), np.nan)
    if values.size == 0:
        return out
    order = np.lexsort((values, groups))
    ordered = values[order]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.maximum(np.ceil(0.9 * counts).astype(np.int64), 1)
    has = counts > 0
    out[has] = ordered[(starts + rank - 1)[has]]
    return out


def aggregate(f: Facts, by: str | None) -> dict[Any, dict[str, Any]]:
    """Per key of `by` (None: one key "all"): counts, times, 好差评 indicators and level counts."""
    if by is None:
        g = np.zeros(f.n, dtype=np.int32)
        labels: list[Any] = ["all"]
    else:
        g, labels = f.keys[by]
    k = len(labels)
    if f.n == 0 or k == 0:
        return {}

    def count(mask: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
        gg = g if mask is None else g[mask]
        w = weights if (mask is None or weights is None) else weights[mask]
        return np.bincount(gg, weights=w, minlength=k)

    issued = count()
    served = count(f.status == FINISHED)
    no_show = count(f.status == NO_SHOW)
    unserved = count(f.status == EXPIRED)
    transferred = count(weights=f.transfers.astype(np.float64))
    appointment = count(f.appointment == 1)
    wm = f.wait >= 0
    wait_n = count(wm)
    wait_sum = count(wm, f.wait)
    wait_over = count(wm & (f.wait > f.target))
    wait_p90 = _p90(g[wm], f.wait[wm], wait_n)
    sm = f.serve >= 0
    serve_n = count(sm)
    serve_sum = count(sm, f.serve)
    serve_p90 = _p90(g[sm], f.serve[sm], serve_n)
    rated = f.level > 0
    level_idx = g[rated] * 10 + (f.level[rated] - 1) * 2 + f.prompted[rated]
    levels = np.bincount(level_idx, minlength=k * 10).reshape(k, 5, 2)
    fin = f.status == FINISHED
    finished = count(fin)
    rated_finished = count(fin & rated)
    has_case = f.step >= 0
    case_idx = g[has_case] * 18 + f.step[has_case] * 3 + (f.satisfied[has_case] + 1)
    cases = np.bincount(case_idx, minlength=k * 18).reshape(k, 6, 3)
    out: dict[Any, dict[str, Any]] = {}
    for i, key in enumerate(labels):
        level_counts = {
            (lv, bool(p)): int(levels[i, lv - 1, p])
            for lv in range(1, 6)
            for p in (0, 1)
            if levels[i, lv - 1, p]
        }
        case_counts = {
            (CASE_STEPS[s], None if sat == 0 else bool(sat - 1)): int(cases[i, s, sat])
            for s in range(6)
            for sat in range(3)
            if cases[i, s, sat]
        }
        ind = indicators_from_counts(level_counts, int(finished[i]), int(rated_finished[i]), case_counts)
        by_level: dict[str, int] = {}
        for (lv, _p), n in sorted(level_counts.items()):
            by_level[str(lv)] = by_level.get(str(lv), 0) + n
        out[key] = {
            "issued": int(issued[i]),
            "served": int(served[i]),
            "no_show": int(no_show[i]),
            "unserved": int(unserved[i]),
            "transferred": int(transferred[i]),
            "appointment_tickets": int(appointment[i]),
            "wait_n": int(wait_n[i]),
            "wait_avg": float(wait_sum[i] / wait_n[i]) if wait_n[i] else None,
            "wait_over": int(wait_over[i]),
            "wait_p90": None if np.isnan(wait_p90[i]) else float(wait_p90[i]),
            "serve_n": int(serve_n[i]),
            "serve_avg": float(serve_sum[i] / serve_n[i]) if serve_n[i] else None,
            "serve_p90": None if np.isnan(serve_p90[i]) else float(serve_p90[i]),
            "ratings": {**ind.as_dict(), "levels": by_level},
        }
    return out


def wait_buckets(f: Facts, edges_minutes: Sequence[int]) -> list[int]:
    """How many waits fall in [0, e1), [e1, e2), ... [e_last, inf) minutes."""
    waits = f.wait[f.wait >= 0]
    bounds = np.array([0, *[m * 60 for m in edges_minutes], np.inf])
    counts, _ = np.histogram(waits, bins=bounds)
    return [int(c) for c in counts]
