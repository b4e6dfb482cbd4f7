"""Ratings (好差评): the request of the rating terminal, the phone or the page, and its answer."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from wire.base import DbInt, WireIn, WireOut


class RatingIn(WireIn):
    """A rating of one served ticket; `client_id` makes a resend idempotent."""

    ticket_id: DbInt
    level: int = Field(ge=1, le=5)
    reasons: list[str] = Field(default_factory=list, max_length=10)
    text: str = Field(default="", max_length=2000)
    channel: Literal["device", "qr", "phone"] = "device"
    prompted: bool = False
    client_id: str | None = Field(default=None, min_length=1, max_length=100)
    track_token: str | None = Field(default=None, max_length=64)


class RatingOut(WireOut):
    """A recorded rating."""

    id: int
    hall_id: str
    ticket_id: int
    window_id: int | None
    clerk_id: int | None
    service_code: str | None
    level: int
    bad: bool
    reasons: list[str]
    text: str | None
    channel: str
    prompted: bool
    client_id: str | None
    created_at: str | None
