"""One-time WebSocket tickets: a browser cannot set headers on a socket, and a token in the URL ends up
in access logs, so it trades its bearer token (header) for a ticket that opens one socket within seconds."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert

from hall_server.auth import Principal, authenticate_id, can_access_hall
from hall_server.const import WS_TICKET_BYTES, WS_TICKET_TTL_S
from hall_server.context import ServerContext
from hall_server.db.models import SocketTicket
from hall_server.errors import HallError
from hall_server.events import hall_of_stream
from hall_server.passwords import token_hash

logger = logging.getLogger(__name__)

ST = SocketTicket.__table__


def issue(ctx: ServerContext, p: Principal, hall_id: str) -> dict[str, Any]:
    """A ticket for the event socket of a hall the caller may watch; valid WS_TICKET_TTL_S, once."""
    hall = hall_of_stream(hall_id)  # "<hall>@city": the city's own stream of a station's hall
    ctx.catalog.hall(hall)
    if not can_access_hall(p, hall, ctx.catalog):
        raise HallError("auth.wrong_hall", hall_id=hall_id)
    ticket = secrets.token_urlsafe(WS_TICKET_BYTES)
    now = datetime.now(UTC)
    with ctx.db.write() as s:
        # Unused tickets are cleared as new ones are made; there are only a few per minute.
        s.execute(delete(ST).where(ST.c.expires_at < now))
        s.execute(
            insert(ST).values(
                ticket_hash=token_hash(ticket),
                token_id=p.token_id,
                hall_id=hall_id,
                expires_at=now + timedelta(seconds=WS_TICKET_TTL_S),
            )
        )
    return {"ticket": ticket, "expires_in": WS_TICKET_TTL_S, "hall_id": hall_id}


def redeem(ctx: ServerContext, ticket: str, hall_id: str) -> Principal:
    """The principal of a ticket, used up by this call; 401 auth.ticket_invalid if used, expired or for another hall."""
    now = datetime.now(UTC)
    with ctx.db.write() as s:
        row = s.execute(
            delete(ST)
            .where(ST.c.ticket_hash == token_hash(ticket))
            .returning(ST.c.token_id, ST.c.hall_id, ST.c.expires_at)
        ).first()
    if row is None:
        raise HallError("auth.ticket_invalid")
    expires_at = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if now >= expires_at or row.hall_id != hall_id:
        raise HallError("auth.ticket_invalid")
    # The token behind the ticket must still be live: a logout in between closes the door too.
    with ctx.db.read_conn() as conn:
        return authenticate_id(conn, row.token_id, now)
