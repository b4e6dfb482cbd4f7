"""The event envelope of a hall's stream (GET /halls/{hall}/events and the WebSocket).

Payloads differ per type (CONTRACTS section 2) and stay open dicts here; tickets inside them
are masked `Ticket`s.
"""

from __future__ import annotations

from typing import Any

from wire.base import WireOut


class ActorOut(WireOut):
    """Who caused an event: {kind, id}."""

    kind: str
    id: str | None


class EventOut(WireOut):
    """One event of a hall's stream; seq is per hall, gap-free, increasing."""

    seq: int
    hall_id: str
    type: str
    at: str
    actor: ActorOut
    payload: dict[str, Any]
