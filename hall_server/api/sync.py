"""Station sync routes: the parent's /sync/push and /sync/pull (station credential), the
station's /sync/link, and the parent's station list /stations (managers). See docs/sync.md."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from hall_server.api.deps import Creds, get_ctx, json_response, run_authed, run_db
from hall_server.api.documents import read_limited
from hall_server.api.lean import LeanRoute, lean_openapi
from hall_server.api.schemas import DbInt, ErrorOut
from hall_server.auth import bearer_token
from hall_server.const import (
    SYNC_BUSY_RETRY_MAX_S,
    SYNC_BUSY_RETRY_S,
    SYNC_PHOTO_MAX_BYTES,
    SYNC_PUSH_QUEUE,
    SYNC_PUSH_SLOTS,
    SYNC_PUSH_WAIT_S,
    SYNC_YIELD_BUDGET_S,
)
from hall_server.errors import HallError
from hall_server.priority import YieldBudget
from hall_server.services import stations as svc
from wire.sync import (
    AttendanceConflictsOut,
    LinkOut,
    PhotoStoredOut,
    PhotosWantedOut,
    PullOut,
    PushIn,
    PushOut,
    StationsOut,
)

logger = logging.getLogger(__name__)

router = APIRouter(
    route_class=LeanRoute,
    tags=["sync"],
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        409: {"model": ErrorOut},
        503: {"model": ErrorOut},
    },
)


class _PushGate:
    """Admits the pushes a parent works on: SYNC_PUSH_SLOTS at a time, a few more waiting, and
    a wait bounded by SYNC_PUSH_WAIT_S, well inside the station's own timeout: a push is either
    started soon enough to be answered, or answered 503 sync.busy at once (before its body is
    read) and never applied in vain. The city's own kiosks and windows keep the rest of the
    thread pool, the database and the CPU when many stations catch up at once."""

    def __init__(self) -> None:
        self.active = 0
        # Pushes past the door (reading their body, waiting or applying): at most SLOTS + QUEUE.
        self.admitted = 0
        self.waiters: deque[asyncio.Future[None]] = deque()
        # Seconds an applied push took (moving average): the waits asked of stations follow it.
        self.push_s = 0.5
        # The end of the turns handed out to stations turned away (monotonic seconds).
        self.booked_until = 0.0

    async def enter(self) -> bool:
        """Take a slot (True), or False when none would be free within SYNC_PUSH_WAIT_S."""
        if self.active < SYNC_PUSH_SLOTS and not self.waiters:
            self.active += 1
            return True
        if len(self.waiters) >= SYNC_PUSH_QUEUE:
            return False
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(turn)
        try:
            await asyncio.wait({turn}, timeout=SYNC_PUSH_WAIT_S)
        except asyncio.CancelledError:  # the station hung up while waiting
            if turn.done():
                self.leave(0.0)  # its slot goes on to the next
            else:
                self.waiters.remove(turn)
                turn.cancel()
            raise
        if turn.done():
            return True  # leave() handed its slot over
        self.waiters.remove(turn)
        turn.cancel()
        return False

    def leave(self, seconds: float) -> None:
        """Give the slot to the next waiting push (or free it)."""
        if seconds > 0:
            self.push_s = 0.8 * self.push_s + 0.2 * seconds
        while self.waiters:
            turn = self.waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.active -= 1

    def retry_after(self) -> float:
        """When a turned-away station should come back: the next free turn in a book of turns
        (each the time a push takes, per slot), so the crowd is spread over the time the slots
        need for it instead of all coming back together; a station that misses its turn gets
        a later one."""
        now = time.monotonic()
        self.booked_until = max(self.booked_until, now) + self.push_s / SYNC_PUSH_SLOTS
        return min(SYNC_BUSY_RETRY_MAX_S, max(SYNC_BUSY_RETRY_S, self.booked_until - now))


def _gate(request: Request) -> _PushGate:
    gate = getattr(request.app.state, "sync_push_gate", None)
    if gate is None:
        gate = request.app.state.sync_push_gate = _PushGate()
    return gate


def _push(ctx: Any, token: str | None, raw: bytes) -> dict[str, Any]:
    # The city's own kiosks and windows first: the parse below holds the GIL for the whole body.
    budget = YieldBudget(SYNC_YIELD_BUDGET_S)
    budget.pause()
    try:
        # Parsed in the worker thread: a batch is up to 16 MiB of JSON, not for the event loop.
        body = PushIn.model_validate_json(raw or b"null")
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        ) from None
    return svc.push(ctx, token, body, budget)


@router.post("/sync/push", response_model=PushOut, openapi_extra=lean_openapi(PushIn))
async def push(request: Request) -> Any:
    """A station's batch of events and row images, applied in one transaction (station credential).

    At most SYNC_PUSH_SLOTS are applied at once and SYNC_PUSH_QUEUE more wait up to
    SYNC_PUSH_WAIT_S; any other push is answered 503 sync.busy with retry_after_s at once,
    longer the more stations are turned away.
    """
    ctx = get_ctx(request)
    token = bearer_token(request.headers.get("authorization"))
    gate = _gate(request)
    if gate.admitted >= SYNC_PUSH_SLOTS + SYNC_PUSH_QUEUE:
        raise HallError("sync.busy", retry_after_s=round(gate.retry_after(), 1))
    gate.admitted += 1
    try:
        # The body is read before a slot is taken: a station on a slow line (or one that died
        # mid-upload) must not hold the slot the others' batches are applied in.
        raw = await request.body()
        if not await gate.enter():
            raise HallError("sync.busy", retry_after_s=round(gate.retry_after(), 1))
        started = time.monotonic()
        try:
            return json_response(await run_db(ctx, _push, ctx, token, raw))
        finally:
            gate.leave(time.monotonic() - started)
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


@router.get("/sync/photos", response_model=PhotosWantedOut)
async def photos_wanted(
    request: Request, creds: Creds, after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0
) -> Any:
    """The station's document photos after id `after` this server still lacks (station credential; sync/photos.py)."""
    ctx = get_ctx(request)
    return json_response(await run_db(ctx, svc.photos_wanted, ctx, creds, after))


@router.put(
    "/sync/photos/{document_id}",
    response_model=PhotoStoredOut,
    responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def put_photo(document_id: DbInt, request: Request, creds: Creds) -> Any:
    """One document's photo as the station stores it (ciphertext), kept once (station credential)."""
    ctx = get_ctx(request)
    # The credential is checked before the body is read: a stranger cannot make us take 5 MB.
    await run_db(ctx, svc.station_of, ctx, creds)
    blob = await read_limited(request, SYNC_PHOTO_MAX_BYTES)
    budget = YieldBudget(SYNC_YIELD_BUDGET_S)
    return json_response(await run_db(ctx, svc.put_photo, ctx, creds, document_id, blob, budget))


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
