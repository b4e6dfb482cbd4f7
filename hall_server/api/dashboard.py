"""The dashboard's API: visible hall tree, alerts, device health, the notification outbox; the worker."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import select

from hall_server.api import ext_common
from hall_server.api.deps import Creds, get_ctx, principal_of
from hall_server.api.schemas import ErrorOut
from hall_server.const import DOCUMENT_RETENTION_ENV
from hall_server.context import ServerContext
from hall_server.db.models import Hall
from hall_server.services import appointments, dayend, documents, followups, hall_settings, health, notify

logger = logging.getLogger(__name__)

WORKER_ENV = "HALL_EXT_WORKER_SECONDS"
DEFAULT_WORKER_SECONDS = 15.0


def run_worker_pass(ctx: ServerContext, notifier: notify.Notifier) -> dict[str, int]:
    """One pass: ended days close, lapsed bookings no-show, bad ratings open cases, notices queue and send."""
    now = ext_common.utcnow()
    out: dict[str, int] = dayend.close_ended_days(ctx, now)
    with ctx.db.write() as s:
        out["no_shows"] = appointments.sweep_no_shows(s, now)
    with ctx.db.write() as s:
        out["cases_opened"] = followups.open_missing_cases(s, now)
    with ctx.db.write() as s:
        out["near_queued"] = notify.scan_events(s, ctx.protector, now)
    with ctx.db.write() as s:
        out.update(notify.flush(s, ctx.protector, notifier, now))
    out["documents_purged"] = documents.purge_documents(ctx, now, _retention_days())
    return out


def _retention_days() -> int:
    raw = os.environ.get(DOCUMENT_RETENTION_ENV, "").strip()
    if not raw:
        return 0
    if not raw.isdigit():
        logger.warning("%s=%r is not a number of days; documents are kept", DOCUMENT_RETENTION_ENV, raw)
        return 0
    return int(raw)


@asynccontextmanager
async def worker_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the background pass every HALL_EXT_WORKER_SECONDS (0 turns it off) while the app runs."""
    interval = float(os.environ.get(WORKER_ENV, DEFAULT_WORKER_SECONDS))
    stop = threading.Event()
    thread: threading.Thread | None = None
    ctx: ServerContext | None = getattr(app.state, "ctx", None)
    if ctx is not None:
        # A server stopped overnight closes the days that ended meanwhile before it serves
        # today (even with the worker off); off the event loop, like every database call.
        try:
            await asyncio.to_thread(dayend.close_ended_days, ctx, ext_common.utcnow())
        except Exception:
            logger.exception("closing ended business days at start-up failed; the worker retries")
    if interval > 0 and ctx is not None:
        notifier = notify.load_notifier()
        app.state.notifier = notifier

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    run_worker_pass(ctx, notifier)
                except Exception:
                    logger.exception("worker pass failed; retrying next round")

        thread = threading.Thread(target=loop, name="hall-ext-worker", daemon=True)
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=30)


router = APIRouter(tags=["dashboard"], responses={403: {"model": ErrorOut}}, lifespan=worker_lifespan)


@router.get("/dashboard/halls")
def visible_halls(request: Request, creds: Creds) -> list[dict[str, Any]]:
    """The halls the caller may watch (admin: all; manager: own subtree), flat with parent_id and level."""
    ctx = get_ctx(request)
    p = principal_of(ctx, creds)
    ids = set(ext_common.visible_halls(ctx, p))
    with ctx.db.read() as s:
        rows = s.execute(
            select(Hall.id, Hall.name, Hall.short_name, Hall.level, Hall.parent_id).order_by(Hall.id)
        ).all()
    return [
        {"id": r.id, "name": r.name, "short_name": r.short_name, "level": r.level, "parent_id": r.parent_id}
        for r in rows
        if r.id in ids
    ]


@router.get("/halls/{hall_id}/alerts")
def alerts(hall_id: str, request: Request, creds: Creds) -> list[dict[str, Any]]:
    """Alerts now: long waits and queues, idle windows with people waiting, failing devices (manager)."""
    ctx = get_ctx(request)
    ext_common.manager_scope(ctx, principal_of(ctx, creds), hall_id, include_subtree=False)
    with ctx.db.read() as s:
        return health.alerts(s, hall_id, ext_common.utcnow())


@router.get("/halls/{hall_id}/device-health")
def device_health(hall_id: str, request: Request, creds: Creds) -> list[dict[str, Any]]:
    """Devices with ok / faulty / offline state from their heartbeats (manager)."""
    ctx = get_ctx(request)
    ext_common.manager_scope(ctx, principal_of(ctx, creds), hall_id, include_subtree=False)
    with ctx.db.read() as s:
        return health.devices(s, hall_id, ext_common.utcnow())


@router.get("/notify/outbox")
def outbox(request: Request, creds: Creds) -> list[dict[str, Any]]:
    """Messages not sent yet (admin, manager), phones masked."""
    ctx = get_ctx(request)
    p = principal_of(ctx, creds)
    ext_common.require_roles(p, *ext_common.MANAGER_ROLES)
    ids = set(ext_common.visible_halls(ctx, p))
    with ctx.db.read() as s:
        return [notify.view(m) for m in notify.pending(s) if m.hall_id in ids]


@router.post("/notify/flush")
def flush(request: Request, creds: Creds) -> dict[str, int]:
    """Run one worker pass now (sweep, cases, near-turn notices, send the outbox)."""
    ctx = get_ctx(request)
    ext_common.require_roles(principal_of(ctx, creds), *ext_common.MANAGER_ROLES)
    notifier = getattr(request.app.state, "notifier", None) or notify.load_notifier()
    request.app.state.notifier = notifier
    return run_worker_pass(ctx, notifier)


@router.get("/halls/{hall_id}/ext-settings")
def get_settings(hall_id: str, request: Request, creds: Creds) -> dict[str, Any]:
    """The hall's booking rules, follow-up days and alert thresholds (manager)."""
    ctx = get_ctx(request)
    ext_common.manager_scope(ctx, principal_of(ctx, creds), hall_id, include_subtree=False)
    with ctx.db.read() as s:
        return hall_settings.settings_of(s, hall_id)


@router.put("/halls/{hall_id}/ext-settings")
def put_settings(hall_id: str, body: dict[str, Any], request: Request, creds: Creds) -> dict[str, Any]:
    """Change some of those settings (keys not given stay); unknown keys are refused."""
    ctx = get_ctx(request)
    ext_common.manager_scope(ctx, principal_of(ctx, creds), hall_id, include_subtree=False)
    with ctx.db.write() as s:
        return hall_settings.update_settings(s, hall_id, body, ext_common.utcnow())
