"""FastAPI dependencies: the server context and the calling principal."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hall_server.auth import Principal, resolve_token
from hall_server.context import ServerContext
from hall_server.errors import ApiError

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
