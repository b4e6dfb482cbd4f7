"""Follow-up of bad ratings (差评整改): one case per bad rating, a working-day deadline, recorded steps."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hall_server.auth import (
    MANAGER_ROLES,
    Principal,
    manager_scope,
    require_not_station,
    require_roles,
    visible_halls,
)
from hall_server.const import EV_FOLLOWUP_OPENED, EV_FOLLOWUP_STEP, POLICY_FOLLOWUP_DAYS
from hall_server.context import ServerContext
from hall_server.db.models import FollowupCase, FollowupStep, Hall, Rating, ServiceItem, Ticket, User, Window
from hall_server.errors import HallError
from hall_server.events import Actor, append_event
from hall_server.services.calendars import calendar_for_hall, unverified_years
from hall_server.services.hall_settings import settings_of
from queueing import const as qconst
from queueing.calendar import WorkCalendar
from queueing.steps import FOLLOWUP

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepInput:
    """The next step of a case, with a note; a return visit records whether the rater is satisfied."""

    step: str
    note: str = ""
    satisfied: bool | None = None


def list_cases_of(
    ctx: ServerContext, p: Principal, hall_id: str, *, open_only: bool = False
) -> list[dict[str, Any]]:
    """Use case: the cases of a hall and the halls below it, earliest deadline first (its managers)."""
    halls = manager_scope(ctx, p, hall_id)
    now = ctx.now()
    try:
        with ctx.db.write() as s:
            open_missing_cases(s, now, halls)
    except IntegrityError:
        # Another server process opened the same case at the same moment: it is there now.
        logger.info("follow-up cases opened concurrently elsewhere")
    with ctx.db.read() as s:
        return list_cases(s, halls, open_only=open_only, today=_today(ctx, hall_id))


def get_case(ctx: ServerContext, p: Principal, case_id: int) -> dict[str, Any]:
    """Use case: one case with its recorded steps (managers whose subtree holds its hall)."""
    require_roles(p, *MANAGER_ROLES)
    allowed = set(visible_halls(ctx, p))
    with ctx.db.read() as s:
        case = s.get(FollowupCase, case_id)
        if case is None or case.hall_id not in allowed:
            raise HallError("followup.unknown", case_id=case_id)
        return _with_steps(ctx, s, case)


def add_step(ctx: ServerContext, p: Principal, case_id: int, req: StepInput) -> dict[str, Any]:
    """Use case: record the next step (verified, answered, fixed, revisited, closed) by the manager."""
    require_roles(p, *MANAGER_ROLES)
    require_not_station(ctx, "follow-up cases")
    allowed = set(visible_halls(ctx, p))
    with ctx.db.write() as s:
        case = advance(
            s,
            case_id,
            req.step,
            user_id=p.user_id,
            user_name=p.name or p.username or p.role,
            note=req.note,
            satisfied=req.satisfied,
            now=ctx.now(),
            allowed_halls=allowed,
        )
        return _with_steps(ctx, s, case)


def _today(ctx: ServerContext, hall_id: str) -> date:
    return ctx.now().astimezone(ctx.catalog.hall(hall_id).zone).date()


def _with_steps(ctx: ServerContext, s: Session, case: FollowupCase) -> dict[str, Any]:
    out = detail(s, case, today=_today(ctx, case.hall_id))
    out["steps"] = steps_of(s, case.id)
    return out


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def open_missing_cases(session: Session, now: datetime, hall_ids: list[str] | None = None) -> int:
    """Open a case for every bad rating that has none yet (idempotent; run before reading cases)."""
    stmt = (
        select(Rating)
        .outerjoin(FollowupCase, FollowupCase.rating_id == Rating.id)
        .where(Rating.level <= qconst.BAD_RATING_MAX, FollowupCase.id.is_(None))
        .order_by(Rating.id)
    )
    if hall_ids is not None:
        stmt = stmt.where(Rating.hall_id.in_(hall_ids))
    opened = 0
    halls: dict[str, Hall] = {}
    for rating in session.scalars(stmt):
        hall = halls.get(rating.hall_id) or session.get(Hall, rating.hall_id)
        if hall is None:
            continue
        halls[hall.id] = hall
        zone = ZoneInfo(hall.timezone or "Asia/Shanghai")
        opened_on = _aware(rating.created_at).astimezone(zone).date()
        n_days = int(settings_of(session, hall.id)[POLICY_FOLLOWUP_DAYS])
        deadline = calendar_for_hall(session, hall.id).add_working_days(opened_on, n_days)
        unchecked = unverified_years(session, hall.id, opened_on, deadline)
        if unchecked:
            logger.warning(
                "follow-up deadline of rating %s counted without a verified calendar for %s",
                rating.id,
                unchecked,
            )
        case = FollowupCase(
            hall_id=rating.hall_id,
            rating_id=rating.id,
            ticket_id=rating.ticket_id,
            window_id=rating.window_id,
            clerk_id=rating.clerk_id,
            service_code=rating.service_code,
            level=rating.level,
            opened_on=opened_on,
            deadline=deadline,
            step="open",
            created_at=now,
            updated_at=now,
        )
        # Another transaction (a reader's pass, the background pass) may be opening the same
        # case: under read committed both saw it missing. The unique rating_id decides; the
        # loser skips the case instead of failing the caller's whole transaction.
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
        except IntegrityError:
            logger.debug("follow-up case of rating %s opened by another transaction", rating.id)
            continue
        session.add(
            FollowupStep(case_id=case.id, step="open", user_id=None, user_name="系统", note="", at=now)
        )
        append_event(
            session, case.hall_id, EV_FOLLOWUP_OPENED, view(session, case, today=opened_on), Actor("system")
        )
        opened += 1
    if opened:
        logger.info("opened %d follow-up cases", opened)
    return opened


def advance(
    session: Session,
    case_id: int,
    step: str,
    *,
    user_id: int | None,
    user_name: str,
    note: str,
    satisfied: bool | None,
    now: datetime,
    allowed_halls: set[str] | None,
) -> FollowupCase:
    """Move a case one step forward, recorded with the manager's name; the revisit needs `satisfied`."""
    case = session.get(FollowupCase, case_id)
    if case is None or (allowed_halls is not None and case.hall_id not in allowed_halls):
        raise HallError("followup.unknown", case_id=case_id)
    FOLLOWUP.check_next(case.step, step)
    if step == "revisited":
        if satisfied is None:
            raise HallError("followup.satisfied_required")
        case.revisit_satisfied = bool(satisfied)
    case.step = step
    case.updated_at = now
    if step == "closed":
        case.closed_at = now
    session.add(
        FollowupStep(case_id=case.id, step=step, user_id=user_id, user_name=user_name, note=note, at=now)
    )
    session.flush()
    append_event(
        session,
        case.hall_id,
        EV_FOLLOWUP_STEP,
        {"case_id": case.id, "step": step, "by": user_name, "note": note, "satisfied": satisfied},
        Actor("manager", str(user_id) if user_id is not None else None),
    )
    return case


def list_cases(
    session: Session, hall_ids: list[str], *, open_only: bool = False, today: date | None = None
) -> list[dict[str, Any]]:
    """Cases of the given halls, oldest deadline first."""
    stmt = (
        select(FollowupCase)
        .where(FollowupCase.hall_id.in_(hall_ids))
        .order_by(FollowupCase.deadline, FollowupCase.id)
    )
    if open_only:
        stmt = stmt.where(FollowupCase.step != "closed")
    calendars: dict[str, WorkCalendar] = {}
    out = []
    for c in session.scalars(stmt):
        if c.hall_id not in calendars:
            calendars[c.hall_id] = calendar_for_hall(session, c.hall_id)
        out.append(detail(session, c, today=today, calendar=calendars[c.hall_id]))
    return out


def steps_of(session: Session, case_id: int) -> list[dict[str, Any]]:
    """The recorded steps of a case."""
    rows = session.scalars(
        select(FollowupStep).where(FollowupStep.case_id == case_id).order_by(FollowupStep.id)
    )
    return [
        {
            "step": s.step,
            "step_zh": FOLLOWUP.label(s.step),
            "by": s.user_name,
            "note": s.note,
            "at": _aware(s.at).isoformat(),
        }
        for s in rows
    ]


def view(session: Session, c: FollowupCase, *, today: date | None = None) -> dict[str, Any]:
    """The wire form of a case; overdue when not closed and today is past the deadline."""
    window = session.get(Window, c.window_id) if c.window_id else None
    item = session.get(ServiceItem, c.service_code)
    ticket = session.get(Ticket, c.ticket_id) if c.ticket_id else None
    hall = session.get(Hall, c.hall_id)
    today = today or datetime.now(UTC).date()
    return {
        "id": c.id,
        "hall_id": c.hall_id,
        # What a manager knows a case by (the hall, the ticket's number, the day): ids stay off screens.
        "hall_name": hall.name if hall else None,
        "ticket_number": ticket.number if ticket else None,
        "rating_id": c.rating_id,
        "ticket_id": c.ticket_id,
        "window_id": c.window_id,
        "window_number": window.number if window else None,
        "clerk_id": c.clerk_id,
        "service_code": c.service_code,
        "service_name": item.name if item else None,
        "level": c.level,
        "opened_on": c.opened_on.isoformat(),
        "deadline": c.deadline.isoformat(),
        "step": c.step,
        "step_zh": FOLLOWUP.label(c.step),
        "revisit_satisfied": c.revisit_satisfied,
        "overdue": c.step != "closed" and today > c.deadline,
    }


def detail(
    session: Session, c: FollowupCase, *, today: date | None = None, calendar: WorkCalendar | None = None
) -> dict[str, Any]:
    """A case as its managers read it: the wire form plus the rating's reasons and text, the window's
    and clerk's names and the working days left (never in events: the rater's text stays off the bus)."""
    out = view(session, c, today=today)
    today = today or datetime.now(UTC).date()
    rating = session.get(Rating, c.rating_id)
    window = session.get(Window, c.window_id) if c.window_id else None
    clerk = session.get(User, c.clerk_id) if c.clerk_id else None
    if c.step == "closed":
        left = None
    else:
        cal = calendar or calendar_for_hall(session, c.hall_id)
        # Counted like the deadline: working days after today up to the deadline; negative when late.
        left = cal.working_days_between(today, c.deadline)
    reasons = list(rating.reasons or []) if rating else []
    out.update(
        level_zh=qconst.RATING_LABELS.get(c.level, ("", ""))[0],
        reasons=reasons,
        reasons_zh=[qconst.RATING_REASONS.get(r, (r, r))[0] for r in reasons],
        text=(rating.text or "") if rating else "",
        window_name=window.name if window else None,
        clerk_name=(clerk.name or clerk.username) if clerk else None,
        working_days_left=left,
        # Years the deadline was counted through without a verified calendar: the dashboard warns.
        calendar_unverified=unverified_years(session, c.hall_id, c.opened_on, c.deadline),
    )
    return out
