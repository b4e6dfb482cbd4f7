"""The big-screen view (驾驶舱): one hall's live figures with its subtree, readable across a room."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from hall_server.auth import Principal, manager_scope
from hall_server.const import BIGSCREEN_BUSY_WAIT_MINUTES, BIGSCREEN_BUSY_WAITING, BIGSCREEN_MAP_HALLS
from hall_server.db.models import Ticket, Window
from hall_server.services.health import alerts
from hall_server.services.stats import StatsQuery, scope_for, summary
from hall_server.services.tickets import hall_day

if TYPE_CHECKING:
    from hall_server.context import ServerContext

logger = logging.getLogger(__name__)

WAITING = "waiting"
OPEN = "open"
ALERTS_SHOWN = 6


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _live(s: Any, ctx: ServerContext, hall_ids: list[str], now: datetime) -> dict[str, Any]:
    """Waiting now, the longest wait now and windows open (a clerk signed in) over these halls."""
    waiting = 0
    oldest: datetime | None = None
    for hall_id in hall_ids:
        day = hall_day(ctx.catalog.hall(hall_id), now)
        n, first = s.execute(
            select(func.count(), func.min(Ticket.issued_at)).where(
                Ticket.hall_id == hall_id, Ticket.business_day == day, Ticket.status == WAITING
            )
        ).one()
        waiting += int(n)
        if first is not None and (oldest is None or _aware(first) < oldest):
            oldest = _aware(first)
    open_n, total = s.execute(
        select(func.count().filter(Window.status == OPEN, Window.clerk_id.is_not(None)), func.count()).where(
            Window.hall_id.in_(hall_ids)
        )
    ).one()
    longest = max(0, int((now - oldest).total_seconds() // 60)) if oldest else 0
    return {
        "waiting": waiting,
        "longest_wait_minutes": longest,
        "windows_open": int(open_n),
        "windows": int(total),
    }


def bigscreen_of(ctx: ServerContext, p: Principal, hall_id: str) -> dict[str, Any]:
    """Use case (manager of the subtree): the wall's figures of a hall with its subtree, and each hall below."""
    tree = manager_scope(ctx, p, hall_id)
    now = ctx.now()
    parents = ctx.catalog.parents()
    scope = scope_for(ctx, p, StatsQuery(hall_id))
    with ctx.db.read() as s:
        today = summary(s, scope)
        live = _live(s, ctx, tree, now)
        found = alerts(
            s, hall_id, now, ctx.settings.device_stale_seconds, ctx.settings.station_silent_alert_s
        )
        children = []
        for child in sorted(h for h in tree if parents.get(h) == hall_id):
            below = [h for h in tree if h == child or _under(h, child, parents)]
            children.append({"id": child, "name": ctx.catalog.hall(child).name, **_live(s, ctx, below, now)})
        halls_map = _map(s, ctx, hall_id, tree, parents, now)
    totals = today["totals"]
    ind = today["ratings"]["indicators"]
    hall = ctx.catalog.hall(hall_id)
    return {
        "hall": {"id": hall_id, "name": hall.name},
        **live,
        "served_today": totals["served"],
        "issued_today": totals["issued"],
        "wait_avg_minutes": round(totals["wait_avg"] / 60, 1) if totals.get("wait_avg") is not None else None,
        "satisfaction": ind.get("good_rate"),
        "rated_today": ind.get("rated", 0),
        "alerts": [{"level": a["level"], "message": a["message"]} for a in found[:ALERTS_SHOWN]],
        "alerts_total": len(found),
        "children": children,
        "map": halls_map,
        "map_total": len(tree),
        "at": now.isoformat(),
    }


def _under(hall: str, top: str, parents: dict[str, str | None]) -> bool:
    cur = parents.get(hall)
    for _ in range(20):
        if cur is None:
            return False
        if cur == top:
            return True
        cur = parents.get(cur)
    return False


def _state(live: dict[str, Any], alert_count: int) -> str:
    """A hall's colour on the map: alerts first, then a long queue or wait, else calm."""
    if alert_count:
        return "alert"
    if (
        live["waiting"] > BIGSCREEN_BUSY_WAITING
        or live["longest_wait_minutes"] >= BIGSCREEN_BUSY_WAIT_MINUTES
    ):
        return "busy"
    return "calm"


def _map(
    s: Any, ctx: ServerContext, top: str, tree: list[str], parents: dict[str, str | None], now: datetime
) -> list[dict[str, Any]]:
    """The subtree as a tree in drawing order (depth first, by name), each hall with its own figures."""
    kids: dict[str, list[str]] = {}
    for h in tree:
        parent = parents.get(h)
        if h != top and parent is not None:
            kids.setdefault(parent, []).append(h)
    out: list[dict[str, Any]] = []

    def visit(hall_id: str, depth: int) -> None:
        if len(out) >= BIGSCREEN_MAP_HALLS:
            return
        hall = ctx.catalog.hall(hall_id)
        live = _live(s, ctx, [hall_id], now)
        found = alerts(
            s, hall_id, now, ctx.settings.device_stale_seconds, ctx.settings.station_silent_alert_s
        )
        out.append(
            {
                "id": hall_id,
                "parent_id": parents.get(hall_id) if hall_id != top else None,
                "depth": depth,
                "name": hall.name,
                "level": hall.level,
                **live,
                "alerts": len(found),
                "state": _state(live, len(found)),
            }
        )
        for child in sorted(kids.get(hall_id, []), key=lambda h: ctx.catalog.hall(h).name):
            visit(child, depth + 1)

    visit(top, 0)
    return out
