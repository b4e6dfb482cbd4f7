"""Typed API errors and the JSON error body {"error": {code, message, message_en, detail}}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hall_server.const import ERRORS
from queueing.errors import DomainError, NotFound

logger = logging.getLogger(__name__)

# Domain error codes that are not a conflict (409) map to these statuses.
_DOMAIN_STATUS = {
    "id.invalid": 422,
    "issue.daily_cap": 409,
    "issue.closed_hours": 409,
    "issue.person_limit": 409,
    "issue.green_not_eligible": 422,
    "issue.identity_required": 422,
    "rating.reason_required": 422,
    "rating.invalid_level": 422,
    "rating.unknown_reason": 422,
    "rating.text_too_long": 422,
    "rating.invalid_channel": 422,
    "window.invalid_weight": 422,
    "group.invalid_prefix": 422,
    "ticket.transfer_target": 422,
    "ticket.transfer_same": 422,
    "ticket.window_required": 422,
}


class ApiError(Exception):
    """An error with a stable code; status and messages come from const.ERRORS unless given."""

    # Extra response headers (Retry-After of a 429).
    headers: dict[str, str] | None = None

    def __init__(
        self,
        code: str,
        *,
        status: int | None = None,
        message: str | None = None,
        message_en: str | None = None,
        **detail: Any,
    ) -> None:
        known = ERRORS.get(code, (400, code, code))
        self.code = code
        self.status = status or known[0]
        self.message = message or known[1]
        self.message_en = message_en or known[2]
        self.detail = detail
        super().__init__(f"{self.code}: {self.message_en}")

    def body(self) -> dict[str, Any]:
        """The wire body of this error."""
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "message_en": self.message_en,
                "detail": self.detail,
            }
        }


def from_domain(exc: DomainError) -> ApiError:
    """Map a queueing DomainError to an ApiError keeping its code and messages."""
    if isinstance(exc, NotFound):
        status = 404
    else:
        status = _DOMAIN_STATUS.get(exc.code, ERRORS.get(exc.code, (409,))[0])
    err = ApiError(exc.code, status=status, message=exc.message_zh, message_en=exc.message_en)
    err.detail = dict(exc.detail)
    return err


def error_response(err: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSONResponse carrying err."""
    return JSONResponse(err.body(), status_code=err.status, headers=headers)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def install_handlers(app: FastAPI) -> None:
    """Make every error leave the app as the JSON error body."""

    @app.exception_handler(ApiError)
    async def _api_error(_req: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc, {**(exc.headers or {}), **(headers or {})} or None)

    @app.exception_handler(DomainError)
    async def _domain_error(_req: Request, exc: DomainError) -> JSONResponse:
        return error_response(from_domain(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "type": e.get("type"), "msg": e.get("msg")}
            for e in exc.errors()
        ]
        return error_response(ApiError("request.invalid", errors=_jsonable(problems)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "request.not_found", 405: "request.method"}.get(exc.status_code)
        if code is None:
            err = ApiError("request.invalid", status=exc.status_code, reason=str(exc.detail))
        else:
            err = ApiError(code)
        return error_response(err)

    @app.exception_handler(OperationalError)
    async def _database(_req: Request, exc: OperationalError) -> JSONResponse:
        # The database went away or stayed locked: nothing was committed, the client may retry.
        text = str(exc.orig).lower()
        busy = "locked" in text or "busy" in text
        logger.warning("database error: %s", exc.orig)
        return error_response(ApiError("server.busy" if busy else "server.unavailable"), {"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(_req: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return error_response(ApiError("server.error"))
