"""The business day's end: tickets still open are closed unserved, lapsed bookings become no-shows.

Runs from the background worker (hall_server.api.dashboard) every few seconds and once at
start-up, so a server that was stopped overnight closes yesterday before serving today. Each
hall is closed in batches of BATCH tickets, one short transaction each, so the writer slot is
never held for long. Every step re-checks the status it changes, so running twice, or in
several server processes at once, closes nothing twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, tuple_, update

from hall_server.catalog import HallConfig
from hall_server.const import (
    EV_TICKET_EXPIRED,
    EV_WINDOW_UPDATED,
    POLICY_DAY_END_GRACE,
    WAITING_COUNTS_KEPT_DAYS,
)
from hall_server.context import ServerContext
from hall_server.db.engine import Tx
from hall_server.db.models import OPEN_TICKETS, Appointment, StationHall, Ticket, User, WaitingCount, Window
from hall_server.events import SYSTEM, stage_event
from hall_server.services.appointments import lapsed_bookings, mark_no_show
from hall_server.services.hall_settings import settings_of
from hall_server.services.views import ticket_view, window_view
from queueing.dayend import DAY_END_REASON, last_ended_day
from queueing.model import OPEN_STATUSES, TicketStatus

logger = logging.getLogger(__name__)

T = Ticket.__table__
W = Window.__table__
A = Appointment.__table__
U = User.__table__
WC = WaitingCount.__table__
# What the pass reads of a ticket it closes: its status, and the waiting_counts row it leaves.
_PICKED = (
    T.c.id,
    T.c.status,
    T.c.business_day,
    T.c.group_prefix,
    T.c.priority,
    T.c.appointment_id,
    T.c.bound_window_id,
)

BATCH = 200
OPEN = sorted(s.value for s in OPEN_STATUSES)
# Written as the partial index's own condition, so both databases use ix_tickets_open.
IS_OPEN = text(OPEN_TICKETS)


def close_ended_days(ctx: ServerContext, now: datetime, *, batch: int = BATCH) -> dict[str, int]:
    """Close every hall's ended business days; returns how many tickets, windows and bookings changed."""
    out = {"expired_tickets": 0, "freed_windows": 0, "appointment_no_shows": 0}
    with ctx.db.read() as s:
        # The tickets read touches only open rows (ix_tickets_open); the bookings read costs
        # what the periodic no-show sweep's does. Both are cheap enough every few seconds.
        oldest: dict[str, date] = dict(
            s.execute(
                select(T.c.hall_id, func.min(T.c.business_day)).where(IS_OPEN).group_by(T.c.hall_id)
            ).all()
        )
        booked: dict[str, date] = dict(
            s.execute(
                select(A.c.hall_id, func.min(A.c.day)).where(A.c.status == "booked").group_by(A.c.hall_id)
            ).all()
        )
        # A parent leaves its stations' halls alone: each station closes its own days and sends
        # the result up (docs/sync.md); the city closing them too would write station records.
        owned = set(s.scalars(select(StationHall.hall_id)))
    for hall_id in sorted((set(oldest) | set(booked)) - owned):
        try:
            hall = ctx.catalog.hall(hall_id)
        except Exception:
            logger.warning("hall %s has open tickets but is not in the catalogue", hall_id)
            continue
        # A grace only moves the end later: with none, is any day of this hall over at all?
        if min(
            _as_date(d) for d in (oldest.get(hall_id), booked.get(hall_id)) if d is not None
        ) > last_ended_day(now, hall.policy.opening_hours, hall.zone, 0):
            continue
        over = ended_day(ctx, hall, now)
        if hall_id in oldest and _as_date(oldest[hall_id]) <= over:
            while True:
                tickets, windows = _close_ticket_batch(ctx, hall, over, batch)
                out["expired_tickets"] += tickets
                out["freed_windows"] += windows
                if tickets < batch:
                    break
        if hall_id in booked and _as_date(booked[hall_id]) <= over:
            out["appointment_no_shows"] += _lapse_bookings(ctx, hall_id, over)
    _drop_empty_counts(ctx, now)
    if any(out.values()):
        logger.info("day end: %s", out)
    return out


def _drop_empty_counts(ctx: ServerContext, now: datetime) -> None:
    """Delete the zero waiting_counts rows of days long over (one row per hall, day, group and
    class would otherwise stay forever). A ticket of such a day arriving late (a station's batch)
    makes its row again. PostgreSQL: rows another transaction holds are left for the next pass,
    so this never waits and never takes part in a deadlock."""
    before = now.astimezone(UTC).date() - timedelta(days=WAITING_COUNTS_KEPT_DAYS)
    keys = (WC.c.hall_id, WC.c.business_day, WC.c.group_prefix, WC.c.priority, WC.c.appointed)
    empty = select(*keys).where(WC.c.n == 0, WC.c.business_day < before)
    with ctx.db.read() as s:
        if s.execute(empty.limit(1)).first() is None:
            return  # most passes: no writing transaction for nothing
    with ctx.db.tx() as tx:
        if tx.get_bind().dialect.name == "postgresql":
            empty = empty.with_for_update(skip_locked=True)
        dropped = tx.execute(delete(WC).where(tuple_(*keys).in_(empty))).rowcount
    if dropped:
        logger.debug("dropped %d empty waiting counts of days before %s", dropped, before)


def ended_day(ctx: ServerContext, hall: HallConfig, now: datetime) -> date:
    """The hall's newest business day that is over at `now` (its closing time plus grace passed)."""
    with ctx.db.read() as s:
        grace = int(settings_of(s, hall.id)[POLICY_DAY_END_GRACE])
    return last_ended_day(now, hall.policy.opening_hours, hall.zone, grace)


def _as_date(value: Any) -> date:
    # SQLite hands MIN() of a date column back as text.
    return date.fromisoformat(value) if isinstance(value, str) else value


def _close_ticket_batch(ctx: ServerContext, hall: HallConfig, over: date, batch: int) -> tuple[int, int]:
    """Expire up to `batch` open tickets of days up to `over` in one transaction; frees their windows."""
    with ctx.db.tx() as tx:
        pg = tx.get_bind().dialect.name == "postgresql"
        where = (T.c.hall_id == hall.id, IS_OPEN, T.c.business_day <= over)
        stale = select(T.c.id).where(*where).order_by(T.c.id).limit(batch)
        # Windows first, then tickets: the order every clerk operation locks them in, so a
        # clerk pressing a button at closing time cannot deadlock with this pass.
        if pg:
            held = select(W.c.id).where(W.c.hall_id == hall.id, W.c.current_ticket_id.in_(stale))
            tx.execute(held.order_by(W.c.id).with_for_update()).all()
        pick = select(*_PICKED).where(*where).order_by(T.c.id).limit(batch)
        # A ticket a clerk is changing right now is skipped here and taken by the next pass.
        rows = tx.execute(pick.with_for_update(skip_locked=True) if pg else pick).all()
        if not rows:
            return 0, 0
        if pg:
            _lock_waiting_counts(tx, hall.id, rows)
        before = {r.id: r.status for r in rows}
        # The status re-check keeps a ticket another process closed meanwhile out of this pass.
        closed = tx.execute(
            update(T)
            .where(T.c.id.in_(list(before)), T.c.status.in_(OPEN))
            .values(status=TicketStatus.EXPIRED.value, bound_window_id=None)
            .returning(T)
        ).all()
        closed.sort(key=lambda r: r.id)
        ids = [r.id for r in closed]
        freed = tx.execute(
            update(W)
            .where(W.c.current_ticket_id.in_(ids))
            .values(current_ticket_id=None, last_ticket_id=W.c.current_ticket_id)
            .returning(W)
        ).all()
        for row in closed:
            stage_event(
                tx,
                hall.id,
                EV_TICKET_EXPIRED,
                {
                    "ticket": ticket_view(ctx, row),
                    "from": before[row.id],
                    "reason": DAY_END_REASON,
                    "business_day": row.business_day.isoformat(),
                },
                SYSTEM,
            )
        for win in sorted(freed, key=lambda r: r.id):
            stage_event(
                tx,
                hall.id,
                EV_WINDOW_UPDATED,
                {
                    "window": window_view(ctx, win, clerk_name=_clerk_name(tx, win.clerk_id), current=None),
                    "change": DAY_END_REASON,
                },
                SYSTEM,
            )
    if freed:
        # Wait estimates read the windows; forget the cache (every hall's: rare and cheap).
        ctx.estimates.clear()
    return len(closed), len(freed)


def _lock_waiting_counts(tx: Tx, hall_id: str, rows: list[Any]) -> None:
    """Lock, in key order, the waiting_counts rows the batch's waiting tickets will leave.

    The trigger of migration 0024 takes a count row per ticket in the order the UPDATE meets
    the tickets; two transactions each meeting two classes in opposite orders (another
    process's pass, a late ticket of that day) would each hold a row the other waits for.
    """
    keys = sorted(
        {
            (r.business_day, r.group_prefix, bool(r.priority), r.appointment_id is not None)
            for r in rows
            if r.status == TicketStatus.WAITING.value and r.bound_window_id is None
        }
    )
    if keys:
        cols = (WC.c.business_day, WC.c.group_prefix, WC.c.priority, WC.c.appointed)
        tx.execute(
            select(WC.c.n)
            .where(WC.c.hall_id == hall_id, tuple_(*cols).in_(keys))
            .order_by(*cols)
            .with_for_update()
        ).all()


def _clerk_name(tx: Tx, clerk_id: int | None) -> str | None:
    if clerk_id is None:
        return None
    return tx.scalar(select(U.c.name).where(U.c.id == clerk_id))


def _lapse_bookings(ctx: ServerContext, hall_id: str, over: date) -> int:
    """Bookings of ended days never checked in become no-shows (as the no-show sweep records them).

    Like the sweep: a station records attendance rows, a parent leaves its stations' halls alone.
    """
    count = 0
    station = ctx.settings.station_mode
    with ctx.db.write() as s:
        late = list(
            s.scalars(
                lapsed_bookings(station)
                .where(Appointment.hall_id == hall_id, Appointment.day <= over)
                .order_by(Appointment.id)
            )
        )
        for appt in late:
            # Conditional: the periodic no-show sweep of another process may mark it at the same moment.
            count += mark_no_show(s, appt, ctx.now(), station=station, extra={"reason": DAY_END_REASON})
    return count
