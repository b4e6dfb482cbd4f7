"""Health and identity of the server."""

from __future__ import annotations

import logging
import os

from fastapi import APIRouter, Request

from hall_server.api.deps import Creds, get_ctx, principal_of, run_authed
from hall_server.api.schemas import (
    DbInt,
    DeviceTokenOut,
    ErrorOut,
    HealthOut,
    LoginIn,
    LoginOut,
    MeOut,
    PasswordIn,
    SessionOut,
)
from hall_server.const import VERSION
from hall_server.services import sessions, tokens

logger = logging.getLogger(__name__)

router = APIRouter(tags=["system"])


@router.get("/health", response_model=HealthOut)
async def health(request: Request) -> dict:
    """Liveness: status, version and the main hall served here."""
    hall = get_ctx(request).catalog.main_hall()
    hall_id = hall.id if hall else None
    # The worker's pid tells apart the processes behind one port (--workers N).
    return {"status": "ok", "version": VERSION, "hall_id": hall_id, "pid": os.getpid()}


_AUTH_ERRORS: dict[int | str, dict] = {
    401: {"model": ErrorOut},
    423: {"model": ErrorOut},
    429: {"model": ErrorOut},
}


def _source(request: Request) -> str:
    """The caller's address for log-in throttling (the balancer's, unless uvicorn trusts its headers)."""
    return request.client.host if request.client else "unknown"


@router.post("/auth/login", response_model=LoginOut, tags=["auth"], responses=_AUTH_ERRORS)
def login(body: LoginIn, request: Request) -> dict:
    """Staff log-in; clerks give the window they sit at. Too many failures: 429, then 423 (Retry-After)."""
    return sessions.login(get_ctx(request), body.username, body.password, body.window_id, _source(request))


@router.post("/auth/refresh", response_model=SessionOut, tags=["auth"], responses=_AUTH_ERRORS)
async def refresh(request: Request, creds: Creds) -> dict:
    """A new token for this session; the old one is revoked and the session's deadline is kept."""
    return await run_authed(request, creds, sessions.refresh)


@router.post("/auth/password", response_model=SessionOut, tags=["auth"], responses=_AUTH_ERRORS)
async def change_password(body: PasswordIn, request: Request, creds: Creds) -> dict:
    """Change one's own password; all the user's sessions end and this one continues with the new token."""
    return await run_authed(
        request, creds, sessions.change_password, body.old_password, body.new_password, _source(request)
    )


@router.post("/tokens/{token_id}/rotate", response_model=DeviceTokenOut, tags=["auth"])
async def rotate_token(token_id: DbInt, request: Request, creds: Creds) -> dict:
    """Replace a device token's secret (admin, or a manager of its hall); the old one stops at once."""
    return await run_authed(request, creds, tokens.rotate_device_token, token_id)


@router.post("/tokens/{token_id}/revoke", status_code=204, tags=["auth"])
async def revoke_token(token_id: DbInt, request: Request, creds: Creds) -> None:
    """Revoke a device token (admin, or a manager of its hall)."""
    await run_authed(request, creds, tokens.revoke_device_token, token_id)


@router.post("/auth/logout", status_code=204, tags=["auth"])
def logout(request: Request, creds: Creds) -> None:
    """End this token (a clerk leaves the window)."""
    ctx = get_ctx(request)
    sessions.logout(ctx, principal_of(ctx, creds))


@router.get("/auth/me", response_model=MeOut, tags=["auth"])
def me(request: Request, creds: Creds) -> dict:
    """Who this token belongs to."""
    ctx = get_ctx(request)
    return sessions.me(ctx, principal_of(ctx, creds))
