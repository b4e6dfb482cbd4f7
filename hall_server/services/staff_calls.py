"""Staff calls (呼叫工作人员): a kiosk asks for floor staff, the hall's managers acknowledge on the dashboard."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from hall_server.auth import Principal, manager_scope, require_hall, require_roles
from hall_server.const import (
    EV_STAFF_CALL_ACKNOWLEDGED,
    EV_STAFF_CALL_REQUESTED,
    STAFF_CALL_ALERT_S,
    STAFF_CALL_DEVICE_NAME_ZH,
    STAFF_CALL_ROLES,
)
from hall_server.context import ServerContext
from hall_server.db.models import ApiToken, StaffCall
from hall_server.errors import HallError
from hall_server.events import append_event, station_halls
from hall_server.services.views import local_iso

logger = logging.getLogger(__name__)

SC = StaffCall.__table__
TK = ApiToken.__table__


def staff_call_view(ctx: ServerContext, row: Any) -> dict[str, Any]:
    """The `StaffCallOut` of the wire."""
    hall = ctx.catalog.hall(row.hall_id)
    return {
        "id": row.id,
        "hall_id": row.hall_id,
        "device_name": row.device_name,
        "requested_at": local_iso(row.requested_at, hall),
        "acknowledged_at": local_iso(row.acknowledged_at, hall),
        "acknowledged_by": row.acknowledged_by,
    }


def request_staff(
    ctx: ServerContext, p: Principal, hall_id: str, call_id: str
) -> tuple[dict[str, Any], bool]:
    """Use case: a kiosk of the hall calls floor staff; (call, created).

    The same call id again (a retry, a call queued offline) returns the first call; a call while
    the kiosk's previous one is still open returns that one (a second tap is no second alarm);
    more than settings.staff_calls_per_device new calls in settings.staff_call_rate_window_s is 429.
    """
    require_roles(p, *STAFF_CALL_ROLES)
    ctx.catalog.hall(hall_id)
    require_hall(p, hall_id, ctx.catalog)
    now = ctx.now()
    with ctx.db.write() as s:
        same = s.execute(select(SC).where(SC.c.id == call_id)).first()
        if same is not None:
            if same.token_id != p.token_id:
                raise HallError("staff_call.other_device", call_id=call_id)
            return staff_call_view(ctx, same), False
        mine = SC.c.token_id == p.token_id
        open_call = s.execute(
            select(SC)
            .where(
                mine,
                SC.c.hall_id == hall_id,
                SC.c.acknowledged_at.is_(None),
                SC.c.requested_at >= _alert_since(ctx),
            )
            .order_by(SC.c.requested_at.desc())
            .limit(1)
        ).first()
        if open_call is not None:
            return staff_call_view(ctx, open_call), False
        per_device, window_s = ctx.settings.staff_calls_per_device, ctx.settings.staff_call_rate_window_s
        since = now - timedelta(seconds=window_s)
        recent = s.execute(
            select(func.count()).select_from(SC).where(mine, SC.c.requested_at >= since)
        ).scalar_one()
        if recent >= per_device:
            logger.warning("staff calls of token %s refused: %d in %g s", p.token_id, recent, window_s)
            raise HallError("staff_call.too_many", retry_after=round(window_s))
        name = _device_name(s, p)
        row = s.execute(
            insert(SC)
            .values(id=call_id, hall_id=hall_id, token_id=p.token_id, device_name=name, requested_at=now)
            .returning(*SC.c)
        ).one()
        view = staff_call_view(ctx, row)
        append_event(s, hall_id, EV_STAFF_CALL_REQUESTED, {"call": view}, p.actor)
    logger.info("staff call %s from %s in %s", call_id, name, hall_id)
    return view, True


def acknowledge(ctx: ServerContext, p: Principal, call_id: str) -> dict[str, Any]:
    """Use case: a manager of the hall marks a staff call 已处理 (once; again returns it unchanged)."""
    with ctx.db.write() as s:
        row = s.execute(select(SC).where(SC.c.id == call_id).with_for_update()).first()
        if row is None:
            raise HallError("staff_call.unknown", call_id=call_id)
        manager_scope(ctx, p, row.hall_id, include_subtree=False)
        if row.hall_id in station_halls(s.connection()):
            # The station's call, sent up for the alert (sync/protocol.UP_TABLES): one writer per
            # record, so its floor staff acknowledge it there and the acknowledgement comes up.
            raise HallError("staff_call.at_station", call_id=call_id, hall_id=row.hall_id)
        if row.acknowledged_at is not None:
            return staff_call_view(ctx, row)
        who = p.username or str(p.user_id)
        row = s.execute(
            update(SC)
            .where(SC.c.id == call_id)
            .values(acknowledged_at=ctx.now(), acknowledged_by=who)
            .returning(*SC.c)
        ).one()
        view = staff_call_view(ctx, row)
        # The event is the audit record (who, when) and tells every dashboard and the kiosk.
        append_event(s, row.hall_id, EV_STAFF_CALL_ACKNOWLEDGED, {"call": view}, p.actor)
    return view


def open_calls(s: Session, ctx: ServerContext, hall_id: str) -> list[dict[str, Any]]:
    """The hall's calls not acknowledged yet (and not older than STAFF_CALL_ALERT_S), oldest first."""
    rows = s.execute(
        select(SC)
        .where(
            SC.c.hall_id == hall_id, SC.c.acknowledged_at.is_(None), SC.c.requested_at >= _alert_since(ctx)
        )
        .order_by(SC.c.requested_at)
    ).all()
    return [staff_call_view(ctx, r) for r in rows]


def _alert_since(ctx: ServerContext) -> Any:
    return ctx.now() - timedelta(seconds=STAFF_CALL_ALERT_S)


def _device_name(s: Session, p: Principal) -> str:
    """The name managers gave the device when they enrolled it (its place), else what it is."""
    label = s.execute(select(TK.c.label).where(TK.c.id == p.token_id)).scalar_one_or_none()
    return (label or "").strip() or STAFF_CALL_DEVICE_NAME_ZH
