"""Appointments of a station's halls at the parent: the station's attendance records applied.

One writer per record (docs/sync.md, "Appointments"): the city makes and cancels the booking
(`appointments`, with the slot's capacity) and sends it down; the station records whether it
was kept (`appointment_attendance`: checked in with its ticket, or no-show) and sends that up.
The parent copies a pushed attendance into its booking, in the push's transaction and only while
the booking is still `booked` (status, checked_in_at, ticket_id: the fields the station's record
decides; the city's own check-in and no-show sweep leave station halls alone), so the city's
lists, statistics and no-show blocking read the booking as before.

A station may check in a booking the city cancelled while the link was down (it honours what it
knew: the visitor got a priority ticket). The city keeps its cancellation (the place may have
been sold again) and records the conflict: an `appointment.attendance_conflict` event on the
hall's city stream, once (a replayed push finds the attendance already stored).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hall_server.const import EV_APPOINTMENT_CONFLICT
from hall_server.db.models import Appointment, AppointmentAttendance
from hall_server.errors import HallError
from hall_server.events import SYSTEM, append_event
from hall_server.services import notify
from hall_server.sync.protocol import decode_row

logger = logging.getLogger(__name__)

_ATT = AppointmentAttendance.__table__
_APPTS = Appointment.__table__
TABLE = _ATT.name
STATUSES = ("checked_in", "no_show")


def apply_attendance(s: Session, images: list[dict[str, Any]] | None, halls: set[str], now: datetime) -> None:
    """Check a push's attendance rows and copy the new ones into the parent's bookings.

    Runs before the rows are upserted (the caller's transaction), so it sees what was stored
    before this push: a replay changes nothing and records no second conflict.
    """
    if not images:
        return
    rows = [decode_row(_ATT, image) for image in images]
    ids = [int(r["appointment_id"]) for r in rows]
    booked: dict[int, Any] = {}
    known: dict[int, Any] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        booked.update(
            (int(r.id), r)
            for r in s.execute(
                select(_APPTS.c.id, _APPTS.c.hall_id, _APPTS.c.status).where(_APPTS.c.id.in_(chunk))
            )
        )
        known.update(
            (int(r.appointment_id), r)
            for r in s.execute(
                select(_ATT.c.appointment_id, _ATT.c.status).where(_ATT.c.appointment_id.in_(chunk))
            )
        )
    for row in rows:
        appt_id = int(row["appointment_id"])
        appt = booked.get(appt_id)
        if appt is None or appt.hall_id != row["hall_id"] or row["hall_id"] not in halls:
            raise HallError("sync.wrong_hall", table=TABLE, reason="a booking of another hall")
        if row["status"] not in STATUSES:
            raise HallError("sync.bad_row", table=TABLE, column="status", reason="not checked_in or no_show")
        before = known.get(appt_id)
        if before is not None and before.status == row["status"]:
            continue  # applied before: a replay
        values: dict[str, Any] = {"status": row["status"]}
        if row["status"] == "checked_in":
            values.update(checked_in_at=row["at"], ticket_id=row.get("ticket_id"))
        changed = s.execute(
            update(_APPTS).where(_APPTS.c.id == appt_id, _APPTS.c.status == "booked").values(**values)
        ).rowcount
        if changed:
            notify.drop_pending(s, f"remind:{appt_id}")
        elif appt.status == "cancelled" and row["status"] == "checked_in":
            logger.warning("booking %s: checked in at its station after the city cancelled it", appt_id)
            append_event(
                s,
                appt.hall_id,
                EV_APPOINTMENT_CONFLICT,
                {
                    "appointment_id": appt_id,
                    "city_status": appt.status,
                    "station_status": row["status"],
                    "ticket_id": row.get("ticket_id"),
                    "at": row["at"].isoformat(),
                },
                SYSTEM,
                at=now,
            )
