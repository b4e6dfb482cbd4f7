"""The dashboard's API: visible hall tree, alerts, device health, the notification outbox."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from hall_server import worker
from hall_server.api import ext_common
from hall_server.api.deps import Creds, get_ctx, principal_of
from hall_server.api.schemas import ErrorOut
from hall_server.db.models import Hall
from hall_server.services import hall_settings, health, notify

logger = logging.getLogger(__name__)

router = APIRouter(tags=["dashboard"], responses={403: {"model": ErrorOut}})


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
    return worker.run_pass(ctx, notifier)


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
    p = principal_of(ctx, creds)
    ext_common.manager_scope(ctx, p, hall_id, include_subtree=False)
    with ctx.db.write() as s:
        return hall_settings.update_settings(s, hall_id, body, ext_common.utcnow(), p.actor)
