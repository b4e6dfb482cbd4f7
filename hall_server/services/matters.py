"""Matters (办件): recorded against a ticket at the window, moved through back-office steps, looked up by ID."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hall_server.auth import MANAGER_ROLES, Principal, require_roles, require_window_operator, visible_halls
from hall_server.const import EV_MATTER_RECORDED, EV_MATTER_STEP
from hall_server.context import ServerContext
from hall_server.crypto import DataProtector
from hall_server.db.models import Hall, Matter, MatterStep, MatterVisit, ServiceItem, Ticket
from hall_server.errors import HallError
from hall_server.events import Actor, append_event
from queueing.hierarchy import subtree
from queueing.idnumber import parse_id_number
from queueing.steps import MATTER

logger = logging.getLogger(__name__)

# Who works a matter's back-office steps.
STAFF_ROLES = ("clerk", *MANAGER_ROLES)


@dataclass(frozen=True)
class RecordInput:
    """A matter accepted at the window (the service item defaults to the ticket's)."""

    service_code: str | None = None
    case_no: str | None = None


def record_at_window(ctx: ServerContext, p: Principal, ticket_id: int, req: RecordInput) -> dict[str, Any]:
    """Use case: record a matter against the ticket being served (clerk of that window, manager, admin).

    A known case_no adds this ticket as one more visit to that matter (最多跑一次 counts them).
    """
    with ctx.db.write() as s:
        t = s.get(Ticket, ticket_id)
        if t is None:
            raise HallError("ticket.unknown", ticket_id=ticket_id)
        if t.window_id is None:
            raise HallError("matter.not_served", ticket_id=ticket_id)
        require_window_operator(p, t.window_id, t.hall_id, ctx.catalog)
        matter, _created = record(
            s,
            ticket_id=ticket_id,
            window_id=t.window_id if p.role == "clerk" else None,
            clerk_id=p.user_id if p.role == "clerk" else None,
            actor=p.actor,
            service_code=req.service_code,
            case_no=req.case_no,
            now=ctx.now(),
        )
        return view(s, matter)


def add_step(ctx: ServerContext, p: Principal, matter_id: int, step: str, note: str) -> dict[str, Any]:
    """Use case: move a matter to its next step (back office: managers, admins, clerks of its hall)."""
    require_roles(p, *STAFF_ROLES)
    allowed = set(visible_halls(ctx, p))
    with ctx.db.write() as s:
        matter = advance(s, matter_id, step, p.actor, note, ctx.now(), allowed)
        return view(s, matter)


def get_matter(ctx: ServerContext, p: Principal, matter_id: int) -> dict[str, Any]:
    """Use case: one matter with its history (staff of its hall)."""
    require_roles(p, *STAFF_ROLES)
    allowed = set(visible_halls(ctx, p))
    with ctx.db.read() as s:
        matter = get(s, matter_id)
        if matter.hall_id not in allowed:
            raise HallError("matter.unknown", matter_id=matter_id)
        return view(s, matter)


def query_person(ctx: ServerContext, p: Principal, id_number: str) -> list[dict[str, Any]]:
    """Use case: a visitor's matters and where each stands, within the caller's halls (masked).

    A kiosk sees the matters of its own hall and the halls below it, for the card on its reader; a
    manager those of their subtree. A token of one hall never reveals a person's matters elsewhere.
    """
    require_roles(p, "kiosk", *MANAGER_ROLES)
    if p.role == "kiosk":
        halls = subtree(p.hall_id, ctx.catalog.parents()) if p.hall_id else []
    else:
        halls = visible_halls(ctx, p)
    with ctx.db.read() as s:
        return for_person(s, ctx.protector, id_number, halls)


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def _new_case_no(session: Session, hall: Hall, now: datetime) -> str:
    day = now.astimezone(ZoneInfo(hall.timezone or "Asia/Shanghai")).strftime("%Y%m%d")
    for _ in range(20):
        case_no = f"{hall.id.upper()[:12]}-{day}-{secrets.randbelow(10**6):06d}"
        if session.scalar(select(Matter.id).where(Matter.case_no == case_no)) is None:
            return case_no
    raise RuntimeError("could not draw a free case number")


def record(
    session: Session,
    *,
    ticket_id: int,
    window_id: int | None,
    clerk_id: int | None,
    actor: Actor,
    service_code: str | None,
    case_no: str | None,
    now: datetime,
) -> tuple[Matter, bool]:
    """Record a matter at the window serving the ticket; a known case_no adds a visit instead.

    Returns (matter, created). The ticket must be called or in service at that window.
    """
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise HallError("ticket.unknown", ticket_id=ticket_id)
    if ticket.status not in ("called", "serving", "finished") or (
        window_id is not None and ticket.window_id != window_id
    ):
        raise HallError("matter.not_served", ticket_id=ticket_id, ticket_status=ticket.status)
    hall = session.get(Hall, ticket.hall_id)
    assert hall is not None
    code = service_code or ticket.service_code
    if session.get(ServiceItem, code) is None:
        raise HallError("service.unknown", service_code=code)
    if case_no:
        existing = session.scalar(select(Matter).where(Matter.case_no == case_no.strip()))
        if existing is not None:
            if existing.id_hmac and ticket.id_hmac and existing.id_hmac != ticket.id_hmac:
                raise HallError("matter.other_person", case_no=case_no)
            _add_visit(session, existing, ticket.id, now)
            existing.updated_at = now
            return existing, False
    matter = Matter(
        hall_id=ticket.hall_id,
        case_no=(case_no or "").strip() or _new_case_no(session, hall, now),
        service_code=code,
        first_ticket_id=ticket.id,
        window_id=ticket.window_id,
        clerk_id=clerk_id if clerk_id is not None else ticket.clerk_id,
        id_hmac=ticket.id_hmac,
        id_masked=ticket.id_masked,
        name_masked=ticket.name_masked,
        step="accepted",
        created_at=now,
        updated_at=now,
    )
    session.add(matter)
    session.flush()
    _add_visit(session, matter, ticket.id, now)
    session.add(MatterStep(matter_id=matter.id, step="accepted", actor=_actor_text(actor), note="", at=now))
    append_event(session, matter.hall_id, EV_MATTER_RECORDED, {"matter": view(session, matter)}, actor)
    return matter, True


def _actor_text(actor: Actor) -> str:
    return f"{actor.kind}:{actor.id}" if actor.id else actor.kind


def _add_visit(session: Session, matter: Matter, ticket_id: int, now: datetime) -> None:
    exists = session.scalar(
        select(MatterVisit.id).where(MatterVisit.matter_id == matter.id, MatterVisit.ticket_id == ticket_id)
    )
    if exists is None:
        session.add(MatterVisit(matter_id=matter.id, ticket_id=ticket_id, at=now))
        session.flush()


def advance(
    session: Session,
    matter_id: int,
    step: str,
    actor: Actor,
    note: str,
    now: datetime,
    allowed_halls: set[str] | None,
) -> Matter:
    """Move a matter to the next back-office step (steps follow in order)."""
    matter = session.get(Matter, matter_id)
    if matter is None or (allowed_halls is not None and matter.hall_id not in allowed_halls):
        raise HallError("matter.unknown", matter_id=matter_id)
    MATTER.check_next(matter.step, step)
    matter.step = step
    matter.updated_at = now
    session.add(MatterStep(matter_id=matter.id, step=step, actor=_actor_text(actor), note=note, at=now))
    session.flush()
    append_event(
        session, matter.hall_id, EV_MATTER_STEP, {"matter_id": matter.id, "step": step, "note": note}, actor
    )
    return matter


def for_person(
    session: Session, protector: DataProtector, id_number: str, hall_ids: list[str]
) -> list[dict[str, Any]]:
    """The matters of one person in the given halls (kiosk look-up by ID card), newest first, masked."""
    id_hmac = protector.lookup_hash(parse_id_number(id_number).number)
    rows = session.scalars(
        select(Matter)
        .where(Matter.id_hmac == id_hmac, Matter.hall_id.in_(hall_ids))
        .order_by(Matter.created_at.desc())
    )
    return [view(session, m) for m in rows]


def get(session: Session, matter_id: int) -> Matter:
    """A matter by id or matter.unknown."""
    matter = session.get(Matter, matter_id)
    if matter is None:
        raise HallError("matter.unknown", matter_id=matter_id)
    return matter


def view(session: Session, m: Matter, *, with_steps: bool = True) -> dict[str, Any]:
    """The wire form of a matter: masked holder, steps, visits."""
    item = session.get(ServiceItem, m.service_code)
    hall = session.get(Hall, m.hall_id)
    visits = session.scalar(select(func.count(MatterVisit.id)).where(MatterVisit.matter_id == m.id)) or 0
    out: dict[str, Any] = {
        "id": m.id,
        "case_no": m.case_no,
        "hall_id": m.hall_id,
        "hall_name": hall.name if hall else None,
        "service_code": m.service_code,
        "service_name": item.name if item else None,
        "step": m.step,
        "step_zh": MATTER.label(m.step),
        "step_index": MATTER.index(m.step) + 1,
        "steps_total": len(MATTER.steps),
        "visits": int(visits),
        "holder": {"id_masked": m.id_masked, "name_masked": m.name_masked},
        "created_at": _aware(m.created_at).isoformat(),
        "updated_at": _aware(m.updated_at).isoformat(),
    }
    if with_steps:
        out["history"] = [
            {
                "step": s.step,
                "step_zh": MATTER.label(s.step),
                "note": s.note,
                "at": _aware(s.at).isoformat(),
            }
            for s in session.scalars(
                select(MatterStep).where(MatterStep.matter_id == m.id).order_by(MatterStep.id)
            )
        ]
    return out
