"""Station sync routes: the parent's /sync/push and /sync/pull (station credential), the
station's /sync/link, and the parent's station list /stations (managers). See docs/sync.md."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from hall_server.api.deps import Creds, get_ctx, json_response, run_authed, run_db
from hall_server.api.schemas import ErrorOut
from hall_server.services import stations as svc
from wire.sync import LinkOut, PullOut, PushIn, PushOut, StationsOut

logger = logging.getLogger(__name__)

router = APIRouter(
    tags=["sync"],
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 409: {"model": ErrorOut}},
)


@router.post("/sync/push", response_model=PushOut)
async def push(body: PushIn, request: Request, creds: Creds) -> Any:
    """A station's batch of events and row images, applied in one transaction (station credential)."""
    ctx = get_ctx(request)
    return json_response(await run_db(ctx, svc.push, ctx, creds, body))


@router.get("/sync/pull", response_model=PullOut)
async def pull(
    request: Request,
    creds: Creds,
    config_version: Annotated[str | None, Query(max_length=80)] = None,
    down_cursor: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
) -> Any:
    """The city's configuration for the station's halls (if changed) and rows worked at the city."""
    ctx = get_ctx(request)
    return json_response(await run_db(ctx, svc.pull, ctx, creds, config_version, down_cursor))


@router.get("/sync/link", response_model=LinkOut)
async def link(request: Request, creds: Creds) -> Any:
    """This station's link to its parent ({mode: "standalone"} on a server that is no station)."""
    return json_response(await run_authed(request, creds, svc.link))


@router.get("/stations", response_model=StationsOut)
async def stations(request: Request, creds: Creds) -> Any:
    """The stations of the caller's halls with their sync state (admin, manager)."""
    return json_response(await run_authed(request, creds, svc.list_stations))
