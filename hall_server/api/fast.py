"""A lean ASGI front for the hottest requests: issue a ticket, call-next, next and one-click window steps.

Through FastAPI each of these passes five middleware layers, a scan of every route, the
dependency solver and the request model machinery: about 0.15 ms of CPU, a quarter of what
the whole use case costs on SQLite. Here a well-formed request (a Bearer token, a JSON body
that validates against the same pydantic model) goes straight to the same use case and the
same JSON answer. Anything else (no or odd Authorization, a body that does not validate, an
over-long header, a path that does not parse) is handed to FastAPI untouched, with the body
replayed, so every refusal keeps the exact shape the routes give. Errors raised by a use case
are rendered by the app's own exception handlers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError
from starlette.requests import Request

from hall_server.api.deps import lookup, run_db
from hall_server.api.schemas import IssueIn, NextIn
from hall_server.api.tickets import issue_input
from hall_server.const import API_PREFIX
from hall_server.context import ServerContext
from hall_server.events import dumps
from hall_server.services import tickets, windows
from hall_server.services.tickets import IssueInput

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# Bodies above this are left to FastAPI (and its own size limit).
MAX_FAST_BODY = 16 * 1024
IDEMPOTENCY_KEY_MAX = 100  # as the route's Header(max_length=100)
_JSON_HEADERS = [(b"content-type", b"application/json")]

# POST /windows/{id}/<step>: the steps without a body.
WINDOW_STEPS: dict[str, Callable[..., Any]] = {
    "call-next": windows.call_next,
    "no-show": windows.no_show,
    "start": windows.start,
    "finish": windows.finish,
    "recall": windows.recall,
    "suspend": windows.suspend,
}

_WINDOWS = f"{API_PREFIX}/windows/"
_HALLS = f"{API_PREFIX}/halls/"


def _headers(scope: Scope) -> dict[bytes, bytes]:
    # Only the first value of each name counts, as for Starlette's headers.get().
    out: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        out.setdefault(name, value)
    return out


def _bearer(headers: dict[bytes, bytes]) -> str | None:
    """The token of a plain 'Bearer <token>' header, else None (FastAPI then answers)."""
    raw = headers.get(b"authorization")
    if not raw:
        return None
    try:
        value = raw.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        return None
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


class HotPaths:
    """Serves the hot requests of one app; `handle` returns False to let FastAPI answer."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        # Requests answered here (the rest went to FastAPI); for tests and curiosity.
        self.served = 0

    @property
    def ctx(self) -> ServerContext:
        return self.app.state.ctx

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """Answer the request and return None, or return the receive FastAPI must use."""
        path: str = scope["path"]
        if path.startswith(_WINDOWS):
            return await self._window_step(scope, receive, send, path[len(_WINDOWS) :])
        if path.startswith(_HALLS) and path.endswith("/tickets"):
            return await self._issue(scope, receive, send, path[len(_HALLS) : -len("/tickets")])
        return receive

    async def _window_step(self, scope: Scope, receive: Receive, send: Send, rest: str) -> Receive | None:
        wid, _, step = rest.partition("/")
        if not (wid.isascii() and wid.isdigit()):
            return receive
        if step == "next":
            return await self._next(scope, receive, send, int(wid))
        fn = WINDOW_STEPS.get(step)
        if fn is None:
            return receive
        token = _bearer(_headers(scope))
        if token is None:
            return receive
        await self._run(scope, receive, send, token, fn, 200, int(wid))
        return None

    async def _next(self, scope: Scope, receive: Receive, send: Send, window_id: int) -> Receive | None:
        token = _json_bearer(_headers(scope))
        if token is None:
            return receive
        body, fallback = await _model_body(receive, NextIn)
        if body is None:
            return fallback
        await self._run(scope, receive, send, token, _next_ticket, 200, window_id, body.close, body.ticket_id)
        return None

    async def _issue(self, scope: Scope, receive: Receive, send: Send, hall_id: str) -> Receive | None:
        if not hall_id or "/" in hall_id:
            return receive
        headers = _headers(scope)
        token = _json_bearer(headers)
        key_raw = headers.get(b"idempotency-key")
        if token is None or (key_raw is not None and len(key_raw) > IDEMPOTENCY_KEY_MAX):
            return receive
        body, fallback = await _model_body(receive, IssueIn)
        if body is None:
            return fallback
        key = key_raw.decode("latin-1") if key_raw is not None else None
        req = issue_input(body, key)
        await self._run(scope, receive, send, token, _issue_ticket, None, hall_id, req)
        return None

    async def _run(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        token: str,
        fn: Callable[..., Any],
        status: int | None,
        *args: Any,
    ) -> None:
        ctx = self.ctx
        self.served += 1
        try:
            result = await run_db(ctx, _authed, ctx, token, fn, *args)
        except Exception as exc:
            await self._error(scope, receive, send, exc)
            return
        if status is None:
            result, status = result
        data = dumps(result).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(data)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": data})

    async def _error(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        """Answer with the app's own handler for this exception (the JSON error body)."""
        handlers = self.app.exception_handlers
        handler = next((handlers[c] for c in type(exc).__mro__ if c in handlers), None)
        if handler is None:  # pragma: no cover - create_app installs one for Exception
            raise exc
        response = await handler(Request(scope, receive), exc)
        await response(scope, receive, send)


def _authed(ctx: ServerContext, token: str, fn: Callable[..., Any], *args: Any) -> Any:
    return fn(ctx, lookup(ctx, token), *args)


def _next_ticket(ctx: ServerContext, p: Any, window_id: int, close: str, ticket_id: int) -> Any:
    return windows.next_ticket(ctx, p, window_id, close=close, ticket_id=ticket_id)


def _issue_ticket(ctx: ServerContext, p: Any, hall_id: str, req: IssueInput) -> tuple[Any, int]:
    ticket, created = tickets.issue_ticket(ctx, p, hall_id, req)
    return ticket, 201 if created else 200


def _json_bearer(headers: dict[bytes, bytes]) -> str | None:
    """The bearer token of a request that says its body is JSON; None leaves it to FastAPI."""
    content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    return _bearer(headers) if content_type == b"application/json" else None


async def _model_body(receive: Receive, model: type[Any]) -> tuple[Any, Receive]:
    """(the validated body, receive), or (None, a receive that replays the body for FastAPI)."""
    chunks, more = await _read_body(receive)
    if more:
        return None, _replay(chunks, receive, complete=False)
    try:
        return model.model_validate(json.loads(b"".join(chunks))), receive
    except (ValueError, ValidationError):
        return None, _replay(chunks, receive, complete=True)


async def _read_body(receive: Receive) -> tuple[list[bytes], bool]:
    """The request body chunks; more=True when it grew past MAX_FAST_BODY (not all read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            # A disconnect: FastAPI gets what came and then the disconnect, as it would have.
            return chunks, True
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return chunks, False
        if size > MAX_FAST_BODY:
            return chunks, True


def _replay(chunks: list[bytes], receive: Receive, *, complete: bool) -> Receive:
    """A receive that gives back what was read, then continues with the real one."""
    pending = list(chunks)

    async def replay() -> dict[str, Any]:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending) or not complete}
        return await receive()

    return replay
