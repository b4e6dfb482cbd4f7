"""The audit trail's API: verification state (dashboard) and the audit streams."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from hall_server.api.deps import Creds, get_ctx, principal_of
from hall_server.api.schemas import DbInt, ErrorOut
from hall_server.const import EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX
from hall_server.services import audit_trail

logger = logging.getLogger(__name__)

router = APIRouter(tags=["audit"], responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}})


@router.get("/audit/status")
def audit_status(request: Request, creds: Creds) -> dict[str, Any]:
    """Each chain's last verification: when, ok or broken at which seq (admin, manager)."""
    ctx = get_ctx(request)
    return audit_trail.status(ctx, principal_of(ctx, creds))


@router.get("/audit/records")
def audit_records(
    request: Request,
    creds: Creds,
    scope: Annotated[str, Query(min_length=1, max_length=58)],
    since: Annotated[DbInt, Query(ge=0)] = 0,
    limit: int = Query(default=EVENTS_PAGE_DEFAULT, ge=1, le=EVENTS_PAGE_MAX),
) -> list[dict[str, Any]]:
    """Security acts of a hall (scope = hall id) or of the city (scope = city), in order."""
    ctx = get_ctx(request)
    return audit_trail.records(ctx, principal_of(ctx, creds), scope, since, limit)
