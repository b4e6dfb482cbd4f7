"""Ticket and rating rows with exact times, for statistics checked against hand-computed figures."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hall_server.db.models import Rating, Ticket


def beijing(day: date, hhmm: str) -> datetime:
    """A Beijing wall time as an aware UTC datetime."""
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, h, m, tzinfo=UTC) - timedelta(hours=8)


def add_ticket(
    s: Session,
    *,
    hall_id: str,
    day: date,
    issued: str,
    wait: int | None = None,
    serve: int | None = None,
    status: str | None = None,
    window_id: int | None = None,
    clerk_id: int | None = None,
    service_code: str = "S-001",
    prefix: str = "A",
    transfers: int = 0,
) -> Ticket:
    """A ticket as the core leaves it: issued at `issued` (Beijing), called after `wait` s, served `serve` s."""
    issued_at = beijing(day, issued)
    called = issued_at + timedelta(seconds=wait) if wait is not None else None
    started = called if (called is not None and serve is not None) else None
    finished = started + timedelta(seconds=serve) if started is not None else None
    status = status or ("finished" if finished else ("called" if called else "waiting"))
    seq = (
        s.scalar(select(func.max(Ticket.seq)).where(Ticket.hall_id == hall_id, Ticket.business_day == day))
        or 0
    ) + 1
    t = Ticket(
        hall_id=hall_id,
        business_day=day,
        prefix=prefix,
        seq=seq,
        number=f"{prefix}{seq:03d}",
        group_prefix=prefix,
        service_code=service_code,
        status=status,
        priority=False,
        channel="kiosk",
        issued_at=issued_at,
        called_at=called,
        started_at=started,
        finished_at=finished,
        window_id=window_id if called else None,
        clerk_id=clerk_id if called else None,
        recall_count=0,
        transfer_count=transfers,
        track_token=secrets.token_hex(8),
    )
    s.add(t)
    s.flush()
    return t


def add_rating(s: Session, t: Ticket, level: int, prompted: bool) -> Rating:
    """A rating of a finished ticket, recorded at its finish time."""
    r = Rating(
        hall_id=t.hall_id,
        ticket_id=t.id,
        window_id=t.window_id,
        clerk_id=t.clerk_id,
        service_code=t.service_code,
        level=level,
        reasons=["attitude"] if level <= 2 else [],
        text="",
        channel="device",
        prompted=prompted,
        created_at=t.finished_at or t.issued_at,
    )
    s.add(r)
    s.flush()
    return r
