"""Matters (办件): record at the window, move through back-office steps, look up by ID card at the kiosk."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from hall_server.api import ext_common
from hall_server.api.deps import Creds, get_ctx, principal_of
from hall_server.api.schemas import DbInt, ErrorOut
from hall_server.auth import require_roles, require_window_operator
from hall_server.db.models import Ticket
from hall_server.errors import HallError
from hall_server.services import matters as svc

logger = logging.getLogger(__name__)

router = APIRouter(tags=["matters"], responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}})


class RecordIn(BaseModel):
    """A matter accepted at the window (the service item defaults to the ticket's)."""

    service_code: str | None = Field(default=None, max_length=64)
    case_no: str | None = Field(default=None, max_length=64)


class MatterStepIn(BaseModel):
    """The next back-office step."""

    step: str = Field(max_length=20)
    note: str = Field(default="", max_length=2000)


class PersonIn(BaseModel):
    """An ID number read from the card."""

    id_number: str = Field(min_length=15, max_length=18)


@router.post("/tickets/{ticket_id}/matters", status_code=201)
def record(ticket_id: DbInt, body: RecordIn, request: Request, creds: Creds) -> dict[str, Any]:
    """Record a matter against the ticket being served (clerk of that window, manager, admin).

    A known case_no adds this ticket as one more visit to that matter (最多跑一次 counts them).
    """
    ctx = get_ctx(request)
    p = principal_of(ctx, creds)
    with ctx.db.read() as s:
        t = s.get(Ticket, ticket_id)
        if t is None:
            raise HallError("ticket.unknown", ticket_id=ticket_id)
        window_id, hall_id = t.window_id, t.hall_id
    if window_id is None:
        raise HallError("matter.not_served", ticket_id=ticket_id)
    require_window_operator(p, window_id, hall_id, ctx.catalog)
    with ctx.db.write() as s:
        matter, _created = svc.record(
            s,
            ticket_id=ticket_id,
            window_id=window_id if p.role == "clerk" else None,
            clerk_id=p.user_id if p.role == "clerk" else None,
            actor=p.actor,
            service_code=body.service_code,
            case_no=body.case_no,
            now=ext_common.utcnow(),
        )
        return svc.view(s, matter)


@router.post("/matters/{matter_id}/steps")
def add_step(matter_id: DbInt, body: MatterStepIn, request: Request, creds: Creds) -> dict[str, Any]:
    """Move a matter to its next step (back office: managers, admins, clerks of its hall)."""
    ctx = get_ctx(request)
    p = principal_of(ctx, creds)
    require_roles(p, "clerk", "manager", "admin")
    allowed = set(ext_common.visible_halls(ctx, p))
    with ctx.db.write() as s:
        matter = svc.advance(s, matter_id, body.step, p.actor, body.note, ext_common.utcnow(), allowed)
        return svc.view(s, matter)


@router.get("/matters/{matter_id}")
def get_matter(matter_id: DbInt, request: Request, creds: Creds) -> dict[str, Any]:
    """One matter with its history (staff of its hall)."""
    ctx = get_ctx(request)
    p = principal_of(ctx, creds)
    require_roles(p, "clerk", "manager", "admin")
    allowed = set(ext_common.visible_halls(ctx, p))
    with ctx.db.read() as s:
        matter = svc.get(s, matter_id)
        if matter.hall_id not in allowed:
            raise HallError("matter.unknown", matter_id=matter_id)
        return svc.view(s, matter)


@router.post("/matters/query")
def query(body: PersonIn, request: Request, creds: Creds) -> list[dict[str, Any]]:
    """A visitor's matters and where each stands (kiosk with the ID card; masked)."""
    ctx = get_ctx(request)
    p = principal_of(ctx, creds)
    require_roles(p, "kiosk", "manager", "admin")
    with ctx.db.read() as s:
        return svc.for_person(s, ctx.protector, body.id_number)
