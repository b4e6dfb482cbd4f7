"""Device tokens (kiosk, display, rating): rotate and revoke, by an admin or a manager of the hall."""

from __future__ import annotations

import logging
from typing import Any

from hall_server.auth import (
    Principal,
    require_hall,
    require_not_station,
    require_roles,
    revoke_token,
    rotate_token,
    token_row,
)
from hall_server.const import DEVICE_ROLES, EV_AUTH_TOKEN_REVOKED, EV_AUTH_TOKEN_ROTATED
from hall_server.context import ServerContext
from hall_server.errors import HallError
from hall_server.events import append_event

logger = logging.getLogger(__name__)


def _device_row(ctx: ServerContext, p: Principal, s: Any, token_id: int) -> Any:
    """The live device token the caller may manage; 404 token.unknown, 422 token.not_device, 403."""
    require_roles(p, "admin", "manager")
    row = token_row(s, token_id)
    if row is None:
        raise HallError("token.unknown", token_id=token_id)
    if row.role not in DEVICE_ROLES:
        raise HallError("token.not_device", token_id=token_id, role=row.role)
    if p.role == "manager":
        # A device token without a hall is an admin's business.
        if row.hall_id is None:
            raise HallError("auth.forbidden", role=p.role)
        require_hall(p, row.hall_id, ctx.catalog)
    return row


def rotate_device_token(ctx: ServerContext, p: Principal, token_id: int) -> dict[str, Any]:
    """A new secret for a device token; the old one stops working at once. The new secret is shown once."""
    with ctx.db.write() as s:
        row = _device_row(ctx, p, s, token_id)
        require_not_station(ctx, "tokens")
        new = rotate_token(s, token_id)
        if new is None:
            raise HallError("token.unknown", token_id=token_id)
        new_id, token = new
        if row.hall_id:
            append_event(
                s,
                row.hall_id,
                EV_AUTH_TOKEN_ROTATED,
                {"token_id": token_id, "new_token_id": new_id, "role": row.role},
                p.actor,
            )
    logger.info("device token %d rotated to %d by %s", token_id, new_id, p.actor)
    return {
        "id": new_id,
        "token": token,
        "role": row.role,
        "hall_id": row.hall_id,
        "window_id": row.window_id,
        "replaces": token_id,
    }


def revoke_device_token(ctx: ServerContext, p: Principal, token_id: int) -> None:
    """End a device token for good."""
    with ctx.db.write() as s:
        row = _device_row(ctx, p, s, token_id)
        require_not_station(ctx, "tokens")
        if not revoke_token(s, token_id):
            raise HallError("token.unknown", token_id=token_id)
        if row.hall_id:
            append_event(
                s, row.hall_id, EV_AUTH_TOKEN_REVOKED, {"token_id": token_id, "role": row.role}, p.actor
            )
    logger.info("device token %d revoked by %s", token_id, p.actor)
