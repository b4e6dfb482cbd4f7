"""Ratings (好差评): one rating per served ticket, idempotent by client_id."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from hall_server.auth import Principal, require_hall, require_roles
from hall_server.const import EV_RATING_RECORDED
from hall_server.context import ServerContext
from hall_server.db.models import Rating, Ticket
from hall_server.errors import HallError
from hall_server.events import Actor, append_event
from hall_server.services.views import local_iso
from queueing.ratings import validate_rating

logger = logging.getLogger(__name__)

R = Rating.__table__
T = Ticket.__table__

RATER_ROLES = ("rating", "kiosk", "manager", "admin")
RATED_STATUSES = ("serving", "finished")
VISITOR = Actor("visitor", None)
# Kept out of rating.recorded events: free text may hold personal data; client ids are retry keys.
EVENT_HIDDEN_FIELDS = frozenset({"text", "client_id"})


@dataclass(frozen=True)
class RatingInputWire:
    """A rating as posted."""

    ticket_id: int
    level: int
    reasons: list[str]
    text: str
    channel: str
    prompted: bool
    client_id: str | None = None
    track_token: str | None = None


def rating_view(ctx: ServerContext, row: Any) -> dict[str, Any]:
    """The `Rating` of the wire."""
    hall = ctx.catalog.hall(row.hall_id)
    return {
        "id": row.id,
        "hall_id": row.hall_id,
        "ticket_id": row.ticket_id,
        "window_id": row.window_id,
        "clerk_id": row.clerk_id,
        "service_code": row.service_code,
        "level": row.level,
        "bad": row.level <= 2,
        "reasons": list(row.reasons or []),
        "text": row.text,
        "channel": row.channel,
        "prompted": bool(row.prompted),
        "client_id": row.client_id,
        "created_at": local_iso(row.created_at, hall),
    }


def record_rating(
    ctx: ServerContext, p: Principal | None, req: RatingInputWire
) -> tuple[dict[str, Any], bool]:
    """Record a rating; (rating, created). A repeated client_id returns the first rating.

    Devices and staff rate with their bearer token; a visitor's phone (QR on the ticket) proves
    the ticket with its tracking token instead.
    """
    if p is not None:
        require_roles(p, *RATER_ROLES)
    elif not req.track_token:
        raise HallError("auth.required")
    checked = validate_rating(req.level, req.reasons, req.text, req.channel)
    if req.client_id:
        # A retry: the first rating goes back only to whoever recorded it, after the same
        # permission checks as a first attempt (a client id is no credential).
        existing = _replay(ctx, p, req)
        if existing is not None:
            return existing, False
    try:
        with ctx.db.write() as s:
            ticket = s.execute(select(T).where(T.c.id == req.ticket_id)).first()
            if ticket is None:
                raise HallError("rating.unknown_ticket", ticket_id=req.ticket_id)
            _check_rater(ctx, p, req, ticket, window=False)
            if ticket.status not in RATED_STATUSES:
                raise HallError("rating.not_served", ticket_id=req.ticket_id, ticket_status=ticket.status)
            _check_rater(ctx, p, req, ticket)
            if s.execute(select(R.c.id).where(R.c.ticket_id == req.ticket_id)).first() is not None:
                raise HallError("rating.duplicate", ticket_id=req.ticket_id)
            row = s.execute(
                insert(R)
                .values(
                    hall_id=ticket.hall_id,
                    ticket_id=ticket.id,
                    window_id=ticket.window_id,
                    clerk_id=ticket.clerk_id,
                    service_code=ticket.service_code,
                    level=int(checked.level),
                    reasons=list(checked.reasons),
                    text=checked.text,
                    channel=checked.channel,
                    prompted=req.prompted,
                    client_id=req.client_id or None,
                    recorded_by=_rater_key(p, ticket.id),
                    created_at=datetime.now(UTC),
                )
                .returning(R)
            ).one()
            view = rating_view(ctx, row)
            append_event(
                s,
                ticket.hall_id,
                EV_RATING_RECORDED,
                {"rating": rating_event_view(view), "number": ticket.number},
                p.actor if p else VISITOR,
            )
            return view, True
    except IntegrityError:
        # A concurrent duplicate (same client_id, or the same ticket rated twice at once).
        if req.client_id:
            existing = _replay(ctx, p, req)
            if existing is not None:
                return existing, False
        raise HallError("rating.duplicate", ticket_id=req.ticket_id) from None


def rating_event_view(view: dict[str, Any]) -> dict[str, Any]:
    """A rating as broadcast to the hall: no free text, no client id (displays subscribe too)."""
    return {k: v for k, v in view.items() if k not in EVENT_HIDDEN_FIELDS}


def _rater_key(p: Principal | None, ticket_id: int) -> str:
    """Who recorded a rating, to match a retry against: the principal, or the ticket's phone."""
    if p is None:
        return f"visitor:{ticket_id}"
    actor = p.actor
    return f"{actor.kind}:{actor.id}"


def _check_rater(
    ctx: ServerContext, p: Principal | None, req: RatingInputWire, ticket: Any, *, window: bool = True
) -> None:
    """The caller may rate this ticket: its phone (tracking token), or a rater of its hall/window."""
    if p is None:
        # Bytes: compare_digest refuses str with non-ASCII characters (a 500 on a bad token).
        if not hmac.compare_digest(str(req.track_token).encode(), str(ticket.track_token).encode()):
            raise HallError("auth.invalid")
        return
    require_hall(p, ticket.hall_id, ctx.catalog)
    if window and p.role == "rating" and p.window_id != ticket.window_id:
        raise HallError("rating.wrong_window", ticket_id=req.ticket_id, window_id=p.window_id)


def _replay(ctx: ServerContext, p: Principal | None, req: RatingInputWire) -> dict[str, Any] | None:
    """The rating first recorded under req.client_id, if this caller recorded it; else None or 409."""
    with ctx.db.read() as s:
        row = s.execute(select(R).where(R.c.client_id == req.client_id)).first()
        if row is None:
            return None
        ticket = s.execute(select(T).where(T.c.id == row.ticket_id)).first()
    if ticket is None:  # pragma: no cover - ratings reference tickets
        raise HallError("rating.duplicate", ticket_id=req.ticket_id)
    _check_rater(ctx, p, req, ticket)
    if row.recorded_by is not None and row.recorded_by != _rater_key(p, row.ticket_id):
        # Someone else's client id: say only that it is taken.
        raise HallError("rating.duplicate", ticket_id=req.ticket_id)
    return rating_view(ctx, row)
