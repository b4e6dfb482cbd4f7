"""Device heartbeats and faults: recorded every time, an event when something changed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

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
    version: str | None = None


def record_heartbeat(ctx: ServerContext, p: Principal, hb: Heartbeat) -> dict[str, Any]:
    """Store the device's state; device.heartbeat when status or faults change, device.fault per new fault.

    A device id belongs to the hall that sent its first heartbeat: another hall gets device.other_hall.
    """
    hall_id = p.hall_id
    if p.role in ("manager", "admin") and hb.hall_id:
        require_hall(p, hb.hall_id, ctx.catalog)
        hall_id = hb.hall_id
    if not hall_id:
        raise HallError("device.unknown_hall")
    ctx.catalog.hall(hall_id)
    now = ctx.now()
    faults = [{"code": f.get("code", ""), "message": f.get("message", "")} for f in hb.faults]
    emitted: list[str] = []
    values = {"kind": hb.kind, "status": hb.status, "faults": faults, "last_seen": now}
    if hb.version:
        values["version"] = hb.version
    with ctx.db.write() as s:
        prev, created = _claim(s, hb.device_id, hall_id, values)
        if prev.hall_id != hall_id:
            # A device belongs to the hall that registered it first; another hall's token changes nothing.
            logger.warning(
                "heartbeat for %s from hall %s refused: it belongs to %s", hb.device_id, hall_id, prev.hall_id
            )
            raise HallError("device.other_hall", device_id=hb.device_id)
        if not created:
            s.execute(update(D).where(D.c.device_id == hb.device_id).values(**values))
        device = {"device_id": hb.device_id, "kind": hb.kind, "status": hb.status, "faults": faults}
        old_codes = {f.get("code") for f in (prev.faults or [])} if not created else set()
        new_codes = {f["code"] for f in faults}
        # A cleared fault is news too: the dashboard closes its alert on this event.
        if created or prev.status != hb.status or old_codes != new_codes:
            append_event(
                s,
                hall_id,
                EV_DEVICE_HEARTBEAT,
                {
                    "device": device,
                    "previous_status": None if created else prev.status,
                    "cleared": sorted(str(c) for c in old_codes - new_codes),
                },
                p.actor,
            )
            emitted.append(EV_DEVICE_HEARTBEAT)
        for fault in faults:
            if fault["code"] not in old_codes:
                append_event(s, hall_id, EV_DEVICE_FAULT, {"device": device, "fault": fault}, p.actor)
                emitted.append(EV_DEVICE_FAULT)
    return {"device": device, "events": emitted}


def _claim(s: Session, device_id: str, hall_id: str, values: dict[str, Any]) -> tuple[Any, bool]:
    """The device's row, locked, inserting it for this hall if new: (row, created).

    INSERT .. ON CONFLICT DO NOTHING on both databases, so two first heartbeats of one new id
    cannot collide on the primary key; the loser reads (and is judged against) the winner's row.
    """
    prev = s.execute(select(D).where(D.c.device_id == device_id).with_for_update()).first()
    if prev is not None:
        return prev, False
    module = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        module.insert(D)
        .values(device_id=device_id, hall_id=hall_id, **values)
        .on_conflict_do_nothing(index_elements=[D.c.device_id])
        .returning(D.c.device_id)
    )
    created = s.execute(stmt).first() is not None
    row = s.execute(select(D).where(D.c.device_id == device_id).with_for_update()).first()
    assert row is not None  # inserted now or by the concurrent winner, which has committed
    return row, created


def list_devices(ctx: ServerContext, p: Principal, hall_id: str) -> list[dict[str, Any]]:
    """Use case: devices of a hall as last seen (anyone of the hall, managers above it)."""
    ctx.catalog.hall(hall_id)
    require_hall(p, hall_id, ctx.catalog)
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
