"""queueing: the pure domain core (tickets, numbering, calling policy, estimates, ID rules)."""

from __future__ import annotations

from .errors import CallRefused, DomainError, IllegalTransition, InvalidIdNumber, IssueRefused, NotFound
from .model import Channel, GreenReason, HallLevel, HallPolicy, TicketStatus, WindowStatus
from .tickets import TicketOp, next_status

__all__ = [
    "CallRefused",
    "Channel",
    "DomainError",
    "GreenReason",
    "HallLevel",
    "HallPolicy",
    "IllegalTransition",
    "InvalidIdNumber",
    "IssueRefused",
    "NotFound",
    "TicketOp",
    "TicketStatus",
    "WindowStatus",
    "next_status",
]
