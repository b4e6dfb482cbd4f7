"""Halls, service items and the live snapshot of a hall."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from wire.base import WireOut
from wire.events import EventOut
from wire.windows import WindowOut


class HallOut(WireOut):
    """A hall (flat list entry); `opening_hours` as [["08:30", "12:00"], ...]."""

    id: str
    name: str
    short_name: str | None
    level: str
    parent_id: str | None
    address: str | None
    phone: str | None
    timezone: str
    notices: list[str]
    opening_hours: list[list[str]]


class HallGroup(WireOut):
    """A queue group of a hall and the service items it takes."""

    prefix: str
    name: str
    services: list[str]


class HallWindow(WireOut):
    """A window as listed with its hall (no clerk, no current ticket)."""

    id: int
    number: int
    name: str
    kind: str
    zone: str | None = None  # the part of the hall (分区, "B区"); None in a hall without zones
    status: str
    groups: dict[str, int]


class PolicyOut(WireOut):
    """The hall's calling and issuing rules (queueing.model.HallPolicy.to_dict)."""

    green_mode: str
    green_ratio: list[int]
    recall_cap: int
    elderly_age: int
    appointment_first: bool
    daily_cap_per_group: int | None
    per_person_daily_limit: int | None
    opening_hours: list[list[str]]
    number_width: int
    wrap_at: int | None
    target_wait_minutes: int | None
    allow_anonymous: bool
    calling_policy: str


class HallDetailOut(HallOut):
    """GET /halls/{hall}: the hall with its groups, windows and policy."""

    groups: list[HallGroup]
    windows: list[HallWindow]
    policy: PolicyOut


class ServiceOut(WireOut):
    """A service item with its guide (办事指南: materials, steps, fee ...; an open dict)."""

    code: str
    name: str
    sub_name: str | None
    category: str
    department: str | None
    prefix: str | None
    guide: dict[str, Any]
    version: int | None = None  # the guide's version (catalogue history), when known
    valid_from: str | None = None  # since when this version applies
    guide_url: str | None = None  # the guide's public page (the printed slip's QR code)


class SnapshotHall(WireOut):
    """The hall as named in a snapshot."""

    id: str
    name: str
    short_name: str | None


class SnapshotGroup(WireOut):
    """One queue of the hall: how many wait and the estimate."""

    prefix: str
    name: str
    waiting: int
    estimated_wait_minutes: int | None


class NextUp(WireOut):
    """The ticket first in line of a queue (the display's 请A005号准备)."""

    prefix: str
    number: str


class SnapshotOut(WireOut):
    """The live state of a hall; next_up: the head of each queue, longest waiting first."""

    hall: SnapshotHall
    business_day: str
    groups: list[SnapshotGroup]
    # Unbound waiting tickets per service code (a service with none is absent; an older server
    # sends none at all).
    waiting_by_service: dict[str, int] = Field(default_factory=dict)
    windows: list[WindowOut]
    recent_calls: list[EventOut]
    last_seq: int
    next_up: list[NextUp] = Field(default_factory=list)
