"""Staff log-in and the token's owner."""

from __future__ import annotations

from pydantic import Field

from wire.base import DbInt, WireIn, WireOut
from wire.windows import WindowOut


class LoginIn(WireIn):
    """Staff log-in; a clerk names the window they sit at."""

    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)
    window_id: DbInt | None = None


class UserOut(WireOut):
    """A staff member."""

    id: int
    username: str
    name: str | None
    role: str
    hall_id: str | None


class LoginOut(WireOut):
    """A fresh token for the staff member (and the window a clerk took over)."""

    token: str
    token_id: int
    role: str
    clerk: UserOut
    window: WindowOut | None
    # When the session ends at the latest, and how long it may sit idle (None: it never expires).
    expires_at: str | None = None
    idle_s: int | None = None


class SessionOut(WireOut):
    """A session's new token (refresh, password change): the old one no longer works."""

    token: str
    token_id: int
    role: str
    expires_at: str | None
    idle_s: int | None


class PasswordIn(WireIn):
    """Change one's own password."""

    old_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class DeviceTokenOut(WireOut):
    """A rotated device token; the secret is shown only here."""

    id: int
    token: str
    role: str
    hall_id: str | None
    window_id: int | None
    replaces: int


class SocketTicketOut(WireOut):
    """A one-time ticket for the hall's event socket (?ticket=), valid for expires_in seconds."""

    ticket: str
    expires_in: int
    hall_id: str


class MeOut(WireOut):
    """GET /auth/me: who this token belongs to."""

    role: str
    hall_id: str | None
    window_id: int | None
    user: UserOut | None
    token_id: int
