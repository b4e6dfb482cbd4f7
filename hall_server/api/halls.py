"""Halls, service items and the live snapshot."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import ConfigDict, Field

from hall_server.api.deps import Creds, get_ctx, principal_of, run_authed
from hall_server.api.schemas import ErrorOut, HallDetailOut, HallOut, ServiceOut, SnapshotOut
from hall_server.services import catalogue, halls
from wire.base import WireIn

logger = logging.getLogger(__name__)

router = APIRouter(tags=["halls"], responses={404: {"model": ErrorOut}})


@router.get("/halls", response_model=list[HallOut])
def list_halls(request: Request) -> list[dict]:
    """Every hall of the city (public)."""
    return halls.list_halls(get_ctx(request))


@router.get("/halls/{hall_id}", response_model=HallDetailOut)
def get_hall(hall_id: str, request: Request) -> dict:
    """One hall with groups, windows and policy (public)."""
    return halls.get_hall(get_ctx(request), hall_id)


@router.get("/halls/{hall_id}/services", response_model=list[ServiceOut])
def list_services(
    hall_id: str, request: Request, q: str | None = Query(default=None, max_length=100)
) -> list[dict]:
    """Service items handled in a hall, with their queue prefix (public)."""
    return halls.list_services(get_ctx(request), hall_id, q)


class ClaimIn(WireIn):
    """A hall takes an item of the city's catalogue into one of its queues."""

    model_config = ConfigDict(extra="forbid")

    service_code: Annotated[str, Field(min_length=1, max_length=64)]
    prefix: Annotated[str, Field(min_length=1, max_length=4)]


@router.post("/halls/{hall_id}/services", response_model=ServiceOut, status_code=201)
async def claim(hall_id: str, body: ClaimIn, request: Request, creds: Creds) -> dict:
    """The hall claims an item of the city's catalogue into a queue (manager)."""
    return await run_authed(request, creds, catalogue.claim_service, hall_id, body.service_code, body.prefix)


@router.get("/services/{code}", response_model=ServiceOut)
def get_service(
    code: str,
    request: Request,
    hall: Annotated[str | None, Query(max_length=64)] = None,
    at: Annotated[date | None, Query()] = None,
) -> dict:
    """A service item with its full guide (public): as `hall` shows it, as it was on the day `at`."""
    return catalogue.service_guide(get_ctx(request), code, hall, at)


@router.get("/halls/{hall_id}/snapshot", response_model=SnapshotOut, responses={403: {"model": ErrorOut}})
def snapshot(hall_id: str, request: Request, creds: Creds) -> dict:
    """Live queue state of a hall."""
    ctx = get_ctx(request)
    return halls.snapshot(ctx, principal_of(ctx, creds), hall_id)
