"""Who works where: the day's roster, the rule of who may sit down at a window, and hand-over.

The rules a clerk's log-in passes (`admit`, called in the log-in's transaction):
- a window where another clerk has a live session is refused (409 auth.window_occupied, the
  sitting clerk named) until that clerk logs out or a manager hands the window over;
- a hall with a roster for today admits a clerk only at a window they are rostered for, within
  the rostered hours (403 auth.not_rostered); a hall without any roster line today lets its
  clerks sit at any free window (a small hall that keeps no roster works as before).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from hall_server import audit
from hall_server.auth import Principal, manager_scope, require_not_station
from hall_server.const import (
    AU_ROSTER_CHANGED,
    AU_WINDOW_HANDED_OVER,
    EV_CLERK_LOGGED_OUT,
    ROSTER_MAX_DAYS,
)
from hall_server.context import ServerContext
from hall_server.db.models import ApiToken, Sitting, User, Window
from hall_server.errors import HallError
from hall_server.events import append_event
from hall_server.services.names import window_title
from hall_server.services.windows import lock_window, window_out

logger = logging.getLogger(__name__)

SIT = Sitting.__table__
U = User.__table__
W = Window.__table__
TK = ApiToken.__table__
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class SittingInput:
    """A roster line: the clerk at the window on the day, from starts to ends (local HH:MM)."""

    day: str
    window_id: int
    user_id: int
    starts: str
    ends: str


def window_label(ctx: ServerContext, hall_id: str, name: str, number: int) -> str:
    """ "hall name · window name": 1号窗口 alone is ambiguous across halls."""
    try:
        hall = ctx.catalog.hall(hall_id).name
    except HallError:
        hall = hall_id
    return window_title(hall, number, name)


def _sitting_view(ctx: ServerContext, r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "day": r.day,
        "window_id": r.window_id,
        "window": window_label(ctx, r.hall_id, r.window_name, r.window_number),
        "window_name": r.window_name or f"{r.window_number}号窗口",
        "user_id": r.user_id,
        "clerk": r.clerk_name or r.username,
        "starts": r.starts,
        "ends": r.ends,
    }


def _roster_select() -> Any:
    return (
        select(
            SIT,
            W.c.name.label("window_name"),
            W.c.number.label("window_number"),
            U.c.name.label("clerk_name"),
            U.c.username,
        )
        .join(W, W.c.id == SIT.c.window_id)
        .join(U, U.c.id == SIT.c.user_id)
    )


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HallError("sitting.invalid", reason="day must be YYYY-MM-DD", day=value[:20]) from None


def roster(ctx: ServerContext, p: Principal, hall_id: str, day: str, days: int = 1) -> list[dict[str, Any]]:
    """Use case: the roster of a hall from day, for `days` days (managers of the hall or above)."""
    manager_scope(ctx, p, hall_id, include_subtree=False)
    first = _day(day)
    if not 1 <= days <= ROSTER_MAX_DAYS:
        raise HallError("sitting.invalid", reason=f"days must be 1..{ROSTER_MAX_DAYS}")
    wanted = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    with ctx.db.read() as s:
        rows = s.execute(
            _roster_select()
            .where(SIT.c.hall_id == hall_id, SIT.c.day.in_(wanted))
            .order_by(SIT.c.day, W.c.number, SIT.c.starts)
        ).all()
    return [_sitting_view(ctx, r) for r in rows]


def add_sitting(ctx: ServerContext, p: Principal, hall_id: str, new: SittingInput) -> dict[str, Any]:
    """Use case: rostering a clerk of the hall at one of its windows; overlaps refused, audited."""
    manager_scope(ctx, p, hall_id, include_subtree=False)
    require_not_station(ctx, "rosters")
    _day(new.day)
    # "24:00" ends a line at midnight.
    ends_ok = bool(_HHMM.match(new.ends)) or new.ends == "24:00"
    if not (_HHMM.match(new.starts) and ends_ok) or new.starts >= new.ends:
        raise HallError(
            "sitting.invalid", reason="starts and ends are HH:MM (ends up to 24:00), starts before ends"
        )
    with ctx.db.write() as s:
        win = s.execute(select(W).where(W.c.id == new.window_id)).first()
        if win is None or win.hall_id != hall_id:
            raise HallError("window.unknown", window_id=new.window_id)
        clerk = s.execute(select(U).where(U.c.id == new.user_id)).first()
        if clerk is None or clerk.role != "clerk" or clerk.hall_id != hall_id or not clerk.active:
            raise HallError("staff.unknown", user_id=new.user_id)
        clash = s.execute(
            select(SIT.c.id).where(
                SIT.c.day == new.day,
                or_(SIT.c.window_id == new.window_id, SIT.c.user_id == new.user_id),
                SIT.c.starts < new.ends,
                SIT.c.ends > new.starts,
            )
        ).first()
        if clash is not None:
            raise HallError("sitting.overlap")
        sitting_id = s.execute(
            insert(SIT)
            .values(
                hall_id=hall_id,
                window_id=new.window_id,
                user_id=new.user_id,
                day=new.day,
                starts=new.starts,
                ends=new.ends,
            )
            .returning(SIT.c.id)
        ).scalar_one()
        audit.record(
            s,
            AU_ROSTER_CHANGED,
            p.actor,
            hall_id=hall_id,
            change="added",
            sitting_id=int(sitting_id),
            window_id=new.window_id,
            user_id=new.user_id,
            day=new.day,
            starts=new.starts,
            ends=new.ends,
        )
        row = s.execute(_roster_select().where(SIT.c.id == sitting_id)).one()
    return _sitting_view(ctx, row)


def remove_sitting(ctx: ServerContext, p: Principal, sitting_id: int) -> None:
    """Use case: taking a roster line off (a session already begun is not ended), audited."""
    with ctx.db.read() as s:
        row = s.execute(select(SIT).where(SIT.c.id == sitting_id)).first()
    if row is None:
        raise HallError("sitting.unknown", sitting_id=sitting_id)
    manager_scope(ctx, p, row.hall_id, include_subtree=False)
    require_not_station(ctx, "rosters")
    with ctx.db.write() as s:
        if not s.execute(delete(SIT).where(SIT.c.id == sitting_id)).rowcount:
            raise HallError("sitting.unknown", sitting_id=sitting_id)
        audit.record(
            s,
            AU_ROSTER_CHANGED,
            p.actor,
            hall_id=row.hall_id,
            change="removed",
            sitting_id=sitting_id,
            window_id=row.window_id,
            user_id=row.user_id,
            day=row.day,
            starts=row.starts,
            ends=row.ends,
        )


def _live_session(s: Session, window_id: int, user_id: int, now: datetime) -> bool:
    """Whether the clerk has a session at the window that has not ended, expired or lapsed idle."""
    rows = s.execute(
        select(TK.c.expires_at, TK.c.idle_s, TK.c.last_used_at, TK.c.created_at).where(
            TK.c.window_id == window_id,
            TK.c.user_id == user_id,
            TK.c.role == "clerk",
            TK.c.revoked_at.is_(None),
        )
    ).all()
    for expires_at, idle_s, last_used, created in rows:
        expires_at = _aware(expires_at)
        last = _aware(last_used) or _aware(created) or now
        if expires_at is not None and now >= expires_at:
            continue
        if idle_s is not None and now - last >= timedelta(seconds=idle_s):
            continue
        return True
    return False


def _aware(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def admit(ctx: ServerContext, s: Session, user: Any, win: Any) -> None:
    """May this clerk sit down at this (locked) window now? Raises the refusal the clerk sees."""
    taken = win.clerk_id is not None and win.clerk_id != user.id
    if taken and _live_session(s, win.id, win.clerk_id, datetime.now(UTC)):
        sitting = s.execute(select(U.c.name, U.c.username).where(U.c.id == win.clerk_id)).first()
        who = (sitting.name or sitting.username) if sitting else "其他工作人员"
        label = win.name or f"{win.number}号窗口"
        raise HallError(
            "auth.window_occupied",
            message=f"{label}已由{who}登录。请{who}先退出，或请管理员在“排班”页办理窗口交接。",
            message_en=f"{label} is taken by {who}: they log out first, or a manager hands it over.",
            window=label,
            clerk=who,
        )
    hall = ctx.catalog.hall(win.hall_id)
    local = ctx.now().astimezone(hall.zone)
    today = local.date().isoformat()
    lines = s.execute(
        select(SIT.c.window_id, SIT.c.user_id, SIT.c.starts, SIT.c.ends).where(
            SIT.c.hall_id == win.hall_id, SIT.c.day == today
        )
    ).all()
    if not lines:
        return
    hhmm = local.strftime("%H:%M")
    mine = [r for r in lines if r.user_id == user.id]
    if any(r.window_id == win.id and r.starts <= hhmm < r.ends for r in mine):
        return
    where = "、".join(f"{_window_name(s, r.window_id)} {r.starts}-{r.ends}" for r in mine)
    raise HallError(
        "auth.not_rostered",
        message=(
            f"您今天未排班在该窗口（当前{hhmm}）。"
            + (f"您的排班：{where}。" if where else "您今天没有排班，请联系管理员。")
        ),
        rostered=[{"window_id": r.window_id, "starts": r.starts, "ends": r.ends} for r in mine],
    )


def _window_name(s: Session, window_id: int) -> str:
    row = s.execute(select(W.c.name, W.c.number).where(W.c.id == window_id)).first()
    return (row.name or f"{row.number}号窗口") if row else "?"


def hand_over(ctx: ServerContext, p: Principal, window_id: int, reason: str = "") -> dict[str, Any]:
    """Use case: a manager ends the session of the clerk sitting at a window so another may log in.

    The window keeps its status, queue and ticket in hand; the hand-over is in the audit trail
    and the clerk terminal hears clerk.logged_out (reason "handover").
    """
    with ctx.db.read() as s:
        row = s.execute(select(W.c.hall_id).where(W.c.id == window_id)).first()
    if row is None:
        raise HallError("window.unknown", window_id=window_id)
    manager_scope(ctx, p, row.hall_id, include_subtree=False)
    with ctx.db.write() as s:
        win = lock_window(s, window_id)
        clerk_id = win.clerk_id
        ended = s.execute(
            update(TK)
            .where(TK.c.window_id == window_id, TK.c.role == "clerk", TK.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        ).rowcount
        clerk = s.execute(select(U.c.id, U.c.name, U.c.username).where(U.c.id == clerk_id)).first()
        if clerk_id is not None:
            s.execute(update(W).where(W.c.id == window_id).values(clerk_id=None))
        freed = s.execute(select(W).where(W.c.id == window_id)).one()
        view = window_out(ctx, s, freed)
        if clerk is not None:
            append_event(
                s,
                freed.hall_id,
                EV_CLERK_LOGGED_OUT,
                {"clerk": {"id": clerk.id, "name": clerk.name}, "window": view, "reason": "handover"},
                p.actor,
            )
        audit.record(
            s,
            AU_WINDOW_HANDED_OVER,
            p.actor,
            hall_id=freed.hall_id,
            window_id=window_id,
            clerk=clerk.username if clerk else None,
            sessions_ended=int(ended or 0),
            reason=reason,
        )
    logger.info("window %d handed over by %s", window_id, p.actor)
    return {"window": window_label(ctx, freed.hall_id, freed.name, freed.number), "ended": int(ended or 0)}
