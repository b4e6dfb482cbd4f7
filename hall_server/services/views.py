"""Wire shapes of tickets and windows, built from table rows; personal data masked by default."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from hall_server import audit
from hall_server.catalog import HallConfig
from hall_server.const import AU_ID_REVEALED
from hall_server.context import ServerContext
from hall_server.db.models import Ticket, Window

logger = logging.getLogger(__name__)

T = Ticket.__table__
W = Window.__table__

AT_WINDOW = ("called", "serving")


def local_iso(value: datetime | None, hall: HallConfig) -> str | None:
    """A stored UTC time as ISO 8601 in the hall's time zone."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(hall.zone).isoformat(timespec="seconds")


def ticket_view(
    ctx: ServerContext,
    row: Any,
    *,
    people_ahead: int | None = None,
    estimated_wait_minutes: int | None = None,
    reveal: bool = False,
    track: bool = False,
) -> dict[str, Any]:
    """The `Ticket` of the wire; `reveal` adds the full ID number and name (serving clerk only).

    `track` adds the tracking token and the phone page's address: that token lets its holder
    follow and rate the ticket, so only the one who took the ticket (the issue answer, printed
    as the QR) and the phone page itself get it; events, lists and displays never do.
    """
    hall = ctx.catalog.hall(row.hall_id)
    win = ctx.catalog.window(row.window_id) if row.window_id is not None else None
    holder: dict[str, Any] | None = None
    if row.id_masked or row.name_masked:
        holder = {
            "id_masked": row.id_masked,
            "name_masked": row.name_masked,
            "card_type": row.card_type,
            "id_number": None,
            "name": None,
        }
        if reveal:
            p = ctx.protector
            holder["id_number"] = p.decrypt(row.id_enc, "id_number") if row.id_enc else None
            holder["name"] = p.decrypt(row.name_enc, "name") if row.name_enc else None
    return {
        "id": row.id,
        "hall_id": row.hall_id,
        "number": row.number,
        "prefix": row.prefix,
        "group": row.group_prefix,
        "service_code": row.service_code,
        "service_name": ctx.catalog.service_name(row.service_code),
        "status": row.status,
        "priority": bool(row.priority),
        "green_reason": row.green_reason,
        "appointment_id": row.appointment_id,
        "channel": row.channel,
        "business_day": row.business_day.isoformat(),
        "issued_at": local_iso(row.issued_at, hall),
        "called_at": local_iso(row.called_at, hall),
        "started_at": local_iso(row.started_at, hall),
        "finished_at": local_iso(row.finished_at, hall),
        "window_id": row.window_id,
        "window_number": win.number if win else None,
        "bound_window_id": row.bound_window_id,
        "recall_count": row.recall_count,
        "transfer_count": row.transfer_count,
        "people_ahead": people_ahead,
        "estimated_wait_minutes": estimated_wait_minutes,
        "track_token": row.track_token if track else None,
        "track_url": f"{ctx.settings.base_url}/t/{row.track_token}" if track else None,
        "holder": holder,
    }


def without_track(view: dict[str, Any]) -> dict[str, Any]:
    """A ticket view as events carry it: the same ticket without its tracking capability."""
    return {**view, "track_token": None, "track_url": None}


def record_reveals(s: Any, p: Any, rows: list[Any]) -> None:
    """Record in the audit trail that a clerk was shown the full personal data of these tickets."""
    shown = [r for r in rows if may_reveal(p, r) and (r.id_enc or r.name_enc)]
    if not shown:
        return
    audit.record(
        s,
        AU_ID_REVEALED,
        p.actor,
        hall_id=shown[0].hall_id,
        tickets=[{"id": r.id, "number": r.number, "id_masked": r.id_masked} for r in shown],
        window_id=p.window_id,
    )


def record_reveals_apart(ctx: ServerContext, p: Any, rows: list[Any]) -> None:
    """Like record_reveals, in a short writing transaction of its own (after a read)."""
    if any(may_reveal(p, r) and (r.id_enc or r.name_enc) for r in rows):
        with ctx.db.write() as s:
            record_reveals(s, p, rows)


def may_reveal(principal: Any, row: Any) -> bool:
    """Only the clerk of the window now serving the ticket sees the full personal data."""
    return (
        principal is not None
        and principal.role == "clerk"
        and row.window_id is not None
        and principal.window_id == row.window_id
        and row.status in AT_WINDOW
    )


def window_view(
    ctx: ServerContext, row: Any, *, clerk_name: str | None, current: dict | None
) -> dict[str, Any]:
    """The `Window` of the wire."""
    return {
        "id": row.id,
        "hall_id": row.hall_id,
        "number": row.number,
        "name": row.name,
        "kind": row.kind,
        "zone": row.zone,
        "status": row.status,
        "groups": dict(row.groups or {}),
        "clerk": {"id": row.clerk_id, "name": clerk_name} if row.clerk_id is not None else None,
        "current": current,
    }
