"""Ratings (好差评)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response

from hall_server.api.deps import Creds, get_ctx, optional_principal_of
from hall_server.api.schemas import ErrorOut, RatingIn, RatingOut
from hall_server.services import ratings

logger = logging.getLogger(__name__)

router = APIRouter(tags=["ratings"], responses={401: {"model": ErrorOut}, 409: {"model": ErrorOut}})


@router.post(
    "/ratings",
    response_model=RatingOut,
    status_code=201,
    responses={200: {"model": RatingOut, "description": "the same client_id again"}},
)
def rate(body: RatingIn, request: Request, response: Response, creds: Creds) -> dict:
    """Record a rating; the same client_id again, from the same recorder, returns the first rating (200)."""
    ctx = get_ctx(request)
    p = optional_principal_of(ctx, creds)
    view, created = ratings.record_rating(
        ctx,
        p,
        ratings.RatingInputWire(
            ticket_id=body.ticket_id,
            level=body.level,
            reasons=body.reasons,
            text=body.text,
            channel=body.channel,
            prompted=body.prompted,
            client_id=body.client_id,
            track_token=body.track_token,
        ),
    )
    if not created:
        response.status_code = 200
    return view
