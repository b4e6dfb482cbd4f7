"""Window operations: call, recall, no-show, start, finish, transfer, suspend, call back, status."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request

from hall_server.api.deps import Creds, get_ctx, principal_of
from hall_server.api.schemas import CallIn, ErrorOut, GroupsIn, TicketOut, TransferIn, WindowOut
from hall_server.services import windows

logger = logging.getLogger(__name__)

router = APIRouter(
    prefix="/windows",
    tags=["windows"],
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut},
    },
)


def _run(request: Request, creds: Any, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    ctx = get_ctx(request)
    return fn(ctx, principal_of(ctx, creds), *args, **kw)


@router.get("/{window_id}", response_model=WindowOut)
def get_window(window_id: int, request: Request, creds: Creds) -> dict:
    """A window with its clerk and current ticket."""
    return _run(request, creds, windows.get_window, window_id)


@router.post("/{window_id}/call-next", response_model=TicketOut)
def call_next(window_id: int, request: Request, creds: Creds) -> dict:
    """Call the next ticket (error queue.empty when nobody waits)."""
    return _run(request, creds, windows.call_next, window_id)


@router.post("/{window_id}/call", response_model=TicketOut)
def call_chosen(window_id: int, body: CallIn, request: Request, creds: Creds) -> dict:
    """Call one chosen waiting ticket."""
    return _run(request, creds, windows.call_chosen, window_id, body.ticket_id)


@router.post("/{window_id}/recall", response_model=TicketOut)
def recall(window_id: int, request: Request, creds: Creds) -> dict:
    """Announce the current ticket again (capped)."""
    return _run(request, creds, windows.recall, window_id)


@router.post("/{window_id}/no-show", response_model=TicketOut)
def no_show(window_id: int, request: Request, creds: Creds) -> dict:
    """The called visitor did not come."""
    return _run(request, creds, windows.no_show, window_id)


@router.post("/{window_id}/start", response_model=TicketOut)
def start(window_id: int, request: Request, creds: Creds) -> dict:
    """Start serving the current ticket."""
    return _run(request, creds, windows.start, window_id)


@router.post("/{window_id}/finish", response_model=TicketOut)
def finish(window_id: int, request: Request, creds: Creds) -> dict:
    """Finish the current ticket; the rating terminal is asked for a rating."""
    return _run(request, creds, windows.finish, window_id)


@router.post("/{window_id}/suspend", response_model=TicketOut)
def suspend(window_id: int, request: Request, creds: Creds) -> dict:
    """Suspend the current ticket."""
    return _run(request, creds, windows.suspend, window_id)


@router.post("/{window_id}/transfer", response_model=TicketOut)
def transfer(window_id: int, body: TransferIn, request: Request, creds: Creds) -> dict:
    """Transfer the current ticket to another service's queue or another window."""
    return _run(
        request,
        creds,
        windows.transfer,
        window_id,
        service_code=body.service_code,
        target_window_id=body.window_id,
    )


@router.post("/{window_id}/call-back", response_model=TicketOut)
def call_back(window_id: int, body: CallIn, request: Request, creds: Creds) -> dict:
    """Call a suspended ticket back."""
    return _run(request, creds, windows.call_back, window_id, body.ticket_id)


@router.post("/{window_id}/pause", response_model=WindowOut)
def pause(window_id: int, request: Request, creds: Creds) -> dict:
    """Pause the window (暂停)."""
    return _run(request, creds, windows.set_status, window_id, "pause")


@router.post("/{window_id}/resume", response_model=WindowOut)
def resume(window_id: int, request: Request, creds: Creds) -> dict:
    """Resume a paused window."""
    return _run(request, creds, windows.set_status, window_id, "resume")


@router.post("/{window_id}/open", response_model=WindowOut)
def open_window(window_id: int, request: Request, creds: Creds) -> dict:
    """Open the window for calling."""
    return _run(request, creds, windows.set_status, window_id, "open")


@router.post("/{window_id}/close", response_model=WindowOut)
def close_window(window_id: int, request: Request, creds: Creds) -> dict:
    """Close the window (no current ticket allowed)."""
    return _run(request, creds, windows.set_status, window_id, "close")


@router.put("/{window_id}/groups", response_model=WindowOut)
def set_groups(window_id: int, body: GroupsIn, request: Request, creds: Creds) -> dict:
    """Change the groups and weights a window serves (managers)."""
    return _run(request, creds, windows.set_groups, window_id, body.groups)


@router.post("/{window_id}/rating-request", status_code=204)
def rating_request(window_id: int, request: Request, creds: Creds) -> None:
    """Ask the window's rating terminal for a rating now."""
    _run(request, creds, windows.request_rating, window_id)
