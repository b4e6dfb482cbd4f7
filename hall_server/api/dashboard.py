"""The dashboard's API: visible hall tree, alerts, device health, the notification outbox, hall settings."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request

from hall_server import worker
from hall_server.api.deps import Creds, get_ctx, run_authed
from hall_server.api.schemas import ErrorOut
from hall_server.services import bigscreen, hall_settings, halls, health, notify

logger = logging.getLogger(__name__)

router = APIRouter(tags=["dashboard"], responses={403: {"model": ErrorOut}})


@router.get("/dashboard/halls")
async def visible_halls(request: Request, creds: Creds) -> list[dict[str, Any]]:
    """The halls the caller may watch (admin: all; manager: own subtree), flat with parent_id and level."""
    return await run_authed(request, creds, halls.watched_halls)


@router.get("/halls/{hall_id}/alerts")
async def alerts(hall_id: str, request: Request, creds: Creds) -> list[dict[str, Any]]:
    """Alerts now: long waits and queues, idle windows with people waiting, failing devices (manager)."""
    return await run_authed(request, creds, health.alerts_of, hall_id)


@router.get("/halls/{hall_id}/device-health")
async def device_health(hall_id: str, request: Request, creds: Creds) -> list[dict[str, Any]]:
    """Devices with ok / faulty / offline state from their heartbeats (manager)."""
    return await run_authed(request, creds, health.devices_of, hall_id)


@router.get("/notify/outbox")
async def outbox(request: Request, creds: Creds) -> list[dict[str, Any]]:
    """Messages not sent yet (admin, manager), phones masked."""
    return await run_authed(request, creds, notify.outbox_of)


@router.post("/notify/flush")
async def flush(request: Request, creds: Creds) -> dict[str, int]:
    """Run one worker pass now (sweep, cases, near-turn notices, send the outbox)."""
    notifier = getattr(request.app.state, "notifier", None) or notify.load_notifier(
        get_ctx(request).settings.notifier
    )
    request.app.state.notifier = notifier
    return await run_authed(request, creds, worker.run_pass_now, notifier)


@router.get("/halls/{hall_id}/ext-settings")
async def get_settings(hall_id: str, request: Request, creds: Creds) -> dict[str, Any]:
    """The hall's booking rules, follow-up days and alert thresholds (manager)."""
    return await run_authed(request, creds, hall_settings.settings_for, hall_id)


@router.put("/halls/{hall_id}/ext-settings")
async def put_settings(hall_id: str, body: dict[str, Any], request: Request, creds: Creds) -> dict[str, Any]:
    """Change some of those settings (keys not given stay); unknown keys are refused."""
    return await run_authed(request, creds, hall_settings.change_settings, hall_id, body)


@router.get("/halls/{hall_id}/rules")
async def get_rules(hall_id: str, request: Request, creds: Creds) -> dict[str, Any]:
    """The hall's rules: hours, green channel, recall cap, limits, notices, and its settings (manager)."""
    return await run_authed(request, creds, hall_settings.hall_rules, hall_id)


@router.put("/halls/{hall_id}/rules")
async def put_rules(hall_id: str, body: dict[str, Any], request: Request, creds: Creds) -> dict[str, Any]:
    """Change the hall's rules live (kiosks and displays hear hall.updated); unknown keys are refused."""
    return await run_authed(request, creds, hall_settings.change_rules, hall_id, body)


@router.get("/halls/{hall_id}/bigscreen")
async def big_screen(hall_id: str, request: Request, creds: Creds) -> dict[str, Any]:
    """The big-screen figures of a hall with its subtree, and each hall below it (manager)."""
    return await run_authed(request, creds, bigscreen.bigscreen_of, hall_id)
