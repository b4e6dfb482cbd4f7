"""Follow-up cases of bad ratings: list per hall subtree, read one, record the next step."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from hall_server.api import ext_common
from hall_server.api.deps import Creds, get_ctx, principal_of
from hall_server.api.schemas import DbInt, ErrorOut
from hall_server.auth import require_roles
from hall_server.errors import HallError
from hall_server.services import followups as svc

logger = logging.getLogger(__name__)

router = APIRouter(tags=["followups"], responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}})


class StepIn(BaseModel):
    """The next step of a case, with a note; a return visit records whether the rater is satisfied."""

    step: str = Field(max_length=20)
    note: str = Field(default="", max_length=2000)
    satisfied: bool | None = None


def _today(ctx: Any, hall_id: str) -> Any:
    return ext_common.utcnow().astimezone(ctx.catalog.hall(hall_id).zone).date()


@router.get("/halls/{hall_id}/followups")
def list_cases(hall_id: str, request: Request, creds: Creds, open_only: bool = False) -> list[dict[str, Any]]:
    """Cases of the hall and the halls below it, earliest deadline first (manager)."""
    ctx = get_ctx(request)
    halls = ext_common.manager_scope(ctx, principal_of(ctx, creds), hall_id)
    now = ext_common.utcnow()
    try:
        with ctx.db.write() as s:
            svc.open_missing_cases(s, now, halls)
    except IntegrityError:
        # Another server process opened the same case at the same moment: it is there now.
        logger.info("follow-up cases opened concurrently elsewhere")
    with ctx.db.read() as s:
        return svc.list_cases(s, halls, open_only=open_only, today=_today(ctx, hall_id))


@router.get("/followups/{case_id}")
def get_case(case_id: DbInt, request: Request, creds: Creds) -> dict[str, Any]:
    """One case with its recorded steps (manager of its hall)."""
    ctx = get_ctx(request)
    p = principal_of(ctx, creds)
    require_roles(p, *ext_common.MANAGER_ROLES)
    allowed = set(ext_common.visible_halls(ctx, p))
    with ctx.db.read() as s:
        from hall_server.db.models_ext import FollowupCase

        case = s.get(FollowupCase, case_id)
        if case is None or case.hall_id not in allowed:
            raise HallError("followup.unknown", case_id=case_id)
        out = svc.detail(s, case, today=_today(ctx, case.hall_id))
        out["steps"] = svc.steps_of(s, case_id)
        return out


@router.post("/followups/{case_id}/steps")
def add_step(case_id: DbInt, body: StepIn, request: Request, creds: Creds) -> dict[str, Any]:
    """Record the next step (verified, answered, fixed, revisited, closed) by the calling manager."""
    ctx = get_ctx(request)
    p = principal_of(ctx, creds)
    require_roles(p, *ext_common.MANAGER_ROLES)
    allowed = set(ext_common.visible_halls(ctx, p))
    with ctx.db.write() as s:
        case = svc.advance(
            s,
            case_id,
            body.step,
            user_id=p.user_id,
            user_name=p.name or p.username or p.role,
            note=body.note,
            satisfied=body.satisfied,
            now=ext_common.utcnow(),
            allowed_halls=allowed,
        )
        out = svc.detail(s, case, today=_today(ctx, case.hall_id))
        out["steps"] = svc.steps_of(s, case_id)
        return out
