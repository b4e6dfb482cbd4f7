"""The catalogue's guides and their versions, the halls' own guide values, and work calendars."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from hall_server.api.deps import Creds, get_ctx, run_authed, run_db
from hall_server.api.schemas import ErrorOut
from hall_server.services import calendars, catalogue
from wire import ServiceOut
from wire.catalogue import CalendarIn, CalendarOut, CalendarYearOut, GuideIn, GuideVersionOut, HallGuideIn

logger = logging.getLogger(__name__)

router = APIRouter(tags=["catalogue"], responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}})

Year = Annotated[int, Path(ge=1, le=9999)]
HallQuery = Annotated[str | None, Query(max_length=64)]


@router.get("/services/{code}/versions", response_model=list[GuideVersionOut])
async def versions(code: str, request: Request) -> list[dict[str, Any]]:
    """The versions of a service guide, oldest first (public)."""
    ctx = get_ctx(request)
    return await run_db(ctx, catalogue.guide_history, ctx, code)


@router.put("/services/{code}/guide", response_model=ServiceOut)
async def edit_guide(code: str, body: GuideIn, request: Request, creds: Creds) -> dict[str, Any]:
    """The city edits a service guide (a new version; the old ones stay readable by date)."""
    return await run_authed(request, creds, catalogue.edit_guide, code, body)


@router.get("/halls/{hall_id}/catalogue")
async def hall_catalogue(hall_id: str, request: Request, creds: Creds) -> list[dict[str, Any]]:
    """Every item of the city's catalogue and how this hall handles it (manager)."""
    return await run_authed(request, creds, catalogue.hall_catalogue, hall_id)


@router.put("/halls/{hall_id}/services/{code}/guide", response_model=ServiceOut)
async def hall_guide(
    code: str, hall_id: str, body: HallGuideIn, request: Request, creds: Creds
) -> dict[str, Any]:
    """The hall's own guide values: where to go, phones, daily cap, ID card needed (manager)."""
    return await run_authed(request, creds, catalogue.set_hall_guide, hall_id, code, body)


@router.get("/calendars", response_model=list[CalendarYearOut])
async def calendar_status(request: Request, creds: Creds, hall: HallQuery = None) -> list[dict[str, Any]]:
    """This year and the next: verified or not (manager; the dashboard flags an unverified year)."""
    return await run_authed(request, creds, calendars.calendar_status, hall)


@router.get("/calendars/{year}", response_model=CalendarOut)
async def calendar_year(year: Year, request: Request, creds: Creds, hall: HallQuery = None) -> dict[str, Any]:
    """A year's holidays and working days of the caller's city (manager)."""
    return await run_authed(request, creds, calendars.calendar_year, year, hall)


@router.put("/calendars/{year}", response_model=CalendarOut)
async def save_calendar(year: Year, body: CalendarIn, request: Request, creds: Creds) -> dict[str, Any]:
    """The city stores a year's calendar, verified or not (the city's managers)."""
    return await run_authed(request, creds, calendars.save_calendar, year, body)
