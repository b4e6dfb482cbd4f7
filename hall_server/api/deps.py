"""FastAPI dependencies: the server context and the calling principal."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from hall_server.auth import Principal, resolve_token, resolve_token_sqlite
from hall_server.context import ServerContext
from hall_server.errors import ApiError
from hall_server.events import dumps

logger = logging.getLogger(__name__)


def get_ctx(request: Request) -> ServerContext:
    """The server context of this app."""
    return request.app.state.ctx


def bearer_token(request: Request) -> str | None:
    """The bearer token of the request, if any."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError("auth.invalid", reason="expected 'Authorization: Bearer <token>'")
    return value.strip()


def lookup(ctx: ServerContext, token: str) -> Principal:
    """The principal of a token or 401 auth.invalid."""
    raw = ctx.db.raw_sqlite() if ctx.db.is_sqlite else None
    if raw is not None:
        principal = resolve_token_sqlite(raw, token)
    else:
        with ctx.db.read_conn() as conn:
            principal = resolve_token(conn, token)
    if principal is None:
        raise ApiError("auth.invalid")
    return principal


def get_principal(request: Request) -> Principal:
    """The authenticated caller; 401 auth.required / auth.invalid otherwise."""
    token = bearer_token(request)
    if token is None:
        raise ApiError("auth.required")
    return lookup(get_ctx(request), token)


def get_optional_principal(request: Request) -> Principal | None:
    """The caller if a token was given (a bad token is still 401)."""
    token = bearer_token(request)
    return None if token is None else lookup(get_ctx(request), token)


# Async and cheap: documents the bearer scheme in the OpenAPI without a thread hop.
bearer_scheme = HTTPBearer(auto_error=False, description="hall-server token (device, clerk, manager, admin)")
Creds = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def principal_of(ctx: ServerContext, creds: HTTPAuthorizationCredentials | None) -> Principal:
    """Resolve the bearer credentials inside a (threaded) endpoint; 401 if missing or bad."""
    if creds is None or not creds.credentials:
        raise ApiError("auth.required")
    return lookup(ctx, creds.credentials)


def optional_principal_of(ctx: ServerContext, creds: HTTPAuthorizationCredentials | None) -> Principal | None:
    """Like principal_of, but no token at all is allowed (None)."""
    if creds is None or not creds.credentials:
        return None
    return lookup(ctx, creds.credentials)


def json_response(data: object, status_code: int = 200) -> Response:
    """Serialize once with the standard library (the route's response_model documents the shape).

    Returning a Response skips FastAPI's second validation of data the services already built
    in the documented shape; on the hot paths that is a good part of a request's CPU.
    """
    return Response(
        content=dumps(data).encode("utf-8"), status_code=status_code, media_type="application/json"
    )


async def run_db(ctx: ServerContext, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Run a short use case: inline on SQLite, in the thread pool otherwise.

    SQLite runs one writer at a time anyway and answers in microseconds, so a hop to a worker
    thread (and the GIL hand-offs of many of them) costs more than it saves; PostgreSQL waits
    on the network, so there the thread pool lets requests overlap.
    """
    if ctx.db.is_sqlite and ctx.settings.inline_sqlite:
        return fn(*args, **kw)
    return await run_in_threadpool(functools.partial(fn, *args, **kw))


def _authed(
    ctx: ServerContext, creds: HTTPAuthorizationCredentials | None, fn: Callable[..., Any], *a: Any, **kw: Any
) -> Any:
    return fn(ctx, principal_of(ctx, creds), *a, **kw)


async def run_authed(
    request: Request,
    creds: HTTPAuthorizationCredentials | None,
    fn: Callable[..., Any],
    *args: Any,
    **kw: Any,
) -> Any:
    """Resolve the caller and run fn(ctx, principal, *args) as one unit (see run_db)."""
    ctx = get_ctx(request)
    return await run_db(ctx, _authed, ctx, creds, fn, *args, **kw)
