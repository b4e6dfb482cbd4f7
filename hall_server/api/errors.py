"""The API seam for errors: every refusal leaves as {"error": {code, message, message_en, detail}}.

Use cases raise HallError or the core's DomainError and know nothing of HTTP; the status of a
code comes from the one table (hall_server.const.ERRORS), looked up here and nowhere else.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hall_server.const import ERRORS
from hall_server.errors import HallError
from queueing.errors import DomainError, NotFound

logger = logging.getLogger(__name__)

# A refusal of the domain whose code is not in the table is a conflict with the current state.
DEFAULT_DOMAIN_STATUS = 409


def http_status(exc: DomainError) -> int:
    """The HTTP status of a refusal."""
    known = ERRORS.get(exc.code)
    if known is not None:
        return known[0]
    return 404 if isinstance(exc, NotFound) else DEFAULT_DOMAIN_STATUS


def error_body(exc: DomainError) -> dict[str, Any]:
    """The wire body of a refusal."""
    return {"error": exc.to_dict()}


def http_headers(exc: DomainError, status: int) -> dict[str, str] | None:
    """Headers a refusal carries: the bearer challenge of a 401, Retry-After of a 429/503."""
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    retry_after = exc.detail.get("retry_after")
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return headers or None


def error_response(exc: DomainError, status: int | None = None) -> JSONResponse:
    """A JSONResponse carrying the refusal."""
    status = status or http_status(exc)
    return JSONResponse(error_body(exc), status_code=status, headers=http_headers(exc, status))


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

    @app.exception_handler(DomainError)
    async def _domain_error(_req: Request, exc: DomainError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "type": e.get("type"), "msg": e.get("msg")}
            for e in exc.errors()
        ]
        return error_response(HallError("request.invalid", errors=_jsonable(problems)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        carried = getattr(exc, "error", None)  # the front guard's refusal (api/guard.py GuardRefusal)
        if isinstance(carried, DomainError):
            return error_response(carried)
        code = {404: "request.not_found", 405: "request.method"}.get(exc.status_code)
        if code is None:
            return error_response(HallError("request.invalid", reason=str(exc.detail)), exc.status_code)
        return error_response(HallError(code))

    @app.exception_handler(DataError)
    async def _data(_req: Request, exc: DataError) -> JSONResponse:
        # A value the database cannot store (out of range, a character its text refuses) that
        # got past the edge's checks: the request is at fault, and nothing was committed.
        logger.warning("database refused a value: %s", exc.orig)
        return error_response(HallError("request.invalid", reason="a value the database cannot store"))

    @app.exception_handler(OperationalError)
    async def _database(_req: Request, exc: OperationalError) -> JSONResponse:
        # The database went away or stayed locked: nothing was committed, the client may retry.
        text = str(exc.orig).lower()
        busy = "locked" in text or "busy" in text
        logger.warning("database error: %s", exc.orig)
        return error_response(HallError("server.busy" if busy else "server.unavailable", retry_after=1))

    @app.exception_handler(Exception)
    async def _unexpected(_req: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return error_response(HallError("server.error"))
