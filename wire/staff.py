"""Managers run their halls: staff accounts, the day's roster, device enrolment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from queueing.const import WINDOW_ZONE_MAX
from wire.base import DbInt, WireIn, WireOut

_DAY = r"^\d{4}-\d{2}-\d{2}$"
_HHMM = r"^\d{2}:\d{2}$"
_HALL = Field(min_length=1, max_length=64)
# 工号: letters, digits and hyphens (hall_server.const.STAFF_NUMBER_PATTERN).
_STAFF_NUMBER = r"^[A-Za-z0-9-]{1,20}$"


class StaffIn(WireIn):
    """A new clerk or manager of a hall of the caller's subtree."""

    username: str = Field(min_length=2, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    name: str = Field(min_length=1, max_length=100)
    role: Literal["clerk", "manager"]
    hall_id: str = _HALL
    password: str = Field(min_length=1, max_length=200)
    staff_number: str | None = Field(default=None, pattern=_STAFF_NUMBER)


class StaffPatchIn(WireIn):
    """Changes to a staff member; fields left out stay."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    role: Literal["clerk", "manager"] | None = None
    hall_id: str | None = Field(default=None, min_length=1, max_length=64)
    active: bool | None = None
    # "" clears the staff number.
    staff_number: str | None = Field(default=None, pattern=r"^(|[A-Za-z0-9-]{1,20})$")


class PasswordResetIn(WireIn):
    """A new password set by a manager (every session of the account ends)."""

    password: str = Field(min_length=1, max_length=200)


class StaffOut(WireOut):
    """A staff member as managers see them: no password hash."""

    id: int
    username: str
    name: str
    role: str
    hall_id: str | None
    hall_name: str
    active: bool
    sso_linked: bool
    staff_number: str | None = None
    has_photo: bool = False


class SittingIn(WireIn):
    """A roster line: this clerk at this window on this day, from starts to ends (hall's local time)."""

    day: str = Field(pattern=_DAY)
    window_id: DbInt
    user_id: DbInt
    starts: str = Field(pattern=_HHMM)
    ends: str = Field(pattern=_HHMM)


class SittingOut(WireOut):
    """A roster line with the window ("hall · window") and clerk by name."""

    id: int
    day: str
    window_id: int
    window: str
    window_name: str
    user_id: int
    clerk: str
    starts: str
    ends: str


class HandOverIn(WireIn):
    """Why a manager hands a window over (recorded in the audit trail)."""

    reason: str = Field(default="", max_length=200)


class WindowZoneIn(WireIn):
    """The part of the hall a window stands in ("B区"); empty or null clears it."""

    zone: str | None = Field(default=None, max_length=WINDOW_ZONE_MAX)


class HandOverOut(WireOut):
    """The window handed over and how many sessions ended."""

    window: str
    ended: int


class EnrolmentIn(WireIn):
    """A device to register; a rating terminal names its window."""

    role: Literal["kiosk", "display", "rating"]
    label: str = Field(default="", max_length=200)
    window_id: DbInt | None = None


class EnrolmentOut(WireOut):
    """The one-time enrolment code (shown once), its QR and when it expires."""

    code: str
    qr_text: str
    qr_svg: str | None
    role: str
    label: str
    window: str | None
    expires_at: str


class EnrolIn(WireIn):
    """A device's first start: the code typed or scanned."""

    code: str = Field(min_length=4, max_length=20)
    device_id: str = Field(default="", max_length=100)


class EnrolOut(WireOut):
    """The device's own token (shown only here) and what it is bound to."""

    token: str
    token_id: int
    role: str
    hall_id: str
    window_id: int | None
    label: str
