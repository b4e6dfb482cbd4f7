"""Typed domain errors: a stable dotted code, a zh_CN message, an English message, details."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused an operation; the server maps it to an HTTP 4xx answer."""

    def __init__(self, code: str, message_zh: str, message_en: str, /, **detail: Any) -> None:
        super().__init__(message_zh)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.detail: dict[str, Any] = detail

    def __str__(self) -> str:
        return f"{self.message_zh} ({self.code}: {self.message_en})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message_zh!r}, {self.message_en!r}, **{self.detail!r})"

    def to_dict(self) -> dict[str, Any]:
        """The error body of the wire: code, zh message, en message, details."""
        return {
            "code": self.code,
            "message": self.message_zh,
            "message_en": self.message_en,
            "detail": dict(self.detail),
        }


class IllegalTransition(DomainError):
    """A ticket operation is not allowed in the ticket's current status (or beyond a cap)."""


class IssueRefused(DomainError):
    """A ticket may not be issued now (closed hours, daily cap, per-person limit, ...)."""


class InvalidIdNumber(DomainError):
    """An ID number failed one of the GB 11643 checks; `detail["check"]` names which."""


class NotFound(DomainError):
    """A referenced hall, service, window or ticket does not exist."""


class CallRefused(DomainError):
    """A window may not call (not open, no clerk) or may not call the chosen ticket."""


class InvalidConfiguration(DomainError):
    """A hall policy, window weight table or hierarchy is inconsistent."""
