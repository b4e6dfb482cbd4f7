"""Follow-up cases of bad ratings: list per hall subtree, read one, record the next step."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field

from hall_server.api.deps import Creds, run_authed
from hall_server.api.schemas import DbInt, ErrorOut
from hall_server.services import followups as svc
from wire.base import WireIn

logger = logging.getLogger(__name__)

router = APIRouter(tags=["followups"], responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}})


class StepIn(WireIn):
    """The next step of a case, with a note; a return visit records whether the rater is satisfied."""

    step: str = Field(max_length=20)
    note: str = Field(default="", max_length=2000)
    satisfied: bool | None = None


@router.get("/halls/{hall_id}/followups")
async def list_cases(
    hall_id: str, request: Request, creds: Creds, open_only: bool = False
) -> list[dict[str, Any]]:
    """Cases of the hall and the halls below it, earliest deadline first (manager)."""
    return await run_authed(request, creds, svc.list_cases_of, hall_id, open_only=open_only)


@router.get("/followups/{case_id}")
async def get_case(case_id: DbInt, request: Request, creds: Creds) -> dict[str, Any]:
    """One case with its recorded steps (manager of its hall)."""
    return await run_authed(request, creds, svc.get_case, case_id)


@router.post("/followups/{case_id}/steps")
async def add_step(case_id: DbInt, body: StepIn, request: Request, creds: Creds) -> dict[str, Any]:
    """Record the next step (verified, answered, fixed, revisited, closed) by the calling manager."""
    req = svc.StepInput(step=body.step, note=body.note, satisfied=body.satisfied)
    return await run_authed(request, creds, svc.add_step, case_id, req)
