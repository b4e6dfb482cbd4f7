"""The event channel asks again when a sequence number is skipped (a real WebSocket server on a socket)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kiosk.events import EventChannel


def _until(cond, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


@contextlib.contextmanager
def _channel(handler: Callable[[Any], None], **backoff: float) -> Iterator[tuple[EventChannel, list[int]]]:
    """A real WebSocket server running handler per connection, and a started channel to it from
    since=0 with the seqs it delivered; both stopped afterwards."""
    from websockets.sync.server import serve

    server = serve(handler, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ch = EventChannel(f"ws://127.0.0.1:{server.socket.getsockname()[1]}/events", since=0, **backoff)
    got: list[int] = []
    ch.subscribe(lambda e: got.append(e["seq"]))
    ch.start()
    try:
        yield ch, got
    finally:
        ch.stop()
        server.shutdown()


def test_gap_triggers_replay_and_pruned_history_is_accepted():
    log = [{"seq": n, "type": "ticket.issued", "payload": {"n": n}} for n in range(1, 7)]
    asked: list[int] = []

    def handler(ws):
        since = int(parse_qs(urlsplit(ws.request.path).query)["since"][0])
        asked.append(since)
        if len(asked) == 1:
            out = [e for e in log if e["seq"] in (1, 2, 4)]  # 3 lost on the way
        else:
            out = [e for e in log if e["seq"] > since and e["seq"] != 5]  # 5 is gone for good (pruned)
        for e in out:
            ws.send(json.dumps(e))
        with contextlib.suppress(Exception):
            ws.recv(timeout=5)

    with _channel(handler, backoff_start=0.05) as (ch, got):
        assert _until(lambda: got[-1:] == [6] if got else False)
        assert asked[:3] == [0, 2, 4]  # asked again after 2 (3 missing), and after 4 (5 missing)
        assert got == [1, 2, 3, 4, 6]  # 5 never existed any more: accepted, no endless loop
        assert ch.gaps == 2


def test_lagging_close_resumes_at_once_and_pruned_replay_follows_on():
    """4008: reconnect at once with ?since=; 4410 events.pruned: follow on from the oldest kept seq."""
    asked: list[int] = []

    def handler(ws):
        since = int(parse_qs(urlsplit(ws.request.path).query)["since"][0])
        asked.append(since)
        if len(asked) == 1:
            for n in (1, 2):
                ws.send(json.dumps({"seq": n, "type": "ticket.issued", "payload": {}}))
            ws.close(4008, "events.lagging")
            return
        if len(asked) == 2:
            body = {"error": {"code": "events.pruned", "detail": {"oldest_seq": 10}}}
            ws.send(json.dumps(body))
            ws.close(4410)
            return
        ws.send(json.dumps({"seq": since + 1, "type": "ticket.issued", "payload": {}}))
        with contextlib.suppress(Exception):
            ws.recv(timeout=5)

    # A long back-off: a reconnect that waited for it would not come within the test's wait.
    with _channel(handler, backoff_start=30, backoff_max=30) as (ch, got):
        assert _until(lambda: got[-1:] == [11] if got else False)
        assert asked[:3] == [0, 2, 10]
        assert got == [1, 2, 11]
        assert (ch.lagged, ch.pruned, ch.gaps) == (1, 1, 0)
