"""Tickets: the issue request and the `Ticket` answer (also inside next/call answers and events)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from wire.base import ChannelName, GreenName, WireIn, WireOut


class Identity(WireIn):
    """The visitor's ID card as read at the kiosk."""

    id_number: str = Field(min_length=1, max_length=32)
    name: str | None = Field(default=None, max_length=64)
    card_type: str | None = Field(default=None, max_length=20)


class IssueIn(WireIn):
    """Ask for a ticket."""

    model_config = ConfigDict(extra="forbid")

    service_code: str = Field(min_length=1, max_length=64)
    channel: ChannelName = "kiosk"
    identity: Identity | None = None
    green_reason: GreenName | None = None
    # No appointment_id here: appointment priority is given only by check-in
    # (POST /halls/{hall}/checkin), which verifies the booking.


class RemovePriorityIn(WireIn):
    """Why the declared priority (disability, military, pregnancy) does not hold."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=2, max_length=200)


class Holder(WireOut):
    """The ticket holder, masked (full values only for the serving clerk)."""

    id_masked: str | None = None
    name_masked: str | None = None
    card_type: str | None = None
    id_number: str | None = None
    name: str | None = None


class TicketOut(WireOut):
    """A ticket (times ISO 8601 in the hall's zone; `group` is the queue it waits in now)."""

    id: int
    hall_id: str
    number: str
    prefix: str
    group: str
    service_code: str
    service_name: str
    status: str
    priority: bool
    green_reason: str | None
    appointment_id: str | None
    channel: str
    business_day: str
    issued_at: str | None
    called_at: str | None
    started_at: str | None
    finished_at: str | None
    window_id: int | None
    window_number: int | None
    bound_window_id: int | None
    recall_count: int
    transfer_count: int
    people_ahead: int | None
    estimated_wait_minutes: int | None
    # The ticket's tracking capability: in the issue answer and on the phone page only.
    track_token: str | None
    track_url: str | None
    holder: Holder | None


class TrackedTicketOut(TicketOut):
    """GET /track/{token}: the ticket with the hall's name, where to go and the number called now.

    `go_windows` are the windows to go to (the calling window once called; the staffed windows of
    the ticket's queue while waiting; none once the ticket is over), `go_to` / `go_to_en` say them
    ("7–9号窗口" / "windows 7–9"); `now_serving` is the latest number called in the ticket's queue.
    """

    hall_name: str
    go_windows: list[int] = Field(default_factory=list)
    go_to: str | None = None
    go_to_en: str | None = None
    now_serving: str | None = None


class CheckinOut(WireOut):
    """How an appointment check-in went: ok, or early/late with the normal ticket given instead."""

    status: Literal["ok", "early", "late"]
    appointment_code: str | None = None
    code: str | None = None
    message: str | None = None
    message_en: str | None = None


class CheckinTicketOut(TicketOut):
    """POST /halls/{hall}/checkin: the ticket and how the check-in went."""

    checkin: CheckinOut
