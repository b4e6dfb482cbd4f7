"""Station sync routes: the parent's /sync/push and /sync/pull (station credential), the
station's /sync/link, and the parent's station list /stations (managers). See docs/sync.md."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from hall_server.api.deps import Creds, get_ctx, json_response, run_authed, run_db
from hall_server.api.lean import lean_openapi
from hall_server.api.schemas import ErrorOut
from hall_server.auth import bearer_token
from hall_server.const import SYNC_BUSY_RETRY_MAX_S, SYNC_BUSY_RETRY_S, SYNC_PUSH_QUEUE, SYNC_PUSH_SLOTS
from hall_server.errors import HallError
from hall_server.services import stations as svc
from wire.sync import AttendanceConflictsOut, LinkOut, PullOut, PushIn, PushOut, StationsOut

logger = logging.getLogger(__name__)

router = APIRouter(
    tags=["sync"],
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        409: {"model": ErrorOut},
        503: {"model": ErrorOut},
    },
)


class _PushGate:
    """Bounds the pushes a parent works on: the city's own kiosks and windows stay served when
    many stations catch up at once (a queue of pushes would hold the thread pool, the database
    writers and the CPU)."""

    def __init__(self) -> None:
        self.slots = asyncio.Semaphore(SYNC_PUSH_SLOTS)
        self.admitted = 0
        # Pushes turned away in the current and the last second: the wait asked of a station
        # grows with the crowd, so the retries come at about the pace the parent takes them.
        self.turned_away: dict[int, int] = {}

    def retry_after(self) -> float:
        now = int(time.monotonic())
        self.turned_away = {t: n for t, n in self.turned_away.items() if t >= now - 1}
        self.turned_away[now] = self.turned_away.get(now, 0) + 1
        crowd = sum(self.turned_away.values()) / 2.0  # per second
        # Admitted pushes finish at about one per slot per second (a village's batch).
        return min(SYNC_BUSY_RETRY_MAX_S, max(SYNC_BUSY_RETRY_S, crowd / SYNC_PUSH_SLOTS))


def _gate(request: Request) -> _PushGate:
    gate = getattr(request.app.state, "sync_push_gate", None)
    if gate is None:
        gate = request.app.state.sync_push_gate = _PushGate()
    return gate


def _push(ctx: Any, token: str | None, raw: bytes) -> dict[str, Any]:
    try:
        # Parsed in the worker thread: a batch is up to 16 MiB of JSON, not for the event loop.
        body = PushIn.model_validate_json(raw or b"null")
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        ) from None
    return svc.push(ctx, token, body)


@router.post("/sync/push", response_model=PushOut, openapi_extra=lean_openapi(PushIn))
async def push(request: Request) -> Any:
    """A station's batch of events and row images, applied in one transaction (station credential).

    At most SYNC_PUSH_SLOTS are applied at once and SYNC_PUSH_QUEUE more wait; any further push
    is answered 503 sync.busy with retry_after_s, longer the more stations are turned away.
    """
    ctx = get_ctx(request)
    token = bearer_token(request.headers.get("authorization"))
    gate = _gate(request)
    if gate.admitted >= SYNC_PUSH_SLOTS + SYNC_PUSH_QUEUE:
        raise HallError("sync.busy", retry_after_s=round(gate.retry_after(), 1))
    gate.admitted += 1
    try:
        async with gate.slots:
            raw = await request.body()
            return json_response(await run_db(ctx, _push, ctx, token, raw))
    finally:
        gate.admitted -= 1


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


@router.get("/stations/conflicts", response_model=AttendanceConflictsOut)
async def attendance_conflicts(request: Request, creds: Creds) -> Any:
    """Bookings cancelled at the city and checked in at their station meanwhile (admin, manager)."""
    return json_response(await run_authed(request, creds, svc.attendance_conflicts))
