"""The event envelope of a hall's stream (GET /halls/{hall}/events and the WebSocket).

Payloads differ per type (CONTRACTS section 2) and stay open dicts in the envelope; the calls
the display announces have their own model (CallPayload). Tickets inside events are masked.
"""

from __future__ import annotations

from typing import Any

from wire.base import WireOut
from wire.tickets import TicketOut

# Event types whose payload is a CallPayload (what the hall display shows and speaks).
CALL_EVENTS = ("ticket.called", "ticket.recalled", "ticket.called_back")


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


class WindowRef(WireOut):
    """A window as named in an event: {id, number, name}."""

    id: int
    number: int
    name: str


class CallPayload(WireOut):
    """Payload of ticket.called / ticket.recalled / ticket.called_back: `words` for a synthesizer."""

    ticket: TicketOut
    window: WindowRef
    text: str
    words: str
