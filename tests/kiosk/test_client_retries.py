"""Retries only where safe, against a real HTTP server on a socket that answers 503 and counts requests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from kiosk.api import HallClient
from kiosk.errors import ServerError


class _Busy(BaseHTTPRequestHandler):
    hits: ClassVar[list[tuple[str, str, str | None]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        _Busy.hits.append((self.command, self.path, self.headers.get("Idempotency-Key")))
        body = json.dumps(
            {"error": {"code": "server.busy", "message": "服务器繁忙", "message_en": "busy"}}
        ).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def busy_server():
    _Busy.hits = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_get_and_keyed_issue_are_retried_with_the_same_key(busy_server):
    c = HallClient(busy_server, "t", retries=2)
    with pytest.raises(ServerError) as err:
        c.snapshot("h")
    assert err.value.message_zh == "服务器繁忙"
    assert len(_Busy.hits) == 3
    _Busy.hits.clear()
    with pytest.raises(ServerError):
        c.issue_ticket("h", "S-1", idempotency_key="k-1")
    assert [h[2] for h in _Busy.hits] == ["k-1", "k-1", "k-1"]  # one key: the server can deduplicate


def test_non_idempotent_calls_are_not_retried(busy_server):
    c = HallClient(busy_server, "t", retries=2)
    with pytest.raises(ServerError):
        c.call_next(3)
    assert len(_Busy.hits) == 1  # calling twice could call two visitors
    _Busy.hits.clear()
    with pytest.raises(ServerError):
        c.rate({"ticket_id": 1, "level": 5})  # without client_id a resend could count twice
    assert len(_Busy.hits) == 1
    _Busy.hits.clear()
    with pytest.raises(ServerError):
        c.rate({"ticket_id": 1, "level": 5, "client_id": "abc"})
    assert len(_Busy.hits) == 3
