"""Shared pieces of the appointment/follow-up/matter/stats routers: clock, hall scope, role checks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from hall_server.auth import Principal, require_hall, require_roles

__all__ = ["MANAGER_ROLES", "manager_scope", "require_roles", "utcnow", "visible_halls"]
from hall_server.context import ServerContext
from queueing.hierarchy import subtree

logger = logging.getLogger(__name__)

MANAGER_ROLES = ("manager", "admin")


def utcnow() -> datetime:
    """The current time (one seam, so in-process tests can move the clock)."""
    return datetime.now(UTC)


def visible_halls(ctx: ServerContext, p: Principal) -> list[str]:
    """Halls a principal may see: admin every hall, a manager their subtree, others their own hall."""
    parents = ctx.catalog.parents()
    if p.role == "admin":
        return sorted(parents)
    if p.hall_id is None:
        return []
    if p.role == "manager":
        return subtree(p.hall_id, parents)
    return [p.hall_id]


def manager_scope(ctx: ServerContext, p: Principal, hall_id: str, include_subtree: bool = True) -> list[str]:
    """The halls a manager's request about hall_id covers; 403 outside the manager's own subtree."""
    require_roles(p, *MANAGER_ROLES)
    ctx.catalog.hall(hall_id)  # 404 hall.unknown first
    require_hall(p, hall_id, ctx.catalog)
    return subtree(hall_id, ctx.catalog.parents()) if include_subtree else [hall_id]
