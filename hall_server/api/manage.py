"""Managers run their halls: staff accounts, the roster and window hand-over, device enrolment."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from hall_server.api.deps import Creds, get_ctx, principal_of, run_authed, run_db
from hall_server.api.documents import read_limited
from hall_server.api.rate_limit import guard_of
from hall_server.api.schemas import ErrorOut
from hall_server.auth import MANAGER_ROLES, require_roles
from hall_server.const import STAFF_PHOTO_CONTENT_TYPE, STAFF_PHOTO_MAX_BYTES, STAFF_PHOTO_TYPES
from hall_server.errors import HallError
from hall_server.services import enrolment, sittings, staff, staff_photos, window_zones
from wire.base import DbInt
from wire.staff import (
    EnrolIn,
    EnrolmentIn,
    EnrolmentOut,
    EnrolOut,
    HandOverIn,
    HandOverOut,
    PasswordResetIn,
    SittingIn,
    SittingOut,
    StaffIn,
    StaffOut,
    StaffPatchIn,
    WindowZoneIn,
)
from wire.windows import WindowOut

logger = logging.getLogger(__name__)

router = APIRouter(tags=["manage"], responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}})


@router.get("/staff", response_model=list[StaffOut])
async def list_staff(
    request: Request, creds: Creds, hall_id: str | None = Query(default=None, max_length=64)
) -> list[dict[str, Any]]:
    """Clerks and managers of the caller's subtree (or of one hall of it)."""
    return await run_authed(request, creds, staff.list_staff, hall_id)


@router.post("/staff", response_model=StaffOut, status_code=201)
async def create_staff(body: StaffIn, request: Request, creds: Creds) -> dict[str, Any]:
    """A new clerk or manager in a hall of the caller's subtree (audited)."""
    new = staff.StaffInput(
        body.username, body.name, body.role, body.hall_id, body.password, body.staff_number
    )
    return await run_authed(request, creds, staff.create_staff, new)


@router.patch("/staff/{user_id}", response_model=StaffOut)
async def update_staff(user_id: DbInt, body: StaffPatchIn, request: Request, creds: Creds) -> dict[str, Any]:
    """Rename, change role or hall, disable or enable (disabling ends the sessions); audited."""
    patch = staff.StaffPatch(body.name, body.role, body.hall_id, body.active, body.staff_number)
    return await run_authed(request, creds, staff.update_staff, user_id, patch)


@router.post("/staff/{user_id}/password", response_model=StaffOut)
async def reset_password(
    user_id: DbInt, body: PasswordResetIn, request: Request, creds: Creds
) -> dict[str, Any]:
    """Set a new password for a staff member; every session of theirs ends (audited)."""
    return await run_authed(request, creds, staff.reset_password, user_id, body.password)


@router.put(
    "/staff/{user_id}/photo",
    response_model=StaffOut,
    responses={
        404: {"model": ErrorOut},
        413: {"model": ErrorOut},
        415: {"model": ErrorOut},
        422: {"model": ErrorOut},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in STAFF_PHOTO_TYPES},
        }
    },
)
async def set_photo(user_id: DbInt, request: Request, creds: Creds) -> dict[str, Any]:
    """The staff member's photo (raw JPEG or PNG body, at most 2 MB); kept as an encrypted thumbnail."""
    ctx = get_ctx(request)
    # Who is calling is settled before the body is read: a stranger cannot make us take 2 MB.
    p = await run_db(ctx, principal_of, ctx, creds)
    require_roles(p, *MANAGER_ROLES)
    kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if kind not in STAFF_PHOTO_TYPES:
        raise HallError("staff.photo_type", content_type=kind[:60])
    data = await read_limited(request, STAFF_PHOTO_MAX_BYTES, "staff.photo_too_large")
    return await run_db(ctx, staff_photos.set_photo, ctx, p, user_id, data)


@router.delete("/staff/{user_id}/photo", response_model=StaffOut, responses={404: {"model": ErrorOut}})
async def remove_photo(user_id: DbInt, request: Request, creds: Creds) -> dict[str, Any]:
    """Remove the staff member's photo (audited)."""
    return await run_authed(request, creds, staff_photos.remove_photo, user_id)


@router.get(
    "/staff/{user_id}/photo",
    response_class=Response,
    responses={
        200: {"content": {STAFF_PHOTO_CONTENT_TYPE: {}}, "description": "the photo's thumbnail"},
        404: {"model": ErrorOut},
    },
)
async def get_photo(user_id: DbInt, request: Request, creds: Creds) -> Response:
    """The staff member's photo thumbnail for the staff page (managers of their hall)."""
    data = await run_authed(request, creds, staff_photos.read_photo, user_id)
    # Personal data: no cache may keep a copy.
    return Response(content=data, media_type=STAFF_PHOTO_CONTENT_TYPE, headers={"Cache-Control": "no-store"})


@router.get("/halls/{hall_id}/roster", response_model=list[SittingOut])
async def roster(
    hall_id: str,
    request: Request,
    creds: Creds,
    day: str = Query(pattern=r"^\d{4}-\d{2}-\d{2}$"),
    days: int = Query(default=1, ge=1, le=31),
) -> list[dict[str, Any]]:
    """The roster of a hall from `day`, for `days` days (managers of the hall or above)."""
    return await run_authed(request, creds, sittings.roster, hall_id, day, days)


@router.post("/halls/{hall_id}/roster", response_model=SittingOut, status_code=201)
async def add_sitting(hall_id: str, body: SittingIn, request: Request, creds: Creds) -> dict[str, Any]:
    """Roster a clerk of the hall at one of its windows (overlaps refused; audited)."""
    new = sittings.SittingInput(body.day, body.window_id, body.user_id, body.starts, body.ends)
    return await run_authed(request, creds, sittings.add_sitting, hall_id, new)


@router.delete("/roster/{sitting_id}", status_code=204)
async def remove_sitting(sitting_id: DbInt, request: Request, creds: Creds) -> None:
    """Take a roster line off (audited)."""
    await run_authed(request, creds, sittings.remove_sitting, sitting_id)


@router.post("/windows/{window_id}/hand-over", response_model=HandOverOut)
async def hand_over(window_id: DbInt, body: HandOverIn, request: Request, creds: Creds) -> dict[str, Any]:
    """End the session of the clerk at a window so another may log in there (managers; audited)."""
    return await run_authed(request, creds, sittings.hand_over, window_id, body.reason)


@router.put("/windows/{window_id}/zone", response_model=WindowOut)
async def set_window_zone(
    window_id: DbInt, body: WindowZoneIn, request: Request, creds: Creds
) -> dict[str, Any]:
    """Name the part of the hall a window stands in ("B区"; empty clears it); managers, audited."""
    return await run_authed(request, creds, window_zones.set_zone, window_id, body.zone)


@router.get("/halls/{hall_id}/device-registry")
async def device_registry(hall_id: str, request: Request, creds: Creds) -> dict[str, Any]:
    """The hall's device tokens, codes not yet used, and its devices with version, heartbeat, faults."""
    return await run_authed(request, creds, enrolment.registry, hall_id)


@router.post("/halls/{hall_id}/enrolments", response_model=EnrolmentOut, status_code=201)
async def issue_enrolment(hall_id: str, body: EnrolmentIn, request: Request, creds: Creds) -> dict[str, Any]:
    """Register a device: a one-time code (and QR) it exchanges for its token at first start."""
    new = enrolment.EnrolmentInput(body.role, body.label, body.window_id)
    return await run_authed(request, creds, enrolment.issue_enrolment, hall_id, new)


@router.post("/devices/enrol", response_model=EnrolOut, status_code=201, tags=["devices"])
async def enrol(body: EnrolIn, request: Request) -> dict[str, Any]:
    """A device's first start: the enrolment code for its own token (the code works once)."""
    # Counted like the booking look-ups: codes cannot be probed from one address.
    guard_of(request).check(request, "lookup")
    ctx = get_ctx(request)
    return await run_db(ctx, enrolment.enrol, ctx, body.code, body.device_id)
