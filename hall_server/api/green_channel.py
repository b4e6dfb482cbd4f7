"""Green channel checks: remove a self-declared priority that is not justified; the hall's report of them."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from hall_server.api.deps import Creds, run_authed
from hall_server.api.schemas import ErrorOut
from hall_server.services import green_channel
from wire import DbInt, RemovePriorityIn, TicketOut

logger = logging.getLogger(__name__)

router = APIRouter(tags=["tickets"], responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}})


@router.post("/tickets/{ticket_id}/priority/remove", response_model=TicketOut)
async def remove_priority(
    ticket_id: DbInt, body: RemovePriorityIn, request: Request, creds: Creds
) -> dict[str, Any]:
    """A clerk removes a self-declared green-channel priority, with a reason (clerk of the hall, manager)."""
    return await run_authed(request, creds, green_channel.remove_priority, ticket_id, body.reason.strip())


@router.get("/halls/{hall_id}/priority-removals")
async def removals(
    hall_id: str,
    request: Request,
    creds: Creds,
    day_from: Annotated[date | None, Query()] = None,
    day_to: Annotated[date | None, Query()] = None,
) -> list[dict[str, Any]]:
    """The priorities removed in the hall and below it over the days (default today), newest first (manager)."""
    return await run_authed(request, creds, green_channel.removals, hall_id, day_from, day_to)
