"""Statistics by SQL aggregation over tickets, ratings, cases, appointments and matters (no ORM per row)."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, cast, func, literal, literal_column, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from hall_server.db.models import Hall, QueueGroup, Rating, ServiceItem, Ticket, User, Window
from hall_server.db.models_ext import Appointment, FollowupCase, Matter, MatterVisit
from hall_server.services.ext_const import POLICY_TARGET_WAIT, WAIT_BUCKETS_MIN
from hall_server.services.ext_errors import ext_error
from queueing.const import DEFAULT_TARGET_WAIT_MINUTES
from queueing.kpi import LEVEL_NAMES_ZH, indicators_from_counts, percentile_from_counts, ratio

logger = logging.getLogger(__name__)

T = Ticket.__table__
R = Rating.__table__
BY_KEYS = ("hall", "service", "group", "window", "clerk", "day", "hour")
MAX_PERIOD_DAYS = 731


@dataclass(frozen=True)
class Scope:
    """What to count: halls (already resolved to a subtree), business days from..to inclusive."""

    hall_ids: tuple[str, ...]
    day_from: date
    day_to: date
    window_id: int | None = None
    clerk_id: int | None = None
    service_code: str | None = None


def make_scope(
    hall_ids: list[str], day_from: date | None, day_to: date | None, today: date, **filters: Any
) -> Scope:
    """A validated scope; the period defaults to today and may span at most two years."""
    day_from = day_from or today
    day_to = day_to or day_from
    if day_to < day_from or (day_to - day_from).days > MAX_PERIOD_DAYS:
        raise ext_error("stats.bad_period", day_from=day_from.isoformat(), day_to=day_to.isoformat())
    return Scope(tuple(hall_ids), day_from, day_to, **filters)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _seconds_between(session: Session, start: Any, end: Any) -> ColumnElement[float]:
    if _dialect(session) == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _whole_seconds(session: Session, secs: ColumnElement[float]) -> ColumnElement[int]:
    """Seconds rounded to whole ones: julianday() arithmetic is off by microseconds."""
    if _dialect(session) == "postgresql":
        return cast(func.round(secs), Integer)
    return cast(secs + 0.5, Integer)  # CAST truncates in SQLite; durations are never negative


def _zone_name(session: Session, hall_ids: tuple[str, ...]) -> str:
    tz = session.scalar(select(Hall.timezone).where(Hall.id.in_(hall_ids)).limit(1))
    return tz or "Asia/Shanghai"


def _hour_expr(session: Session, column: Any, zone: str) -> ColumnElement[int]:
    if _dialect(session) == "postgresql":
        return cast(func.extract("hour", func.timezone(zone, column)), Integer)
    # SQLite keeps UTC wall time; China has no daylight saving, so a fixed offset is exact.
    offset = ZoneInfo(zone).utcoffset(datetime(2026, 1, 1)) or timedelta(0)
    hours = int(offset.total_seconds() // 3600)
    return cast(func.strftime("%H", column, f"{hours:+d} hours"), Integer)


def _key_expr(session: Session, by: str, zone: str) -> ColumnElement[Any]:
    return {
        "hall": T.c.hall_id,
        "service": T.c.service_code,
        "group": T.c.group_prefix,
        "window": T.c.window_id,
        "clerk": T.c.clerk_id,
        "day": T.c.business_day,
        "hour": _hour_expr(session, T.c.issued_at, zone),
        None: literal_column("'all'"),
    }[by]


def _keys(by: str | None, key: Any) -> list[Any]:
    # Grouping by a constant is not portable (PostgreSQL refuses it): no key, no GROUP BY term.
    return [] if by is None else [key]


def _where(scope: Scope) -> list[ColumnElement[bool]]:
    cond = [
        T.c.hall_id.in_(scope.hall_ids),
        T.c.business_day >= scope.day_from,
        T.c.business_day <= scope.day_to,
    ]
    if scope.window_id is not None:
        cond.append(T.c.window_id == scope.window_id)
    if scope.clerk_id is not None:
        cond.append(T.c.clerk_id == scope.clerk_id)
    if scope.service_code is not None:
        cond.append(T.c.service_code == scope.service_code)
    return cond


def _targets(session: Session, hall_ids: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for hid, policy in session.execute(select(Hall.id, Hall.policy).where(Hall.id.in_(hall_ids))):
        out[hid] = float((policy or {}).get(POLICY_TARGET_WAIT, DEFAULT_TARGET_WAIT_MINUTES)) * 60.0
    return out


def _target_expr(targets: dict[str, float]) -> ColumnElement[float]:
    values = set(targets.values())
    if len(values) <= 1:
        return literal(values.pop() if values else DEFAULT_TARGET_WAIT_MINUTES * 60.0)
    return case(
        {h: t for h, t in targets.items()}, value=T.c.hall_id, else_=DEFAULT_TARGET_WAIT_MINUTES * 60.0
    )


def _ticket_groups(session: Session, scope: Scope, by: str | None, zone: str) -> dict[Any, dict[str, Any]]:
    """One aggregate row per key: counts, wait and service sums, above-target count."""
    key = _key_expr(session, by, zone).label("k")
    wait = _seconds_between(session, T.c.issued_at, T.c.called_at)
    serve = _seconds_between(session, T.c.started_at, T.c.finished_at)
    target = _target_expr(_targets(session, scope.hall_ids))
    one = literal(1)
    zero = literal(0)
    stmt = (
        select(
            key,
            func.count().label("issued"),
            func.sum(case((T.c.status == "finished", one), else_=zero)).label("served"),
            func.sum(case((T.c.status == "no_show", one), else_=zero)).label("no_show"),
            func.sum(T.c.transfer_count).label("transferred"),
            func.count(T.c.called_at).label("wait_n"),
            func.avg(wait).label("wait_avg"),
            func.sum(case((_whole_seconds(session, wait) > target, one), else_=zero)).label("wait_over"),
            func.count(case((and_(T.c.started_at.is_not(None), T.c.finished_at.is_not(None)), one))).label(
                "serve_n"
            ),
            func.avg(case((T.c.finished_at.is_not(None), serve))).label("serve_avg"),
            func.sum(case((T.c.appointment_id.is_not(None), one), else_=zero)).label("appointment_tickets"),
        )
        .where(*_where(scope))
        .group_by(*_keys(by, key))
    )
    out: dict[Any, dict[str, Any]] = {}
    for row in session.execute(stmt):
        out[row.k] = {
            "issued": int(row.issued or 0),
            "served": int(row.served or 0),
            "no_show": int(row.no_show or 0),
            "transferred": int(row.transferred or 0),
            "wait_n": int(row.wait_n or 0),
            "wait_avg": float(row.wait_avg) if row.wait_avg is not None else None,
            "wait_over": int(row.wait_over or 0),
            "serve_n": int(row.serve_n or 0),
            "serve_avg": float(row.serve_avg) if row.serve_avg is not None else None,
            "appointment_tickets": int(row.appointment_tickets or 0),
        }
    return out


def _histograms(
    session: Session, scope: Scope, by: str | None, zone: str, which: str
) -> dict[Any, dict[int, int]]:
    """{key: {whole seconds: count}} of waits or service times, for exact nearest-rank percentiles."""
    key = _key_expr(session, by, zone).label("k")
    if which == "wait":
        secs = _seconds_between(session, T.c.issued_at, T.c.called_at)
        present = T.c.called_at.is_not(None)
    else:
        secs = _seconds_between(session, T.c.started_at, T.c.finished_at)
        present = and_(T.c.started_at.is_not(None), T.c.finished_at.is_not(None))
    # Rounded to the second, the histogram stays small and the percentile exact to the second.
    whole = _whole_seconds(session, secs).label("s")
    stmt = (
        select(key, whole, func.count().label("n"))
        .where(*_where(scope), present)
        .group_by(*_keys(by, key), whole)
    )
    out: dict[Any, dict[int, int]] = defaultdict(dict)
    for row in session.execute(stmt):
        out[row.k][int(row.s)] = int(row.n)
    return out


def _merge_hist(hists: dict[Any, dict[int, int]]) -> dict[int, int]:
    total: dict[int, int] = defaultdict(int)
    for h in hists.values():
        for s, n in h.items():
            total[s] += n
    return total


def _combine(rows: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    """Totals over per-key rows (averages weighted by their counts)."""
    out = {
        "issued": 0,
        "served": 0,
        "no_show": 0,
        "transferred": 0,
        "wait_n": 0,
        "wait_over": 0,
        "serve_n": 0,
        "appointment_tickets": 0,
    }
    wait_sum = serve_sum = 0.0
    for r in rows.values():
        for k in out:
            out[k] += r[k]
        if r["wait_avg"] is not None:
            wait_sum += r["wait_avg"] * r["wait_n"]
        if r["serve_avg"] is not None:
            serve_sum += r["serve_avg"] * r["serve_n"]
    out["wait_avg"] = wait_sum / out["wait_n"] if out["wait_n"] else None
    out["serve_avg"] = serve_sum / out["serve_n"] if out["serve_n"] else None
    return out


def _r(x: float | None) -> float | None:
    # julianday() arithmetic leaves microsecond noise; seconds to two decimals are plenty.
    return None if x is None else round(x, 2)


def _shape(row: dict[str, Any], wait_hist: dict[int, int], serve_hist: dict[int, int]) -> dict[str, Any]:
    return {
        "issued": row["issued"],
        "served": row["served"],
        "no_show": row["no_show"],
        "transferred": row["transferred"],
        "appointment_tickets": row["appointment_tickets"],
        "wait": {
            "count": row["wait_n"],
            "average": _r(row["wait_avg"]),
            "p90": percentile_from_counts(wait_hist, 90),
            "above_target": row["wait_over"],
            "above_target_share": ratio(row["wait_over"], row["wait_n"]),
        },
        "service": {
            "count": row["serve_n"],
            "average": _r(row["serve_avg"]),
            "p90": percentile_from_counts(serve_hist, 90),
        },
    }


def _period_utc(scope: Scope, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    start = datetime.combine(scope.day_from, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(scope.day_to + timedelta(days=1), datetime.min.time(), tzinfo=tz).astimezone(UTC)
    return start, end


def _appointments(session: Session, scope: Scope) -> dict[str, int]:
    cond = [
        Appointment.hall_id.in_(scope.hall_ids),
        Appointment.day >= scope.day_from,
        Appointment.day <= scope.day_to,
    ]
    if scope.service_code is not None:
        cond.append(Appointment.service_code == scope.service_code)
    counts = dict(
        session.execute(
            select(Appointment.status, func.count()).where(*cond).group_by(Appointment.status)
        ).all()
    )
    return {
        "kept": int(counts.get("checked_in", 0)),
        "missed": int(counts.get("no_show", 0)),
        "booked": int(sum(counts.values())),
    }


def rating_indicators(session: Session, scope: Scope, by: str | None, zone: str) -> dict[Any, dict[str, Any]]:
    """The six 好差评 indicators per key; ratings and cases belong to their ticket's scope."""
    key = _key_expr(session, by, zone).label("k")
    where = _where(scope)
    levels: dict[Any, dict[tuple[int, bool], int]] = defaultdict(dict)
    level_rows = session.execute(
        select(key, R.c.level, R.c.prompted, func.count().label("n"))
        .select_from(T.join(R, R.c.ticket_id == T.c.id))
        .where(*where)
        .group_by(*_keys(by, key), R.c.level, R.c.prompted)
    )
    for row in level_rows:
        levels[row.k][(int(row.level), bool(row.prompted))] = int(row.n)
    finished: dict[Any, tuple[int, int]] = {}
    fin_rows = session.execute(
        select(key, func.count().label("n"), func.count(R.c.id).label("rated"))
        .select_from(T.outerjoin(R, R.c.ticket_id == T.c.id))
        .where(*where, T.c.status == "finished")
        .group_by(*_keys(by, key))
    )
    for row in fin_rows:
        finished[row.k] = (int(row.n), int(row.rated))
    C = FollowupCase.__table__
    cases: dict[Any, dict[tuple[str, bool | None], int]] = defaultdict(dict)
    case_rows = session.execute(
        select(key, C.c.step, C.c.revisit_satisfied, func.count().label("n"))
        .select_from(T.join(C, C.c.ticket_id == T.c.id))
        .where(*where)
        .group_by(*_keys(by, key), C.c.step, C.c.revisit_satisfied)
    )
    for row in case_rows:
        sat = None if row.revisit_satisfied is None else bool(row.revisit_satisfied)
        cases[row.k][(row.step, sat)] = int(row.n)
    out: dict[Any, dict[str, Any]] = {}
    for k in set(levels) | set(finished) | set(cases):
        fin, rated = finished.get(k, (0, 0))
        ind = indicators_from_counts(levels.get(k, {}), fin, rated, cases.get(k, {}))
        out[k] = {
            **ind.as_dict(),
            "levels": {str(lv): n for (lv, _p), n in sorted(levels.get(k, {}).items())},
        }
    return out


def visits(session: Session, scope: Scope) -> dict[str, Any]:
    """'最多跑一次' over matters first accepted in the scope."""
    M = Matter.__table__
    V = MatterVisit.__table__
    per_matter = (
        select(M.c.id, func.count(V.c.id).label("v"))
        .select_from(M.join(T, T.c.id == M.c.first_ticket_id).outerjoin(V, V.c.matter_id == M.c.id))
        .where(*_where(scope))
        .group_by(M.c.id)
        .subquery()
    )
    hist = {
        int(v): int(n)
        for v, n in session.execute(select(per_matter.c.v, func.count()).group_by(per_matter.c.v))
    }
    matters = sum(hist.values())
    once = sum(n for v, n in hist.items() if v <= 1)
    total_visits = sum(v * n for v, n in hist.items())
    return {
        "matters": matters,
        "at_most_once": once,
        "at_most_once_rate": ratio(once, matters),
        "average_visits": total_visits / matters if matters else None,
        "histogram": dict(sorted(hist.items())),
    }


def _labels(session: Session, by: str | None, keys: list[Any]) -> dict[Any, str]:
    if by == "service":
        rows = session.execute(select(ServiceItem.code, ServiceItem.name).where(ServiceItem.code.in_(keys)))
        return {c: n for c, n in rows}
    if by == "window":
        rows = session.execute(
            select(Window.id, Window.number, Window.name).where(
                Window.id.in_([k for k in keys if k is not None])
            )
        )
        return {i: f"{num}号窗口 {name}".strip() for i, num, name in rows}
    if by == "clerk":
        rows = session.execute(
            select(User.id, User.name, User.username).where(User.id.in_([k for k in keys if k is not None]))
        )
        return {i: (n or u) for i, n, u in rows}
    if by == "hall":
        rows = session.execute(select(Hall.id, Hall.name).where(Hall.id.in_(keys)))
        return {i: n for i, n in rows}
    if by == "group":
        rows = session.execute(select(QueueGroup.prefix, QueueGroup.name).where(QueueGroup.prefix.in_(keys)))
        return {p: f"{p} {n}" for p, n in rows}
    if by == "hour":
        return {k: f"{k:02d}:00" for k in keys if k is not None}
    return {}


def _key_json(k: Any) -> Any:
    return k.isoformat() if isinstance(k, date) else k


def breakdown(session: Session, scope: Scope, by: str) -> list[dict[str, Any]]:
    """Per-key rows for one grouping (service, window, clerk, hall, group, day, hour)."""
    if by not in BY_KEYS:
        raise ext_error("stats.bad_group", by=by)
    zone = _zone_name(session, scope.hall_ids)
    rows = _ticket_groups(session, scope, by, zone)
    waits = _histograms(session, scope, by, zone, "wait")
    serves = _histograms(session, scope, by, zone, "service")
    ratings = rating_indicators(session, scope, by, zone)
    labels = _labels(session, by, list(rows))
    out = []
    for k in sorted(rows, key=lambda x: (x is None, str(x) if not isinstance(x, int) else f"{x:012d}")):
        item = {"key": _key_json(k), "label": labels.get(k, "" if k is None else str(_key_json(k)))}
        item.update(_shape(rows[k], waits.get(k, {}), serves.get(k, {})))
        item["ratings"] = ratings.get(k)
        out.append(item)
    return out


def summary(session: Session, scope: Scope) -> dict[str, Any]:
    """Totals, tickets per hour, the waiting-time distribution, ratings and 最多跑一次 for the dashboard."""
    zone = _zone_name(session, scope.hall_ids)
    per_hour_rows = _ticket_groups(session, scope, "hour", zone)
    wait_hist = _merge_hist(_histograms(session, scope, None, zone, "wait"))
    serve_hist = _merge_hist(_histograms(session, scope, None, zone, "service"))
    totals = _shape(_combine(per_hour_rows), wait_hist, serve_hist)
    appts = _appointments(session, scope)
    totals["appointments_booked"] = appts["booked"]
    totals["appointments_kept"] = appts["kept"]
    totals["appointments_missed"] = appts["missed"]
    ind = rating_indicators(session, scope, None, zone).get("all")
    if ind is None:
        ind = {**indicators_from_counts({}, 0, 0, {}).as_dict(), "levels": {}}
    level_counts = defaultdict(int)
    for key, n in ind["levels"].items():
        level_counts[int(key)] += n
    buckets = []
    lower = 0
    for upper in (*WAIT_BUCKETS_MIN, None):
        lo_s, hi_s = lower * 60, (upper * 60 if upper is not None else None)
        n = sum(c for s, c in wait_hist.items() if s >= lo_s and (hi_s is None or s < hi_s))
        label = f"{lower}-{upper}" if upper is not None else f"≥{lower}"
        buckets.append({"label": label, "from_minutes": lower, "to_minutes": upper, "count": n})
        lower = upper if upper is not None else lower
    return {
        "hall_ids": list(scope.hall_ids),
        "from": scope.day_from.isoformat(),
        "to": scope.day_to.isoformat(),
        "totals": totals,
        "per_hour": [{"hour": h, "issued": per_hour_rows.get(h, {}).get("issued", 0)} for h in range(24)],
        "wait_histogram": buckets,
        "ratings": {
            "indicators": ind,
            "levels": [
                {"level": lv, "name": LEVEL_NAMES_ZH[lv], "count": level_counts.get(lv, 0)}
                for lv in (5, 4, 3, 2, 1)
            ],
        },
        "visits": visits(session, scope),
    }
