"""Window operations: call, recall, no-show, start, finish, transfer, suspend, call back, status."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from hall_server.api.deps import Creds, json_response, run_authed, run_bearer
from hall_server.api.lean import LeanParam, LeanRoute, lean_openapi, read_body
from hall_server.api.schemas import (
    CallIn,
    DbInt,
    ErrorOut,
    GroupsIn,
    NextIn,
    NextOut,
    TicketOut,
    TransferIn,
    WindowOut,
)
from hall_server.services import staff_photos, windows
from wire.windows import WindowClerkOut

logger = logging.getLogger(__name__)

router = APIRouter(
    route_class=LeanRoute,
    prefix="/windows",
    tags=["windows"],
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut},
    },
)


async def _run(request: Request, creds: Any, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    result = await run_authed(request, creds, fn, *args, **kw)
    return None if result is None else json_response(result)


# The hot window steps read their window id themselves (api/lean.py).
WINDOW_ID = LeanParam("path", "window_id", DbInt, "Window Id")


async def _lean(request: Request, fn: Callable[..., Any], **kw: Any) -> Response:
    return json_response(await run_bearer(request, fn, WINDOW_ID.read(request), **kw))


@router.get("/{window_id}", response_model=WindowOut)
async def get_window(window_id: DbInt, request: Request, creds: Creds) -> dict:
    """A window with its clerk and current ticket."""
    return await _run(request, creds, windows.get_window, window_id)


@router.get("/{window_id}/clerk", response_model=WindowClerkOut)
async def window_clerk(window_id: DbInt, request: Request, creds: Creds) -> Response:
    """The clerk at the window now with 工号 and photo (the window's rating device, the hall's staff)."""
    answer = await _run(request, creds, staff_photos.window_clerk, window_id)
    # The photo is personal data: no cache may keep a copy.
    answer.headers["Cache-Control"] = "no-store"
    return answer


@router.post(
    "/{window_id}/call-next", response_model=TicketOut, openapi_extra=lean_openapi(params=(WINDOW_ID,))
)
async def call_next(request: Request) -> Response:
    """Call the next ticket (error queue.empty when nobody waits)."""
    return await _lean(request, windows.call_next)


@router.post("/{window_id}/next", response_model=NextOut, openapi_extra=lean_openapi(NextIn, (WINDOW_ID,)))
async def next_ticket(request: Request) -> Response:
    """下一位: finish or no-show the ticket in hand, then call the next (one transaction)."""
    window_id = WINDOW_ID.read(request)  # the path before the body, as FastAPI checks them
    body = await read_body(request, NextIn)
    return json_response(
        await run_bearer(request, windows.next_ticket, window_id, close=body.close, ticket_id=body.ticket_id)
    )


@router.post("/{window_id}/call", response_model=TicketOut)
async def call_chosen(window_id: DbInt, body: CallIn, request: Request, creds: Creds) -> dict:
    """Call one chosen waiting ticket."""
    return await _run(request, creds, windows.call_chosen, window_id, body.ticket_id)


@router.post("/{window_id}/recall", response_model=TicketOut, openapi_extra=lean_openapi(params=(WINDOW_ID,)))
async def recall(request: Request) -> Response:
    """Announce the current ticket again (capped)."""
    return await _lean(request, windows.recall)


@router.post(
    "/{window_id}/no-show", response_model=TicketOut, openapi_extra=lean_openapi(params=(WINDOW_ID,))
)
async def no_show(request: Request) -> Response:
    """The called visitor did not come."""
    return await _lean(request, windows.no_show)


@router.post("/{window_id}/start", response_model=TicketOut, openapi_extra=lean_openapi(params=(WINDOW_ID,)))
async def start(request: Request) -> Response:
    """Start serving the current ticket."""
    return await _lean(request, windows.start)


@router.post("/{window_id}/finish", response_model=TicketOut, openapi_extra=lean_openapi(params=(WINDOW_ID,)))
async def finish(request: Request) -> Response:
    """Finish the current ticket; the rating terminal is asked for a rating."""
    return await _lean(request, windows.finish)


@router.post(
    "/{window_id}/suspend", response_model=TicketOut, openapi_extra=lean_openapi(params=(WINDOW_ID,))
)
async def suspend(request: Request) -> Response:
    """Suspend the current ticket."""
    return await _lean(request, windows.suspend)


@router.post("/{window_id}/transfer", response_model=TicketOut)
async def transfer(window_id: DbInt, body: TransferIn, request: Request, creds: Creds) -> dict:
    """Transfer the current ticket to another service's queue or another window."""
    return await _run(
        request,
        creds,
        windows.transfer,
        window_id,
        service_code=body.service_code,
        target_window_id=body.window_id,
    )


@router.post("/{window_id}/call-back", response_model=TicketOut)
async def call_back(window_id: DbInt, body: CallIn, request: Request, creds: Creds) -> dict:
    """Call a suspended ticket back."""
    return await _run(request, creds, windows.call_back, window_id, body.ticket_id)


@router.post("/{window_id}/pause", response_model=WindowOut)
async def pause(window_id: DbInt, request: Request, creds: Creds) -> dict:
    """Pause the window (暂停)."""
    return await _run(request, creds, windows.set_status, window_id, "pause")


@router.post("/{window_id}/resume", response_model=WindowOut)
async def resume(window_id: DbInt, request: Request, creds: Creds) -> dict:
    """Resume a paused window."""
    return await _run(request, creds, windows.set_status, window_id, "resume")


@router.post("/{window_id}/open", response_model=WindowOut)
async def open_window(window_id: DbInt, request: Request, creds: Creds) -> dict:
    """Open the window for calling."""
    return await _run(request, creds, windows.set_status, window_id, "open")


@router.post("/{window_id}/close", response_model=WindowOut)
async def close_window(window_id: DbInt, request: Request, creds: Creds) -> dict:
    """Close the window (no current ticket allowed)."""
    return await _run(request, creds, windows.set_status, window_id, "close")


@router.put("/{window_id}/groups", response_model=WindowOut)
async def set_groups(window_id: DbInt, body: GroupsIn, request: Request, creds: Creds) -> dict:
    """Change the groups and weights a window serves (managers)."""
    return await _run(request, creds, windows.set_groups, window_id, body.groups)


@router.post("/{window_id}/rating-request", status_code=204)
async def rating_request(window_id: DbInt, request: Request, creds: Creds) -> None:
    """Ask the window's rating terminal for a rating now."""
    await _run(request, creds, windows.request_rating, window_id)
