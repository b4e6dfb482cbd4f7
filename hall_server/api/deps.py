"""FastAPI dependencies: the server context and the calling principal."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from hall_server.auth import Principal, authenticate, bearer_token, touch_token
from hall_server.const import BEARER_SCHEME
from hall_server.context import ServerContext
from hall_server.errors import HallError
from hall_server.events import dumps
from hall_server.priority import HOT

logger = logging.getLogger(__name__)


def get_ctx(request: Request) -> ServerContext:
    """The server context of this app."""
    return request.app.state.ctx


class HallBearer(HTTPBearer):
    """The bearer scheme of the OpenAPI description, read with the one parser of auth.py.

    FastAPI's own HTTPBearer answers a malformed header differently (None or 403); this one gives
    the token string, None when there is no header, and 401 auth.invalid for a malformed one.
    """

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        return bearer_token(request.headers.get("authorization"))


bearer_scheme = HallBearer(
    auto_error=False,
    scheme_name=BEARER_SCHEME,
    description="hall-server token (device, clerk, manager, admin)",
)
Creds = Annotated[str | None, Depends(bearer_scheme)]


def lookup(ctx: ServerContext, token: str) -> Principal:
    """The principal of a token or 401 auth.invalid / auth.expired (one read on a pooled connection).

    A session's idle clock is moved on by a write at most once a minute per token, so the
    idle check costs no write on most requests.
    """
    principal = ctx.db.first_read(lambda conn: authenticate(conn, token))
    if principal.stale_use:
        with ctx.db.write() as s:
            touch_token(s, principal.token_id)
    return principal


def principal_of(ctx: ServerContext, token: str | None) -> Principal:
    """Resolve the bearer token inside a (threaded) endpoint; 401 if missing or bad."""
    if not token:
        raise HallError("auth.required")
    return lookup(ctx, token)


def optional_principal_of(ctx: ServerContext, token: str | None) -> Principal | None:
    """Like principal_of, but no token at all is allowed (None)."""
    return lookup(ctx, token) if token else None


def json_response(data: object, status_code: int = 200) -> Response:
    """Serialize once with the standard library (the route's response_model documents the shape).

    The services build their answers in the documented shape, and the contract tests validate
    every answer against its model, so the route does not validate the same data again.
    """
    return Response(
        content=dumps(data).encode("utf-8"), status_code=status_code, media_type="application/json"
    )


async def run_db(ctx: ServerContext, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Run a use case in the thread pool: the event loop never waits on the database."""
    return await run_in_threadpool(functools.partial(fn, *args, **kw))


async def run_hot(ctx: ServerContext, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """run_db for the short use cases of the lean routes: on SQLite in the database's lane.

    SQLite admits one writer at a time, so one thread serves them as fast as many, at a
    fraction of the pool's cost per hop (db/lane.py). Longer work (reports, exports, pages)
    stays in the pool, where it cannot hold up a ticket being issued.
    """
    lane = ctx.db.lane
    # Counted, so station sync gives way to the kiosks and windows (hall_server/priority.py).
    HOT.enter()
    try:
        if lane is None:
            return await run_in_threadpool(functools.partial(fn, *args, **kw))
        return await lane.run(functools.partial(fn, *args, **kw))
    finally:
        HOT.leave()


def _authed(ctx: ServerContext, token: str | None, fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
    # The look-up and the use case on one connection (PostgreSQL; db/engine.py).
    with ctx.db.request():
        return fn(ctx, principal_of(ctx, token), *a, **kw)


async def run_authed(
    request: Request,
    token: str | None,
    fn: Callable[..., Any],
    *args: Any,
    **kw: Any,
) -> Any:
    """Resolve the caller and run fn(ctx, principal, *args) as one unit in the thread pool."""
    ctx = get_ctx(request)
    return await run_db(ctx, _authed, ctx, token, fn, *args, **kw)


async def run_bearer(request: Request, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """run_authed for lean routes, which read the header themselves instead of through Creds;
    the token check and the use case run as one call in the hot lane (run_hot)."""
    token = bearer_token(request.headers.get("authorization"))
    ctx = get_ctx(request)
    return await run_hot(ctx, _authed, ctx, token, fn, *args, **kw)
