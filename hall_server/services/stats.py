"""Statistics by SQL aggregation over tickets, ratings, cases, appointments and matters (no ORM per row)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from hall_server.auth import Principal, manager_scope
from hall_server.const import POLICY_TARGET_WAIT, WAIT_BUCKETS_MIN
from hall_server.context import ServerContext
from hall_server.db.models import (
    Appointment,
    AppointmentAttendance,
    Hall,
    Matter,
    MatterVisit,
    QueueGroup,
    Rating,
    ServiceItem,
    Ticket,
    User,
    Window,
)
from hall_server.errors import HallError
from hall_server.services import stat_rollups, stats_facts
from hall_server.services.names import window_title
from queueing.const import DEFAULT_TARGET_WAIT_MINUTES
from queueing.kpi import LEVEL_NAMES_ZH, indicators_from_counts, ratio

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
        raise HallError("stats.bad_period", day_from=day_from.isoformat(), day_to=day_to.isoformat())
    return Scope(tuple(hall_ids), day_from, day_to, **filters)


def _zone_name(session: Session, hall_ids: tuple[str, ...]) -> str:
    tz = session.scalar(select(Hall.timezone).where(Hall.id.in_(hall_ids)).limit(1))
    return tz or "Asia/Shanghai"


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
    # A booking as its hall knows it: at a station, its attendance decides (the city's booking
    # stays "booked" until the city has it); at the city the attendance is copied in already.
    att = AppointmentAttendance
    status = case(
        (and_(Appointment.status == "booked", att.status.is_not(None)), att.status),
        else_=Appointment.status,
    )
    counts = dict(
        session.execute(
            select(status, func.count())
            .select_from(Appointment)
            .outerjoin(att, att.appointment_id == Appointment.id)
            .where(*cond)
            .group_by(status)
        ).all()
    )
    return {
        "kept": int(counts.get("checked_in", 0)),
        "missed": int(counts.get("no_show", 0)),
        "booked": int(sum(counts.values())),
    }


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
        # "hall · window": 1号窗口 alone is ambiguous across the halls of a subtree.
        rows = session.execute(
            select(Window.id, Window.number, Window.name, Hall.name)
            .join(Hall, Hall.id == Window.hall_id)
            .where(Window.id.in_([k for k in keys if k is not None]))
        )
        return {i: window_title(hall, num, name) for i, num, name, hall in rows}
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


def load_facts(session: Session, scope: Scope, groupings: tuple[str, ...] = BY_KEYS) -> stats_facts.Facts:
    """The scope's tickets as arrays (one query); pass them to several groupings to scan once."""
    zone = _zone_name(session, scope.hall_ids)
    return stats_facts.load(
        session,
        _where(scope),
        stats_facts.hour_expr(session, T.c.issued_at, zone),
        stats_facts.whole_seconds(
            session, stats_facts.seconds_between(session, T.c.issued_at, T.c.called_at)
        ),
        stats_facts.whole_seconds(
            session, stats_facts.seconds_between(session, T.c.started_at, T.c.finished_at)
        ),
        _targets(session, scope.hall_ids),
        DEFAULT_TARGET_WAIT_MINUTES * 60.0,
        groupings,
    )


def _r(x: float | None) -> float | None:
    # julianday() arithmetic leaves microsecond noise; seconds to two decimals are plenty.
    return None if x is None else round(x, 2)


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "issued": row["issued"],
        "served": row["served"],
        "no_show": row["no_show"],
        # Closed unserved when the business day ended (status "expired").
        "unserved": row["unserved"],
        "transferred": row["transferred"],
        "appointment_tickets": row["appointment_tickets"],
        "wait": {
            "count": row["wait_n"],
            "average": _r(row["wait_avg"]),
            "p90": row["wait_p90"],
            "above_target": row["wait_over"],
            "above_target_share": ratio(row["wait_over"], row["wait_n"]),
        },
        "service": {"count": row["serve_n"], "average": _r(row["serve_avg"]), "p90": row["serve_p90"]},
    }


@dataclass
class Figures:
    """Where a scope's figures come from: the rollups, or the tickets themselves (`facts`).

    A scope filtered to one window, clerk or service has no rollup of its own (the rollups group
    by one key at a time): it is counted from its tickets, which the filter keeps few.
    """

    session: Session
    scope: Scope
    facts: stats_facts.Facts | None = None

    def grouped(self, by: str | None) -> stats_facts.Grouped:
        """Grouped by `by` (None: one group "all", with tickets per hour of the day)."""
        if self.facts is not None:
            return stats_facts.group(self.facts, by, hours=by is None)
        sc = self.scope
        return stat_rollups.grouped(
            self.session,
            sc.hall_ids,
            sc.day_from,
            sc.day_to,
            by,
            _targets(self.session, sc.hall_ids),
            DEFAULT_TARGET_WAIT_MINUTES * 60.0,
        )


def figures(session: Session, scope: Scope, groupings: tuple[str, ...] = BY_KEYS) -> Figures:
    """The scope's figures: from the rollups unless a window, clerk or service filter narrows it."""
    if scope.window_id is None and scope.clerk_id is None and scope.service_code is None:
        return Figures(session, scope)
    return Figures(session, scope, load_facts(session, scope, tuple({"hour", *groupings})))


def raw_figures(session: Session, scope: Scope) -> Figures:
    """The scope's figures counted from its tickets (the reference the rollups must equal)."""
    return Figures(session, scope, load_facts(session, scope))


def rating_indicators(
    session: Session, scope: Scope, by: str | None, fig: Figures | None = None
) -> dict[Any, dict[str, Any]]:
    """The six 好差评 indicators per key; ratings and cases belong to their ticket's scope."""
    if by is not None and by not in BY_KEYS:
        raise HallError("stats.bad_group", by=by)
    fig = fig if fig is not None else figures(session, scope, (by,) if by else ())
    return {k: v["ratings"] for k, v in stats_facts.finish(fig.grouped(by)).items()}


def breakdown(session: Session, scope: Scope, by: str, fig: Figures | None = None) -> list[dict[str, Any]]:
    """Per-key rows for one grouping (service, window, clerk, hall, group, day, hour)."""
    if by not in BY_KEYS:
        raise HallError("stats.bad_group", by=by)
    fig = fig if fig is not None else figures(session, scope, (by,))
    rows = stats_facts.finish(fig.grouped(by))
    labels = _labels(session, by, list(rows))
    out = []
    for k in sorted(rows, key=lambda x: (x is None, str(x) if not isinstance(x, int) else f"{x:012d}")):
        item = {"key": _key_json(k), "label": labels.get(k, "" if k is None else str(_key_json(k)))}
        item.update(_shape(rows[k]))
        item["ratings"] = rows[k]["ratings"]
        out.append(item)
    return out


def summary(session: Session, scope: Scope, fig: Figures | None = None) -> dict[str, Any]:
    """Totals, tickets per hour, the waiting-time distribution, ratings and 最多跑一次 for the dashboard."""
    fig = fig if fig is not None else figures(session, scope, ())
    grouped = fig.grouped(None)
    total = stats_facts.finish(grouped).get("all")
    empty_ind = {**indicators_from_counts({}, 0, 0, {}).as_dict(), "levels": {}}
    if total is None:
        total = {
            "issued": 0, "served": 0, "no_show": 0, "unserved": 0, "transferred": 0, "appointment_tickets": 0,
            "wait_n": 0,
            "wait_avg": None, "wait_over": 0, "wait_p90": None, "serve_n": 0, "serve_avg": None,
            "serve_p90": None, "ratings": empty_ind,
        }  # fmt: skip
    totals = _shape(total)
    appts = _appointments(session, scope)
    totals["appointments_booked"] = appts["booked"]
    totals["appointments_kept"] = appts["kept"]
    totals["appointments_missed"] = appts["missed"]
    per_hour = stats_facts.per_hour(grouped)
    ind = total["ratings"]
    counts = stats_facts.wait_buckets(grouped, WAIT_BUCKETS_MIN)
    buckets = []
    lower = 0
    for upper, n in zip((*WAIT_BUCKETS_MIN, None), counts, strict=True):
        label = f"{lower}-{upper}" if upper is not None else f"≥{lower}"
        buckets.append({"label": label, "from_minutes": lower, "to_minutes": upper, "count": n})
        lower = upper if upper is not None else lower
    return {
        "hall_ids": list(scope.hall_ids),
        "from": scope.day_from.isoformat(),
        "to": scope.day_to.isoformat(),
        "totals": totals,
        "per_hour": [{"hour": h, "issued": per_hour[h]} for h in range(24)],
        "wait_histogram": buckets,
        "ratings": {
            "indicators": ind,
            "levels": [
                {"level": lv, "name": LEVEL_NAMES_ZH[lv], "count": int(ind["levels"].get(str(lv), 0))}
                for lv in (5, 4, 3, 2, 1)
            ],
        },
        "visits": visits(session, scope),
    }


# --- use cases ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatsQuery:
    """Which halls and days a manager asks figures for (defaults: today, the hall and its subtree)."""

    hall_id: str
    day_from: date | None = None
    day_to: date | None = None
    subtree: bool = True
    window_id: int | None = None
    clerk_id: int | None = None
    service_code: str | None = None


def scope_for(ctx: ServerContext, p: Principal, q: StatsQuery) -> Scope:
    """The halls and period of a query, within what the manager may see."""
    halls = manager_scope(ctx, p, q.hall_id, include_subtree=q.subtree)
    today = ctx.now().astimezone(ctx.catalog.hall(q.hall_id).zone).date()
    return make_scope(
        halls,
        q.day_from,
        q.day_to,
        today,
        window_id=q.window_id,
        clerk_id=q.clerk_id,
        service_code=q.service_code,
    )


def check_by(by: str | None) -> None:
    """stats.bad_group for a grouping the statistics do not have."""
    if by is not None and by not in BY_KEYS:
        raise HallError("stats.bad_group", by=by, allowed=list(BY_KEYS))


def summary_of(ctx: ServerContext, p: Principal, q: StatsQuery) -> dict[str, Any]:
    """Use case: totals, tickets per hour, waiting times, ratings and 最多跑一次 for the period."""
    scope = scope_for(ctx, p, q)
    stat_rollups.catch_up(ctx.db)
    with ctx.db.read() as s:
        return summary(s, scope)


def breakdown_of(ctx: ServerContext, p: Principal, q: StatsQuery, by: str) -> list[dict[str, Any]]:
    """Use case: per service item, window, clerk, hall, group, day or hour."""
    check_by(by)
    scope = scope_for(ctx, p, q)
    stat_rollups.catch_up(ctx.db)
    with ctx.db.read() as s:
        return breakdown(s, scope, by)


def indicators_of(ctx: ServerContext, p: Principal, q: StatsQuery, by: str | None) -> dict[str, Any]:
    """Use case: the six 好差评 indicators in total and, with `by`, per key."""
    check_by(by)
    scope = scope_for(ctx, p, q)
    stat_rollups.catch_up(ctx.db)
    with ctx.db.read() as s:
        fig = figures(s, scope, (by,) if by else ())
        total = rating_indicators(s, scope, None, fig).get("all")
        rows = [
            {"key": item["key"], "label": item["label"], "indicators": item["ratings"]}
            for item in (breakdown(s, scope, by, fig) if by else [])
        ]
    return {
        "from": scope.day_from.isoformat(),
        "to": scope.day_to.isoformat(),
        "total": total,
        "by": by,
        "rows": rows,
    }
