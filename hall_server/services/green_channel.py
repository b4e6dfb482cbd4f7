"""Green channel (绿色通道) checks: a clerk removes a self-declared priority that is not justified."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, union_all, update

from hall_server.auth import Principal, manager_scope, require_hall, require_roles
from hall_server.const import (
    EV_TICKET_PRIORITY_REMOVED,
    GREEN_REASON_ZH,
    PRIORITY_REMOVABLE_STATUSES,
    SELF_DECLARED_GREEN,
)
from hall_server.db.models import Event, ReportEvent, Ticket
from hall_server.errors import HallError
from hall_server.events import append_event
from hall_server.services.tickets import load_ticket
from hall_server.services.views import ticket_view

if TYPE_CHECKING:
    from hall_server.context import ServerContext

logger = logging.getLogger(__name__)

T = Ticket.__table__
REPORT_MAX_DAYS = 366
REPORT_MAX_ROWS = 5000


def remove_priority(ctx: ServerContext, p: Principal, ticket_id: int, reason: str) -> dict[str, Any]:
    """Use case (a clerk of the hall, its managers): the ticket queues as a normal one from now on."""
    require_roles(p, "clerk", "manager", "admin")
    with ctx.db.tx() as s:
        row = load_ticket(s, ticket_id, lock=True)
        require_hall(p, row.hall_id, ctx.catalog)
        if row.green_reason not in SELF_DECLARED_GREEN or row.status not in PRIORITY_REMOVABLE_STATUSES:
            raise HallError(
                "green.not_removable", ticket_id=ticket_id, green_reason=row.green_reason, status=row.status
            )
        updated = s.execute(
            update(T).where(T.c.id == ticket_id).values(priority=False, green_reason=None).returning(T)
        ).one()
        view = ticket_view(ctx, updated)
        payload = {
            "ticket": view,
            "green_reason": row.green_reason,
            "reason": reason,
            "by": p.name or p.username or p.role,
            "window_id": p.window_id,
        }
        append_event(s, row.hall_id, EV_TICKET_PRIORITY_REMOVED, payload, p.actor)
    logger.info("priority %s removed from ticket %s", row.green_reason, ticket_id)
    return view


def removals(
    ctx: ServerContext, p: Principal, hall_id: str, day_from: date | None = None, day_to: date | None = None
) -> list[dict[str, Any]]:
    """Use case (manager): the priorities removed in the hall and its subtree over the days, newest first."""
    halls = manager_scope(ctx, p, hall_id)
    zone = ZoneInfo(ctx.catalog.hall(hall_id).timezone)
    today = ctx.now().astimezone(zone).date()
    day_to = day_to or today
    day_from = day_from or day_to
    if day_from > day_to or (day_to - day_from).days > REPORT_MAX_DAYS:
        raise HallError("request.invalid", message="日期范围不正确", message_en="bad date range")
    # In UTC, as the events are stored: SQLite compares the stored text, so a bound in the hall's
    # zone would cut the report at the wrong hour (from 00:00 to 08:00 Beijing time it lost today).
    start = datetime.combine(day_from, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day_to + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    # The live log and, for days moved to the event archive, the copies kept for this report.
    found = union_all(
        *(
            select(t.c.hall_id, t.c.at, t.c.payload).where(
                t.c.hall_id.in_(halls),
                t.c.type == EV_TICKET_PRIORITY_REMOVED,
                t.c.at >= start,
                t.c.at < end,
            )
            for t in (Event.__table__, ReportEvent.__table__)
        )
    ).subquery()
    with ctx.db.read() as s:
        rows = s.execute(select(found).order_by(found.c.at.desc()).limit(REPORT_MAX_ROWS)).all()
    out = []
    for r in rows:
        data = json.loads(r.payload)
        ticket = data.get("ticket") or {}
        window = ctx.catalog.window(data["window_id"]) if data.get("window_id") else None
        out.append(
            {
                "hall_name": ctx.catalog.hall(r.hall_id).name,
                "number": ticket.get("number"),
                "service_name": ticket.get("service_name"),
                "green_reason": data.get("green_reason"),
                "green_reason_zh": GREEN_REASON_ZH.get(data.get("green_reason") or "", ""),
                "reason": data.get("reason", ""),
                "by": data.get("by", ""),
                "window_name": window.name if window else None,
                "at": r.at.isoformat(),
            }
        )
    return out
