"""Windows: the `Window` answer and the clerk's requests (call, 下一位, transfer, groups)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from wire.base import DbInt, WireIn, WireOut
from wire.tickets import TicketOut


class ClerkRef(WireOut):
    """A clerk as shown on a window."""

    id: int
    name: str | None


class WindowOut(WireOut):
    """A service window with its clerk and the ticket in hand."""

    id: int
    hall_id: str
    number: int
    name: str
    kind: str
    zone: str | None = None  # the part of the hall (分区, "B区"); None in a hall without zones
    status: str
    groups: dict[str, int]
    clerk: ClerkRef | None
    current: TicketOut | None


class WindowClerk(WireOut):
    """The clerk at a window as the rating terminal shows them (好差评: the rated person is named)."""

    id: int
    name: str | None
    staff_number: str | None  # 工号
    photo_jpeg: str | None  # the photo's thumbnail, JPEG in base64; None without a photo


class WindowClerkOut(WireOut):
    """Who sits at a window now (clerk None: nobody is logged in there)."""

    window_id: int
    window_number: int
    clerk: WindowClerk | None


class CallIn(WireIn):
    """Choose a ticket."""

    ticket_id: DbInt


class NextIn(WireIn):
    """下一位: how to close the ticket in hand (the one the clerk sees) before calling the next."""

    close: Literal["finish", "no_show"]
    ticket_id: DbInt


class NextOut(WireOut):
    """The ticket closed and the ticket called (null when nobody waits)."""

    closed: TicketOut
    called: TicketOut | None


class TransferIn(WireIn):
    """Where to transfer the current ticket: another service's queue and/or a window."""

    service_code: str | None = Field(default=None, max_length=64)
    window_id: DbInt | None = None


class GroupsIn(WireIn):
    """A window's groups and weights."""

    groups: dict[str, int]
