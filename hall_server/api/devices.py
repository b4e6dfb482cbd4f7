"""Device heartbeats and faults, and a kiosk's call for floor staff (呼叫工作人员)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from hall_server.api.deps import Creds, get_ctx, principal_of, run_authed
from hall_server.api.schemas import ErrorOut, HeartbeatIn
from hall_server.services import devices, staff_calls
from wire import StaffCallIn, StaffCallOut

logger = logging.getLogger(__name__)

router = APIRouter(tags=["devices"], responses={401: {"model": ErrorOut}})
# A staff call's id is the kiosk's uuid (hex): anything else is no call (422, never a database error).
CallId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


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


@router.post(
    "/halls/{hall_id}/staff-calls",
    response_model=StaffCallOut,
    status_code=201,
    responses={
        200: {"model": StaffCallOut, "description": "the same call id again, or the kiosk's call still open"},
        403: {"model": ErrorOut},
        409: {"model": ErrorOut},
        429: {"model": ErrorOut},
    },
)
async def request_staff(
    hall_id: str, body: StaffCallIn, request: Request, response: Response, creds: Creds
) -> dict:
    """A kiosk calls the hall's floor staff; the dashboards show it at once, naming the kiosk."""
    view, created = await run_authed(request, creds, staff_calls.request_staff, hall_id, body.call_id)
    if not created:
        response.status_code = 200
    return view


@router.post(
    "/staff-calls/{call_id}/acknowledge",
    response_model=StaffCallOut,
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)
async def acknowledge_staff_call(call_id: CallId, request: Request, creds: Creds) -> dict:
    """A manager of the hall marks the call 已处理: it leaves every dashboard and the kiosk's screen."""
    return await run_authed(request, creds, staff_calls.acknowledge, call_id)
