"""The clock and hall scope of the routers not yet moved into use cases (the rules live in auth.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from hall_server.auth import MANAGER_ROLES, manager_scope, require_roles, visible_halls

__all__ = ["MANAGER_ROLES", "manager_scope", "require_roles", "utcnow", "visible_halls"]

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    """The current time (one seam, so in-process tests can move the clock)."""
    return datetime.now(UTC)
