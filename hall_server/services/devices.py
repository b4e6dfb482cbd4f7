"""Device heartbeats and faults: recorded every time, an event when something changed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from hall_server.auth import Principal, require_hall
from hall_server.const import EV_DEVICE_FAULT, EV_DEVICE_HEARTBEAT
from hall_server.context import ServerContext
from hall_server.db.models import Device
from hall_server.errors import HallError
from hall_server.events import append_event

logger = logging.getLogger(__name__)

D = Device.__table__


@dataclass(frozen=True)
class Heartbeat:
    """What a device reports."""

    device_id: str
    kind: str
    status: str
    faults: list[dict[str, str]]
    hall_id: str | None = None


def record_heartbeat(ctx: ServerContext, p: Principal, hb: Heartbeat) -> dict[str, Any]:
    """Store the device's state; emit device.heartbeat on a status change, device.fault per new fault."""
    hall_id = p.hall_id
    if p.role in ("manager", "admin") and hb.hall_id:
        require_hall(p, hb.hall_id, ctx.catalog)
        hall_id = hb.hall_id
    if not hall_id:
        raise HallError("device.unknown_hall")
    ctx.catalog.hall(hall_id)
    now = datetime.now(UTC)
    faults = [{"code": f.get("code", ""), "message": f.get("message", "")} for f in hb.faults]
    emitted: list[str] = []
    with ctx.db.write() as s:
        prev = s.execute(select(D).where(D.c.device_id == hb.device_id).with_for_update()).first()
        values = {
            "hall_id": hall_id,
            "kind": hb.kind,
            "status": hb.status,
            "faults": faults,
            "last_seen": now,
        }
        if prev is None:
            s.execute(insert(D).values(device_id=hb.device_id, **values))
        else:
            s.execute(update(D).where(D.c.device_id == hb.device_id).values(**values))
        device = {"device_id": hb.device_id, "kind": hb.kind, "status": hb.status, "faults": faults}
        if prev is None or prev.status != hb.status or prev.hall_id != hall_id:
            append_event(
                s,
                hall_id,
                EV_DEVICE_HEARTBEAT,
                {"device": device, "previous_status": prev.status if prev else None},
                p.actor,
            )
            emitted.append(EV_DEVICE_HEARTBEAT)
        old_codes = {f.get("code") for f in (prev.faults or [])} if prev is not None else set()
        for fault in faults:
            if fault["code"] not in old_codes:
                append_event(s, hall_id, EV_DEVICE_FAULT, {"device": device, "fault": fault}, p.actor)
                emitted.append(EV_DEVICE_FAULT)
    return {"device": device, "events": emitted}


def list_devices(ctx: ServerContext, hall_id: str) -> list[dict[str, Any]]:
    """Devices of a hall as last seen."""
    with ctx.db.read() as s:
        rows = s.execute(select(D).where(D.c.hall_id == hall_id).order_by(D.c.device_id)).all()
    return [
        {
            "device_id": r.device_id,
            "kind": r.kind,
            "status": r.status,
            "faults": r.faults or [],
            "last_seen": r.last_seen.isoformat() if r.last_seen else None,
        }
        for r in rows
    ]
