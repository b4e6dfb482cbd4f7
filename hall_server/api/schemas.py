"""Pydantic shapes of the wire (requests validated, answers documented in the OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Interval
from pydantic import BaseModel, ConfigDict, Field

from hall_server.const import DB_INT_MAX, DB_INT_MIN

# Every integer a request carries (paths, queries, bodies) fits a 64-bit database column, so a
# larger one is a 422 at the edge rather than an overflow inside the database.
DbInt = Annotated[int, Interval(ge=DB_INT_MIN, le=DB_INT_MAX)]

ChannelName = Literal["kiosk", "window", "phone"]
GreenName = Literal["elderly", "disabled", "serviceman", "pregnant"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    """{code, message (zh_CN), message_en, detail}."""

    code: str
    message: str
    message_en: str
    detail: dict[str, Any] = {}


class ErrorOut(BaseModel):
    """The error envelope."""

    error: ErrorBody


class Identity(BaseModel):
    """The visitor's ID card as read at the kiosk."""

    id_number: str = Field(min_length=1, max_length=32)
    name: str | None = Field(default=None, max_length=64)
    card_type: str | None = Field(default=None, max_length=20)


class IssueIn(BaseModel):
    """Ask for a ticket."""

    model_config = ConfigDict(extra="forbid")

    service_code: str = Field(min_length=1, max_length=64)
    channel: ChannelName = "kiosk"
    identity: Identity | None = None
    green_reason: GreenName | None = None
    # No appointment_id here: appointment priority is given only by check-in
    # (POST /halls/{hall}/checkin), which verifies the booking.


class Holder(_Out):
    """The ticket holder, masked (full values only for the serving clerk)."""

    id_masked: str | None = None
    name_masked: str | None = None
    card_type: str | None = None
    id_number: str | None = None
    name: str | None = None


class TicketOut(_Out):
    """A ticket."""

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
    window_id: int | None
    window_number: int | None
    recall_count: int
    people_ahead: int | None
    estimated_wait_minutes: int | None
    track_token: str
    track_url: str
    holder: Holder | None


class ClerkRef(_Out):
    """A clerk as shown on a window."""

    id: int
    name: str | None


class WindowOut(_Out):
    """A service window."""

    id: int
    hall_id: str
    number: int
    name: str
    kind: str
    status: str
    groups: dict[str, int]
    clerk: ClerkRef | None
    current: TicketOut | None


class CallIn(BaseModel):
    """Choose a ticket."""

    ticket_id: DbInt


class NextIn(BaseModel):
    """下一位: how to close the ticket in hand (the one the clerk sees) before calling the next."""

    close: Literal["finish", "no_show"]
    ticket_id: DbInt


class NextOut(_Out):
    """The ticket closed and the ticket called (null when nobody waits)."""

    closed: TicketOut
    called: TicketOut | None


class TransferIn(BaseModel):
    """Where to transfer the current ticket: another service's queue and/or a window."""

    service_code: str | None = Field(default=None, max_length=64)
    window_id: DbInt | None = None


class GroupsIn(BaseModel):
    """A window's groups and weights."""

    groups: dict[str, int]


class RatingIn(BaseModel):
    """A rating of one served ticket."""

    ticket_id: DbInt
    level: int = Field(ge=1, le=5)
    reasons: list[str] = Field(default_factory=list, max_length=10)
    text: str = Field(default="", max_length=2000)
    channel: Literal["device", "qr", "phone"] = "device"
    prompted: bool = False
    client_id: str | None = Field(default=None, min_length=1, max_length=100)
    track_token: str | None = Field(default=None, max_length=64)


class RatingOut(_Out):
    """A recorded rating."""

    id: int
    ticket_id: DbInt
    level: int
    reasons: list[str]
    channel: str
    prompted: bool


class FaultIn(BaseModel):
    """One device fault."""

    code: str = Field(min_length=1, max_length=64)
    message: str = Field(default="", max_length=500)


class HeartbeatIn(BaseModel):
    """A device's heartbeat."""

    device_id: str = Field(min_length=1, max_length=100)
    kind: str = Field(min_length=1, max_length=40)
    status: str = Field(min_length=1, max_length=40)
    faults: list[FaultIn] = Field(default_factory=list, max_length=50)
    hall_id: str | None = None


class LoginIn(BaseModel):
    """Staff log-in."""

    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)
    window_id: DbInt | None = None


class LoginOut(_Out):
    """A fresh token for the staff member."""

    token: str
    role: str
    clerk: dict[str, Any]
    window: WindowOut | None
    expires_at: str | None = None
    idle_s: int | None = None


class SessionOut(_Out):
    """A session's new token (refresh, password change): the old one no longer works."""

    token: str
    token_id: int
    role: str
    expires_at: str | None
    idle_s: int | None


class PasswordIn(BaseModel):
    """Change one's own password."""

    old_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class DeviceTokenOut(_Out):
    """A rotated device token; the secret is shown only here."""

    id: int
    token: str
    role: str
    hall_id: str | None
    window_id: int | None
    replaces: int


class SocketTicketOut(_Out):
    """A one-time ticket for the hall's event socket (?ticket=), valid for expires_in seconds."""

    ticket: str
    expires_in: int
    hall_id: str


class EventOut(_Out):
    """One event of a hall's stream."""

    seq: int
    hall_id: str
    type: str
    at: str
    actor: dict[str, Any]
    payload: dict[str, Any]


class HealthOut(BaseModel):
    """Liveness."""

    status: str
    version: str
    hall_id: str | None
    pid: int


class HallOut(_Out):
    """A hall (flat)."""

    id: str
    name: str
    level: str
    parent_id: str | None


class ServiceOut(_Out):
    """A service item."""

    code: str
    name: str
    category: str
    prefix: str | None
    guide: dict[str, Any]


class SnapshotOut(_Out):
    """The live state of a hall."""

    hall: dict[str, Any]
    groups: list[dict[str, Any]]
    windows: list[WindowOut]
    recent_calls: list[EventOut]
    last_seq: int
