"""The error body of every 4xx/5xx answer and the error codes the kiosk reacts to."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from wire.base import WireOut


class ErrorBody(WireOut):
    """{code, message (zh_CN), message_en, detail}."""

    code: str
    message: str
    message_en: str
    detail: dict[str, Any] = Field(default_factory=dict)


class ErrorOut(WireOut):
    """The error envelope."""

    error: ErrorBody


class ErrorCode(StrEnum):
    """Stable codes the kiosk branches on (the server's full table: hall_server.const.ERRORS)."""

    REQUEST_INVALID = "request.invalid"
    AUTH_REQUIRED = "auth.required"
    AUTH_INVALID = "auth.invalid"
    AUTH_BAD_CREDENTIALS = "auth.bad_credentials"
    AUTH_FORBIDDEN = "auth.forbidden"
    QUEUE_EMPTY = "queue.empty"
    WINDOW_NOT_OPEN = "window.not_open"
    WINDOW_NO_CLERK = "window.no_clerk"
    WINDOW_BUSY = "window.busy"
    WINDOW_IDLE = "window.idle"
    WINDOW_CURRENT_CHANGED = "window.current_changed"
    TICKET_ILLEGAL_TRANSITION = "ticket.illegal_transition"
    TICKET_RECALL_CAP = "ticket.recall_cap"
    ISSUE_DAILY_CAP = "issue.daily_cap"
    ISSUE_CLOSED_HOURS = "issue.closed_hours"
    ISSUE_PERSON_LIMIT = "issue.person_limit"
    RATING_DUPLICATE = "rating.duplicate"
    RATING_WRONG_WINDOW = "rating.wrong_window"
    CHECKIN_NONE = "checkin.none"
    CHECKIN_TOO_EARLY = "checkin.too_early"
    CHECKIN_TOO_LATE = "checkin.too_late"
    CHECKIN_CODE_UNKNOWN = "checkin.code_unknown"
    CHECKIN_OTHER_HALL = "checkin.other_hall"
    CHECKIN_CANCELLED = "checkin.cancelled"
    CHECKIN_WRONG_DAY = "checkin.wrong_day"
    RATE_LIMITED = "rate.limited"
