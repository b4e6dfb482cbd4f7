"""ASGI middleware at the front of the one stack: the client's address for the audit trail is set,
oversized bodies and NUL characters are refused."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException

from hall_server import audit
from hall_server.api.errors import error_body, http_status
from hall_server.errors import HallError

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(HallError):
    """The body passed the limit of its route while it was being read."""

    def __init__(self, limit: int, size: int) -> None:
        super().__init__("request.too_large", max_bytes=limit, size=size)


class NulCharacter(HallError):
    """A NUL character in the path, the query or a JSON body (no text of the hall contains one)."""

    def __init__(self, where: str) -> None:
        super().__init__("request.invalid", reason="NUL character", where=where)


class LoneSurrogate(HallError):
    """A JSON escape of half a UTF-16 surrogate pair: a string no database or answer can encode."""

    def __init__(self) -> None:
        super().__init__("request.invalid", reason="lone surrogate escape", where="body")


class GuardRefusal(StarletteHTTPException):
    """A refusal raised while the body streams in, carrying its HallError.

    FastAPI re-raises an HTTPException met while reading a body as it is, but turns any other
    exception into a bare 400; the app's HTTPException handler answers this one with its
    error's own code and status (413, 422), on lean and ordinary routes alike.
    """

    def __init__(self, error: HallError) -> None:
        super().__init__(http_status(error), error.code)
        self.error = error


class RequestGuard:
    """The front of the one stack: who is calling from where, and what no route may receive.

    The request's client address goes into audit.client_address (a contextvar, which follows
    the request into the thread pool and the lane) for every HTTP request and socket, so each
    use case that records a security act knows its source. Then it refuses, before routing
    and authentication:
    - A body over its route's limit: 413 at once for a declared length, and a longer stream is
      stopped mid-way, so a client lying about its length cannot make the server hold more.
    - A NUL character in the path, the query string or a JSON body: 422. PostgreSQL cannot store
      one in text, and no name, code or search of a hall contains one.
    - A JSON escape of a lone UTF-16 surrogate (\\ud800 not followed by a low half): 422. Such a
      string cannot be encoded as UTF-8, so neither database can store it and no answer that
      repeats it (an unknown setting's name, say) can be sent; typed fields refuse it already,
      free-form keys and values would otherwise reach the encoder (a 500).
    Every route is behind it, the lean ones included, and a refused request never costs a token
    look-up.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = audit.client_address.set(str(client[0]) if client else None)
        try:
            if kind == "http":
                await self._http(scope, receive, send)
            else:
                await self.app(scope, receive, send)
        finally:
            audit.client_address.reset(address)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if "\x00" in scope["path"] or _has_nul_escape(scope.get("query_string", b"")):
            await _refuse(send, NulCharacter("url"))
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, BodyTooLarge(limit, declared))
            return
        json_body = _is_json(scope)
        seen = 0
        tail = b""
        body = bytearray()

        async def guarded() -> Message:
            nonlocal seen, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > limit:
                    raise GuardRefusal(BodyTooLarge(limit, seen))
                if json_body:
                    # A JSON text can carry NUL only as the escape \u0000; keep a tail so an
                    # escape split across two chunks is still seen.
                    if _JSON_NUL in tail + chunk:
                        raise GuardRefusal(NulCharacter("body"))
                    tail = chunk[-(len(_JSON_NUL) - 1) :] if chunk else tail
                    # Bounded by the limit above; a pair may straddle chunks, so the whole is checked.
                    body.extend(chunk)
                    if not message.get("more_body", False) and _has_lone_surrogate(body):
                        raise GuardRefusal(LoneSurrogate())
            return message

        await self.app(scope, guarded, send)


_JSON_NUL = b"\\u0000"


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE_PAIR = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def _has_lone_surrogate(body: bytes | bytearray) -> bool:
    """True if a JSON text escapes half a surrogate pair (a whole pair, an emoji, is fine)."""
    if b"\\ud" not in body and b"\\uD" not in body:
        return False
    return _SURROGATE_ESCAPE.search(_SURROGATE_PAIR.sub(b"", bytes(body))) is not None


def _has_nul_escape(query: bytes) -> bool:
    return b"%00" in query or b"\x00" in query


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    # Without a content type FastAPI reads the body as JSON, so it is checked as JSON.
    return True


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, err: HallError) -> None:
    from hall_server.events import dumps

    data = dumps(error_body(err)).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": http_status(err),
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
