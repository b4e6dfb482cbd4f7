"""Use cases of the audit trail: the chains' verification state and the audit streams (managers)."""

from __future__ import annotations

import logging
from typing import Any

from hall_server import audit
from hall_server.auth import Principal, can_access_hall, require_roles
from hall_server.const import AUDIT_CITY_SCOPE, AUDIT_STREAM_PREFIX
from hall_server.context import ServerContext
from hall_server.errors import HallError
from hall_server.events import read_events

logger = logging.getLogger(__name__)

AUDIT_READERS = ("admin", "manager")


def _may_see(ctx: ServerContext, p: Principal, chain_id: str) -> bool:
    """Admins see every chain; managers the chains of the halls of their subtree."""
    if p.role == "admin":
        return True
    hall_id = chain_id.removeprefix(AUDIT_STREAM_PREFIX)
    if hall_id == AUDIT_CITY_SCOPE:
        return False
    try:
        return can_access_hall(p, hall_id, ctx.catalog)
    except HallError:
        return False


def status(ctx: ServerContext, p: Principal) -> dict[str, Any]:
    """The last periodic verification of each chain the caller may see; ok only if all are."""
    require_roles(p, *AUDIT_READERS)
    with ctx.db.read() as s:
        states = [c for c in audit.check_states(s) if _may_see(ctx, p, c["hall_id"])]
    return {"ok": all(c["ok"] for c in states), "chains": states}


def records(ctx: ServerContext, p: Principal, scope: str, since: int, limit: int) -> list[dict[str, Any]]:
    """The audit stream of a hall (or of the city) after `since`."""
    require_roles(p, *AUDIT_READERS)
    stream = audit.stream_of(scope)
    if not _may_see(ctx, p, stream):
        raise HallError("auth.wrong_hall", hall_id=scope)
    with ctx.db.read() as s:
        return read_events(s, stream, since, limit)
