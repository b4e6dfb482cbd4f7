"""Health and identity of the server."""

from __future__ import annotations

import logging
import os

from fastapi import APIRouter, Request

from hall_server.api.deps import Creds, get_ctx, principal_of
from hall_server.api.schemas import ErrorOut, HealthOut, LoginIn, LoginOut, MeOut
from hall_server.const import VERSION
from hall_server.services import sessions

logger = logging.getLogger(__name__)

router = APIRouter(tags=["system"])


@router.get("/health", response_model=HealthOut)
async def health(request: Request) -> dict:
    """Liveness: status, version and the main hall served here."""
    hall = get_ctx(request).catalog.main_hall()
    hall_id = hall.id if hall else None
    # The worker's pid tells apart the processes behind one port (--workers N).
    return {"status": "ok", "version": VERSION, "hall_id": hall_id, "pid": os.getpid()}


@router.post("/auth/login", response_model=LoginOut, tags=["auth"], responses={401: {"model": ErrorOut}})
def login(body: LoginIn, request: Request) -> dict:
    """Staff log-in; clerks give the window they sit at."""
    return sessions.login(get_ctx(request), body.username, body.password, body.window_id)


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
