"""The event stream of a hall: GET since=N, and a WebSocket that replays then goes live."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from hall_server import event_archive
from hall_server.api.deps import Creds, get_ctx, lookup, principal_of, run_authed
from hall_server.api.errors import error_body, http_status
from hall_server.api.schemas import DbInt, ErrorOut, EventOut, SocketTicketOut
from hall_server.auth import authenticate_id, bearer_token, can_access_hall
from hall_server.bus import Subscription
from hall_server.const import (
    EVENTS_PAGE_DEFAULT,
    EVENTS_PAGE_MAX,
    REPLAY_PAGE,
    WS_AUTH_RECHECK_S,
    WS_CLOSE_FORBIDDEN,
    WS_CLOSE_LAGGING,
    WS_CLOSE_NOT_FOUND,
    WS_CLOSE_PRUNED,
    WS_CLOSE_UNAUTHORISED,
    WS_LAGGING_REASON,
)
from hall_server.context import ServerContext
from hall_server.errors import HallError
from hall_server.events import dumps, hall_of_stream, read_event_texts
from hall_server.services import halls, socket_tickets

logger = logging.getLogger(__name__)

router = APIRouter(tags=["events"], responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}})


@router.get("/halls/{hall_id}/events", response_model=list[EventOut], responses={410: {"model": ErrorOut}})
def list_events(
    hall_id: str,
    request: Request,
    creds: Creds,
    since: Annotated[DbInt, Query(ge=0)] = 0,
    limit: int = Query(default=EVENTS_PAGE_DEFAULT, ge=1, le=EVENTS_PAGE_MAX),
) -> list[dict]:
    """Events after `since`, in order (the audit trail and the catch-up for clients)."""
    ctx = get_ctx(request)
    return halls.events_since(ctx, principal_of(ctx, creds), hall_id, since, limit)


@router.post("/halls/{hall_id}/events/ticket", response_model=SocketTicketOut)
async def socket_ticket(hall_id: str, request: Request, creds: Creds) -> dict:
    """A one-time ticket to open this hall's event socket with ?ticket= (the token stays in the header)."""
    return await run_authed(request, creds, socket_tickets.issue, hall_id)


async def _refuse(ws: WebSocket, code: int, err: HallError) -> None:
    await ws.send_text(dumps(error_body(err)))
    await ws.close(code=code)


def _still_live(ctx: ServerContext, token_id: int) -> None:
    """401 (auth.invalid / auth.expired) if the token behind an open socket has ended."""
    with ctx.db.read_conn() as conn:
        authenticate_id(conn, token_id)


def _check_replayable(ctx: ServerContext, hall_id: str, since: DbInt) -> None:
    with ctx.db.read() as s:
        event_archive.check_replayable(s, hall_id, since)


def _page(ctx: ServerContext, hall_id: str, since: DbInt, redact: bool) -> list[tuple[int, str]]:
    """The next replay page: (seq, wire text) read and made in a worker thread, not on the loop."""
    with ctx.db.read() as s:
        page = read_event_texts(s, hall_id, since, REPLAY_PAGE)
    return [(seq, halls.redact_text(text)) for seq, text in page] if redact else page


@router.websocket("/halls/{hall_id}/events/ws")
async def event_socket(
    ws: WebSocket,
    hall_id: str,
    since: Annotated[DbInt | None, Query(ge=0)] = None,
    ticket: str | None = Query(default=None, max_length=100),
    token: str | None = Query(default=None, max_length=200),
) -> None:
    """Everything after `since` from the database, then live events, in order, no gaps or repeats.

    Authenticated by the Authorization header (kiosks) or a one-time ?ticket= from POST
    .../events/ticket (browsers). A ?token= is refused: URLs end up in access logs.
    """
    ctx: ServerContext = ws.app.state.ctx
    refusal: tuple[int, HallError] | None = None
    raw: str | None = None
    try:
        raw = bearer_token(ws.headers.get("authorization"))
    except HallError as err:
        refusal = (WS_CLOSE_UNAUTHORISED, err)
    if token is not None:
        logger.warning("event socket of %s refused: token in the URL", hall_id)
        refusal = (WS_CLOSE_UNAUTHORISED, HallError("auth.token_in_url"))
    elif refusal is None and raw is None and ticket is None:
        refusal = (WS_CLOSE_UNAUTHORISED, HallError("auth.required"))
    if refusal is None:
        try:
            if raw is not None:
                principal = await run_in_threadpool(lookup, ctx, raw)
            else:
                principal = await run_in_threadpool(socket_tickets.redeem, ctx, ticket or "", hall_id)
            # "<hall>@city": this server's own events about a station's hall, read like the hall's.
            hall = hall_of_stream(hall_id)
            ctx.catalog.hall(hall)
            if not can_access_hall(principal, hall, ctx.catalog):
                refusal = (WS_CLOSE_FORBIDDEN, HallError("auth.wrong_hall", hall_id=hall_id))
        except HallError as err:
            refusal = (WS_CLOSE_NOT_FOUND if http_status(err) == 404 else WS_CLOSE_UNAUTHORISED, err)
    if refusal is not None:
        await ws.accept()
        await _refuse(ws, *refusal)
        return

    # Subscribe before accepting and before replaying: once the client sees the connection
    # open, every later event reaches it; events committed during the replay wait in the
    # stream's tail, and duplicates between the two are dropped by seq below.
    sub = await ctx.bus.subscribe(hall_id)
    try:
        await ws.accept()
    except BaseException:
        sub.close()
        raise
    closed = False

    async def watch_client() -> None:
        nonlocal closed
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                msg = await ws.receive()
                if msg.get("type") == "websocket.disconnect":
                    break
        closed = True
        sub.wake()  # the sender, if it waits for the next event

    ended: list[HallError] = []

    async def watch_token() -> None:
        # A socket outlives the request that opened it: re-check its token now and then, so a
        # session that expires or is revoked (log-out, password change, rotation) stops here too.
        nonlocal closed
        while not closed:
            await asyncio.sleep(WS_AUTH_RECHECK_S)
            try:
                await run_in_threadpool(_still_live, ctx, principal.token_id)
            except HallError as err:
                ended.append(err)
                closed = True
                sub.wake()
                return

    watcher = asyncio.ensure_future(watch_client())
    token_watcher = asyncio.ensure_future(watch_token())
    try:
        last = since
        loop = asyncio.get_running_loop()
        redact = not halls.sees_audit(principal)
        if since is not None:
            try:
                await run_in_threadpool(_check_replayable, ctx, hall_id, since)
            except HallError as err:
                await _refuse(ws, WS_CLOSE_PRUNED, err)
                return
            last = await _replay(ctx, ws, sub, hall_id, since, redact=redact)
        while not closed and not sub.lagging:
            # This loop runs once per subscriber for every event: no await unless nothing is due.
            item = sub.take()
            if item is None:
                await sub.wait()  # an event, the client gone, or dropped for lagging
                continue
            seq, text = item
            if last is not None and seq <= last:
                continue
            if last is not None and seq > last + 1:
                # Should not happen (the stream is gap-free); repair from the database anyway.
                last = await _replay(ctx, ws, sub, hall_id, last, upto=seq - 1, redact=redact)
            # Marked so the bus can tell a client that stopped reading (see Subscription.stalled).
            sub.sending_since = loop.time()
            await ws.send_text(halls.redact_text(text) if redact else text)
            sub.sending_since = 0.0
            last = seq
        if ended:
            await _refuse(ws, WS_CLOSE_UNAUTHORISED, ended[0])
        elif sub.lagging and not closed:
            # A proper close after what was already sent (not a reset): the client knows to
            # reconnect with ?since= its last seq and replays the rest from the database.
            logger.info("event socket of %s closed: lagging after seq %s", hall_id, last)
            await ws.close(code=WS_CLOSE_LAGGING, reason=WS_LAGGING_REASON)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        sub.close()
        watcher.cancel()
        token_watcher.cancel()


async def _replay(
    ctx: ServerContext,
    ws: WebSocket,
    sub: Subscription,
    hall_id: str,
    since: DbInt,
    upto: int | None = None,
    redact: bool = False,
) -> int:
    """Send the events after since (up to upto) from the database, one page at a time; the last seq sent."""
    last = since
    loop = asyncio.get_running_loop()
    while not sub.lagging:
        # The slot covers reading a page (texts made around the stored payloads, in a worker
        # thread): at most REPLAY_CONCURRENCY_MAX reads run at once in the process. It is not held
        # while sending, so a reader that stops mid-replay cannot keep every other reconnecting
        # subscriber waiting; each replaying subscriber holds at most the one page it sends.
        async with ctx.bus.replay_slots:
            page = await run_in_threadpool(_page, ctx, hall_id, last, redact)
        full = len(page) == REPLAY_PAGE
        for seq, text in page:
            if upto is not None and seq > upto:
                return last
            if sub.lagging:
                return last
            # Marked like a live send, so the bus's stall rule also drops a reader that stops mid-replay.
            sub.sending_since = loop.time()
            await ws.send_text(text)
            sub.sending_since = 0.0
            last = seq
        if not full or (upto is not None and last >= upto):
            return last
    return last
