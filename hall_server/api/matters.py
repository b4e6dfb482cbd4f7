"""Matters (办件): record at the window, move through back-office steps, look up by ID card at the kiosk."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field

from hall_server.api.deps import Creds, run_authed
from hall_server.api.schemas import DbInt, ErrorOut
from hall_server.services import matters as svc
from wire.base import WireIn

logger = logging.getLogger(__name__)

router = APIRouter(tags=["matters"], responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}})


class RecordIn(WireIn):
    """A matter accepted at the window (the service item defaults to the ticket's)."""

    service_code: str | None = Field(default=None, max_length=64)
    case_no: str | None = Field(default=None, max_length=64)


class MatterStepIn(WireIn):
    """The next back-office step."""

    step: str = Field(max_length=20)
    note: str = Field(default="", max_length=2000)


class PersonIn(WireIn):
    """An ID number read from the card."""

    id_number: str = Field(min_length=15, max_length=18)


@router.post("/tickets/{ticket_id}/matters", status_code=201)
async def record(ticket_id: DbInt, body: RecordIn, request: Request, creds: Creds) -> dict[str, Any]:
    """Record a matter against the ticket being served (clerk of that window, manager, admin).

    A known case_no adds this ticket as one more visit to that matter (最多跑一次 counts them).
    """
    req = svc.RecordInput(service_code=body.service_code, case_no=body.case_no)
    return await run_authed(request, creds, svc.record_at_window, ticket_id, req)


@router.post("/matters/{matter_id}/steps")
async def add_step(matter_id: DbInt, body: MatterStepIn, request: Request, creds: Creds) -> dict[str, Any]:
    """Move a matter to its next step (back office: managers, admins, clerks of its hall)."""
    return await run_authed(request, creds, svc.add_step, matter_id, body.step, body.note)


@router.get("/matters/{matter_id}")
async def get_matter(matter_id: DbInt, request: Request, creds: Creds) -> dict[str, Any]:
    """One matter with its history (staff of its hall)."""
    return await run_authed(request, creds, svc.get_matter, matter_id)


@router.post("/matters/query")
async def query(body: PersonIn, request: Request, creds: Creds) -> list[dict[str, Any]]:
    """A visitor's matters and where each stands, in the caller's halls (kiosk with the ID card; masked)."""
    return await run_authed(request, creds, svc.query_person, body.id_number)
