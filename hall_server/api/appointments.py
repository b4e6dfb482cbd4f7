"""Appointments: availability, booking and cancelling (public, for portals and the phone page), check-in."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from hall_server.api import ext_common
from hall_server.api.deps import Creds, get_ctx, principal_of
from hall_server.api.rate_limit import guard_of
from hall_server.api.schemas import CheckinTicketOut, ErrorOut
from hall_server.auth import require_hall, require_roles
from hall_server.db.models import HallService, ServiceItem
from hall_server.db.models_ext import Appointment
from hall_server.services import appointments as svc

logger = logging.getLogger(__name__)

router = APIRouter(
    tags=["appointments"],
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)


class BookIn(BaseModel):
    """A booking request."""

    service_code: str = Field(max_length=64)
    day: date
    start: str = Field(pattern=r"^\d{2}:\d{2}$")
    id_number: str = Field(min_length=15, max_length=18)
    phone: str = Field(max_length=20)
    name: str | None = Field(default=None, max_length=50)
    channel: str = Field(default="api", pattern=r"^(api|web|app|portal)$")


class ProofIn(BaseModel):
    """A booking code with the holder's ID number as proof."""

    id_number: str = Field(min_length=15, max_length=18)


class LookupIn(ProofIn):
    """Find a booking by code."""

    code: str = Field(min_length=4, max_length=16)


class CheckinIn(BaseModel):
    """The ID number read from the card at the kiosk."""

    id_number: str = Field(min_length=15, max_length=18)
    fallback_normal: bool = False


def _names(ctx: Any, items: list[Appointment]) -> list[dict[str, Any]]:
    return [svc.public_view(a, ctx.catalog.service_name(a.service_code)) for a in items]


@router.get("/halls/{hall_id}/appointment-services")
def bookable_services(hall_id: str, request: Request) -> list[dict[str, Any]]:
    """Service items a hall takes bookings for (public)."""
    ctx = get_ctx(request)
    ctx.catalog.hall(hall_id)
    with ctx.db.read() as s:
        rows = s.execute(
            select(ServiceItem.code, ServiceItem.name, ServiceItem.category)
            .join(HallService, HallService.service_code == ServiceItem.code)
            .where(HallService.hall_id == hall_id)
            .order_by(ServiceItem.category, ServiceItem.code)
        ).all()
    return [{"code": r.code, "name": r.name, "category": r.category} for r in rows]


@router.get("/halls/{hall_id}/appointment-slots")
def slots(hall_id: str, request: Request, service_code: str = Query(max_length=64)) -> dict[str, Any]:
    """Bookable days and slots with free places (public)."""
    guard_of(request).check(request, "slots")
    ctx = get_ctx(request)
    with ctx.db.write() as s:  # slots of a new day are created on first look
        return svc.availability(s, hall_id, service_code, ext_common.utcnow())


@router.post("/halls/{hall_id}/appointments", status_code=201)
def book(hall_id: str, body: BookIn, request: Request) -> dict[str, Any]:
    """Book a slot (public: a provincial portal, a phone app or the booking page); rate-limited."""
    guard_of(request).check(request, "book", body.id_number)
    ctx = get_ctx(request)
    req = svc.BookingRequest(
        body.service_code, body.day, body.start, body.id_number, body.phone, body.name, body.channel
    )
    with ctx.db.write() as s:
        appt = svc.book(s, ctx.protector, hall_id, req, ext_common.utcnow())
        return _names(ctx, [appt])[0]


@router.post("/appointments/{code}/cancel")
def cancel(code: str, body: ProofIn, request: Request) -> dict[str, Any]:
    """Cancel a booking (public, proven with the holder's ID number); rate-limited."""
    guard_of(request).check(request, "lookup", body.id_number)
    ctx = get_ctx(request)
    with ctx.db.write() as s:
        appt = svc.cancel(s, ctx.protector, code, body.id_number, ext_common.utcnow())
        return _names(ctx, [appt])[0]


@router.post("/appointments/lookup")
def lookup(body: LookupIn, request: Request) -> dict[str, Any]:
    """One booking by code and ID number (public; POST keeps the ID number out of URLs and logs); rate-limited."""
    guard_of(request).check(request, "lookup", body.id_number)
    ctx = get_ctx(request)
    with ctx.db.read() as s:
        return _names(ctx, [svc.get_by_code(s, ctx.protector, body.code, body.id_number)])[0]


@router.post("/appointments/by-person")
def by_person(body: ProofIn, request: Request, creds: Creds) -> list[dict[str, Any]]:
    """A person's bookings from today on (kiosk with the ID card, or a manager)."""
    ctx = get_ctx(request)
    p = principal_of(ctx, creds)
    require_roles(p, "kiosk", "manager", "admin")
    zone = ctx.catalog.hall(p.hall_id).zone if p.hall_id else ZoneInfo("Asia/Shanghai")
    today = ext_common.utcnow().astimezone(zone).date()
    with ctx.db.read() as s:
        return _names(ctx, svc.for_person(s, ctx.protector, body.id_number, today))


@router.get("/halls/{hall_id}/appointments")
def list_for_hall(
    hall_id: str, request: Request, creds: Creds, day: date | None = None
) -> list[dict[str, Any]]:
    """A hall's bookings of a day (manager), masked."""
    ctx = get_ctx(request)
    p = principal_of(ctx, creds)
    ext_common.manager_scope(ctx, p, hall_id, include_subtree=False)
    day = day or ext_common.utcnow().astimezone(ctx.catalog.hall(hall_id).zone).date()
    with ctx.db.read() as s:
        rows = list(
            s.scalars(
                select(Appointment)
                .where(Appointment.hall_id == hall_id, Appointment.day == day)
                .order_by(Appointment.start_at)
            )
        )
        return _names(ctx, rows)


@router.post("/halls/{hall_id}/checkin", response_model=CheckinTicketOut, status_code=201)
def checkin(hall_id: str, body: CheckinIn, request: Request, creds: Creds) -> dict[str, Any]:
    """Check in with the ID card at the kiosk: a priority ticket inside the slot's tolerance."""
    ctx = get_ctx(request)
    p = principal_of(ctx, creds)
    require_roles(p, "kiosk", "manager", "admin")
    ctx.catalog.hall(hall_id)
    require_hall(p, hall_id, ctx.catalog)
    return svc.checkin(
        ctx, p, hall_id, body.id_number, ext_common.utcnow(), fallback_normal=body.fallback_normal
    )


@router.post("/appointments/sweep")
def sweep(request: Request, creds: Creds) -> dict[str, int]:
    """Mark lapsed bookings as no-shows now (the worker does it every minute too)."""
    ctx = get_ctx(request)
    require_roles(principal_of(ctx, creds), *ext_common.MANAGER_ROLES)
    with ctx.db.write() as s:
        return {"no_shows": svc.sweep_no_shows(s, ext_common.utcnow())}
