"""Device heartbeats and faults."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from hall_server.api.deps import Creds, get_ctx, principal_of
from hall_server.api.schemas import ErrorOut, HeartbeatIn
from hall_server.services import devices

logger = logging.getLogger(__name__)

router = APIRouter(tags=["devices"], responses={401: {"model": ErrorOut}})


@router.post("/devices/heartbeat", status_code=204)
def heartbeat(body: HeartbeatIn, request: Request, creds: Creds) -> None:
    """A device reports it is alive, its status and its faults."""
    ctx = get_ctx(request)
    p = principal_of(ctx, creds)
    devices.record_heartbeat(
        ctx,
        p,
        devices.Heartbeat(
            device_id=body.device_id,
            kind=body.kind,
            status=body.status,
            faults=[f.model_dump() for f in body.faults],
            hall_id=body.hall_id,
            version=body.version,
        ),
    )


@router.get("/halls/{hall_id}/devices")
def list_devices(hall_id: str, request: Request, creds: Creds) -> list[dict]:
    """Devices of a hall as last seen."""
    ctx = get_ctx(request)
    return devices.list_devices(ctx, principal_of(ctx, creds), hall_id)
