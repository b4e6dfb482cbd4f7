"""Appointments: availability, booking and cancelling (public, for portals and the phone page), check-in."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import Field

from hall_server.api.deps import Creds, get_ctx, run_authed, run_db
from hall_server.api.rate_limit import guard_of
from hall_server.api.schemas import CheckinTicketOut, ErrorOut
from hall_server.services import appointments as svc
from wire.base import WireIn

logger = logging.getLogger(__name__)

router = APIRouter(
    tags=["appointments"],
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)


class BookIn(WireIn):
    """A booking request."""

    service_code: str = Field(max_length=64)
    day: date
    start: str = Field(pattern=r"^\d{2}:\d{2}$")
    id_number: str = Field(min_length=15, max_length=18)
    phone: str = Field(max_length=20)
    name: str | None = Field(default=None, max_length=50)
    channel: str = Field(default="api", pattern=r"^(api|web|app|portal)$")


class ProofIn(WireIn):
    """A booking code with the holder's ID number as proof."""

    id_number: str = Field(min_length=15, max_length=18)


class LookupIn(ProofIn):
    """Find a booking by code."""

    code: str = Field(min_length=4, max_length=16)


class CancelIn(ProofIn):
    """A cancellation: the holder's ID number and the code texted to the booking's phone."""

    verification_code: str | None = Field(default=None, min_length=4, max_length=8)


class CheckinIn(WireIn):
    """The ID number read from the card at the kiosk."""

    id_number: str = Field(min_length=15, max_length=18)
    fallback_normal: bool = False


@router.get("/halls/{hall_id}/appointment-services")
async def bookable_services(hall_id: str, request: Request) -> list[dict[str, Any]]:
    """Service items a hall takes bookings for (public)."""
    return await run_db(get_ctx(request), svc.bookable_services, get_ctx(request), hall_id)


@router.get("/halls/{hall_id}/appointment-slots")
async def slots(hall_id: str, request: Request, service_code: str = Query(max_length=64)) -> dict[str, Any]:
    """Bookable days and slots with free places (public)."""
    guard_of(request).check(request, "slots")
    return await run_db(get_ctx(request), svc.slots_of, get_ctx(request), hall_id, service_code)


@router.post("/halls/{hall_id}/appointments", status_code=201)
async def book(hall_id: str, body: BookIn, request: Request) -> dict[str, Any]:
    """Book a slot (public: a provincial portal, a phone app or the booking page); rate-limited."""
    guard_of(request).check(request, "book", body.id_number)
    req = svc.BookingRequest(
        body.service_code, body.day, body.start, body.id_number, body.phone, body.name, body.channel
    )
    return await run_db(get_ctx(request), svc.book_slot, get_ctx(request), hall_id, req)


@router.post("/appointments/{code}/cancel-code", responses={403: {"model": ErrorOut}})
async def send_cancel_code(code: str, body: ProofIn, request: Request) -> dict[str, Any]:
    """Text a cancellation code to the booking's phone (public, with the holder's ID number); rate-limited."""
    guard_of(request).check(request, "lookup", body.id_number)
    return await run_db(get_ctx(request), svc.send_cancel_code, get_ctx(request), code, body.id_number)


@router.post("/appointments/{code}/cancel", responses={403: {"model": ErrorOut}})
async def cancel(code: str, body: CancelIn, request: Request) -> dict[str, Any]:
    """Cancel a booking (public): the holder's ID number and the code texted to the booking's phone."""
    guard_of(request).check(request, "lookup", body.id_number)
    ctx = get_ctx(request)
    return await run_db(ctx, svc.cancel_with_code, ctx, code, body.id_number, body.verification_code)


@router.post("/halls/{hall_id}/appointments/{code}/cancel", responses={403: {"model": ErrorOut}})
async def cancel_at_kiosk(
    hall_id: str, code: str, body: ProofIn, request: Request, creds: Creds
) -> dict[str, Any]:
    """Cancel at a kiosk of the booking's hall, the visitor's ID card on its reader (kiosk, manager)."""
    return await run_authed(request, creds, svc.cancel_at_kiosk, hall_id, code, body.id_number)


@router.post("/appointments/lookup")
async def lookup(body: LookupIn, request: Request) -> dict[str, Any]:
    """One booking by code and ID number (public; POST keeps the ID number out of URLs and logs); rate-limited."""
    guard_of(request).check(request, "lookup", body.id_number)
    return await run_db(get_ctx(request), svc.lookup_booking, get_ctx(request), body.code, body.id_number)


@router.post("/appointments/by-person")
async def by_person(body: ProofIn, request: Request, creds: Creds) -> list[dict[str, Any]]:
    """A person's bookings from today on, in the caller's halls (kiosk with the ID card, or a manager)."""
    return await run_authed(request, creds, svc.person_bookings, body.id_number)


@router.get("/halls/{hall_id}/appointments")
async def list_for_hall(
    hall_id: str, request: Request, creds: Creds, day: date | None = None
) -> list[dict[str, Any]]:
    """A hall's bookings of a day (manager), masked."""
    return await run_authed(request, creds, svc.hall_bookings, hall_id, day)


@router.post("/halls/{hall_id}/checkin", response_model=CheckinTicketOut, status_code=201)
async def checkin(hall_id: str, body: CheckinIn, request: Request, creds: Creds) -> dict[str, Any]:
    """Check in with the ID card at the kiosk: a priority ticket inside the slot's tolerance."""
    return await run_authed(request, creds, svc.check_in, hall_id, body.id_number, body.fallback_normal)


class CheckinCodeIn(WireIn):
    """The booking code read from the confirmation's QR (or typed from the SMS) at the kiosk."""

    code: str = Field(min_length=4, max_length=16, pattern=r"^[A-Za-z0-9]+$")
    fallback_normal: bool = False


@router.post("/halls/{hall_id}/checkin/by-code", response_model=CheckinTicketOut, status_code=201)
async def checkin_by_code(
    hall_id: str, body: CheckinCodeIn, request: Request, creds: Creds
) -> dict[str, Any]:
    """Check in by the booking's QR code at the kiosk: the same ticket as with the ID card."""
    return await run_authed(request, creds, svc.check_in_by_code, hall_id, body.code, body.fallback_normal)


@router.post("/appointments/sweep")
async def sweep(request: Request, creds: Creds) -> dict[str, int]:
    """Mark lapsed bookings as no-shows now (the worker does it every minute too)."""
    return await run_authed(request, creds, svc.sweep_now)
