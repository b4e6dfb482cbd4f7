"""Tickets: issue, read, list, cancel, track, cancel by the holder."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import StringConstraints

from hall_server.api.deps import Creds, get_ctx, json_response, principal_of, run_authed, run_bearer
from hall_server.api.lean import LeanParam, LeanRoute, lean_openapi, read_body
from hall_server.api.schemas import DbInt, ErrorOut, IssueIn, TicketOut, TrackedTicketOut
from hall_server.const import IDEMPOTENCY_KEY_MAX, TRACK_TOKEN_MAX
from hall_server.services import tickets
from hall_server.services.tickets import IssueInput

logger = logging.getLogger(__name__)

# The issue route reads its parameters itself (api/lean.py).
HALL_ID = LeanParam("path", "hall_id", str, "Hall Id")
IDEMPOTENCY_KEY = LeanParam(
    "header",
    "idempotency-key",
    Annotated[str, StringConstraints(max_length=IDEMPOTENCY_KEY_MAX)] | None,
    "Idempotency-Key",
)

router = APIRouter(
    tags=["tickets"], route_class=LeanRoute, responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}}
)


@router.post(
    "/halls/{hall_id}/tickets",
    response_model=TicketOut,
    status_code=201,
    responses={
        200: {"model": TicketOut, "description": "the same Idempotency-Key again"},
        404: {"model": ErrorOut},
    },
    openapi_extra=lean_openapi(IssueIn, (HALL_ID, IDEMPOTENCY_KEY)),
)
async def issue(request: Request) -> Response:
    """Issue a ticket; with Idempotency-Key a retry returns the same ticket (200)."""
    hall_id = HALL_ID.read(request)
    idempotency_key = IDEMPOTENCY_KEY.read(request)
    body = await read_body(request, IssueIn)
    ticket, created = await run_bearer(
        request, tickets.issue_ticket, hall_id, issue_input(body, idempotency_key)
    )
    return json_response(ticket, 201 if created else 200)


def issue_input(body: IssueIn, idempotency_key: str | None) -> IssueInput:
    """The use case's input from a validated request body."""
    identity = body.identity
    return IssueInput(
        service_code=body.service_code,
        channel=body.channel,
        id_number=identity.id_number if identity else None,
        name=identity.name if identity else None,
        card_type=identity.card_type if identity else None,
        green_reason=body.green_reason,
        idempotency_key=idempotency_key,
    )


@router.get("/tickets/{ticket_id}", response_model=TicketOut, responses={404: {"model": ErrorOut}})
async def get_ticket(ticket_id: DbInt, request: Request, creds: Creds) -> Response:
    """One ticket with its position."""
    return json_response(await run_authed(request, creds, tickets.get_ticket, ticket_id))


@router.get("/halls/{hall_id}/tickets", response_model=list[TicketOut])
def list_tickets(
    hall_id: str,
    request: Request,
    creds: Creds,
    status: str | None = Query(default=None, max_length=20),
    group: str | None = Query(default=None, max_length=4),
    window_id: DbInt | None = None,
) -> list[dict]:
    """Today's tickets of a hall."""
    ctx = get_ctx(request)
    return tickets.list_tickets(
        ctx, principal_of(ctx, creds), hall_id, status=status, group=group, window_id=window_id
    )


@router.post("/tickets/{ticket_id}/cancel", response_model=TicketOut)
def cancel(ticket_id: DbInt, request: Request, creds: Creds) -> dict:
    """Cancel a waiting or suspended ticket."""
    ctx = get_ctx(request)
    return tickets.cancel_ticket(ctx, principal_of(ctx, creds), ticket_id)


@router.get("/track/{track_token}", response_model=TrackedTicketOut, responses={404: {"model": ErrorOut}})
def track(track_token: str = Path(max_length=TRACK_TOKEN_MAX), *, request: Request) -> dict:
    """A ticket by the token in its QR code (public; personal data masked): where to go, the call now."""
    return tickets.track_ticket(get_ctx(request), track_token)


@router.post(
    "/track/{track_token}/cancel",
    response_model=TrackedTicketOut,
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
)
def cancel_tracked(track_token: str = Path(max_length=TRACK_TOKEN_MAX), *, request: Request) -> dict:
    """The holder cancels their ticket from the phone page (the token is the proof); repeatable."""
    return tickets.cancel_tracked(get_ctx(request), track_token)
