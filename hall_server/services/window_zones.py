"""A manager names the part of the hall a window stands in (分区, "B区"): said in the directions,
shown on the hall display, audited."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update

from hall_server import audit
from hall_server.auth import Principal, manager_scope, require_not_station
from hall_server.const import AU_WINDOW_ZONE_CHANGED, EV_WINDOW_UPDATED
from hall_server.context import ServerContext
from hall_server.db.models import Window
from hall_server.errors import HallError
from hall_server.events import append_event
from hall_server.services.windows import lock_window, window_out
from queueing.model import check_zone

logger = logging.getLogger(__name__)

W = Window.__table__


def set_zone(ctx: ServerContext, p: Principal, window_id: int, zone: str | None) -> dict[str, Any]:
    """Use case: set (or clear, with "" or None) a window's zone; managers of its hall; audited."""
    with ctx.db.read() as s:
        row = s.execute(select(W.c.hall_id).where(W.c.id == window_id)).first()
    if row is None:
        raise HallError("window.unknown", window_id=window_id)
    manager_scope(ctx, p, row.hall_id, include_subtree=False)
    # The city owns a window's configuration and sends it down with the station's snapshot.
    require_not_station(ctx, "window zones")
    new = check_zone(zone)
    with ctx.db.write() as s:
        win = lock_window(s, window_id)
        old = win.zone
        if old != new:
            s.execute(update(W).where(W.c.id == window_id).values(zone=new))
        saved = s.execute(select(W).where(W.c.id == window_id)).one()
        view = window_out(ctx, s, saved, p)
        if old != new:
            append_event(
                s,
                saved.hall_id,
                EV_WINDOW_UPDATED,
                {"window": window_out(ctx, s, saved), "change": "zone"},
                p.actor,
            )
            audit.record(
                s,
                AU_WINDOW_ZONE_CHANGED,
                p.actor,
                hall_id=saved.hall_id,
                window_id=window_id,
                window_number=saved.number,
                old=old,
                new=new,
            )
    logger.info("window %d zone %r -> %r by %s", window_id, old, new, p.actor)
    return view
