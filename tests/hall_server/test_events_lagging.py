"""A real server process: a subscriber that stops reading is closed 4008 events.lagging, then replays."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.sync.client import ClientConnection, connect
from websockets.uri import parse_uri

from hall_server.const import REPLAY_CONCURRENCY_MAX, WS_CLOSE_LAGGING, WS_LAGGING_REASON
from tests.fixtures.postgres import sqlite_url
from tests.fixtures.server import HOST, SMALL_SEED, HallServer, fetch_events

HALL = "t-hall"
SERVICES = ("T-001", "T-002", "T-003")
# The smallest per-subscriber queue the setting allows, so a stalled reader lags at once.
QUEUE_MAX = 10
# A bound on the test, not an expectation: with the small segments below a stalled reader lags
# after about 100 tickets (its kernel and transport buffers hold a few hundred events).
MAX_TICKETS = 3000
BATCH = 50
# Segment size the stalled client announces. The server's kernel sizes its send buffer from the
# segment size (about 2 x 10 segments): with loopback's 64 KB segments that is over a megabyte,
# growing to tcp_wmem's 4 MB, which is why a reader with only a small SO_RCVBUF needed 15,000
# tickets (and on PostgreSQL's slower issuing never filled its queue within the test's bound).
SMALL_MSS = 536


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite (a file) and PostgreSQL (a fresh database)."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return request.getfixturevalue("pg_url")


@pytest.fixture
def server(db_url: str, hall_server_proc: Any, tmp_path: Path) -> HallServer:
    """One hall-server process whose event subscribers may fall QUEUE_MAX events behind."""
    return hall_server_proc(
        db_url, tmp_path / "data", seed_file=SMALL_SEED, env={"HALL_WS_QUEUE_MAX": str(QUEUE_MAX)}
    )


def _issue(server: HallServer, token: str, count: int) -> None:
    """Issue count tickets from a few kiosks at once."""
    session = server.session(token)

    def one(i: int) -> None:
        r = session.post(
            f"{server.api}/halls/{HALL}/tickets",
            json={"service_code": SERVICES[i % 3], "channel": "kiosk"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
            timeout=60,
        )
        assert r.status_code == 201, r.text

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(count)))


def _issue_until_lagging(server: HallServer, token: str) -> None:
    """Issue tickets until the server reports a subscriber dropped for lagging."""
    issued = 0
    while "lags behind" not in server.log_tail(20000):
        assert issued < MAX_TICKETS, "no subscriber was dropped for lagging"
        _issue(server, token, BATCH)
        issued += BATCH


def _small_socket(server: HallServer) -> socket.socket:
    """A connection with tiny buffers on both ends (loopback buffers hold megabytes otherwise)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, SMALL_MSS)
    sock.connect((HOST, server.port))
    return sock


class StalledReader:
    """A subscriber on a raw socket with a tiny receive buffer that reads nothing until drain()."""

    def __init__(self, server: HallServer, token: str, since: int) -> None:
        self.sock = _small_socket(server)
        self.proto = ClientProtocol(
            parse_uri(f"{server.ws_api}/halls/{HALL}/events/ws?since={since}"), max_size=None
        )
        request = self.proto.connect()
        request.headers["Authorization"] = f"Bearer {token}"
        self.proto.send_request(request)
        self.sock.sendall(b"".join(self.proto.data_to_send()))
        self.frames: list[Any] = []
        while self.proto.handshake_exc is None and self.proto.state is State.CONNECTING:
            self._receive()
        assert self.proto.state is State.OPEN, self.proto.handshake_exc

    def _receive(self) -> bool:
        data = self.sock.recv(65536)
        if data:
            self.proto.receive_data(data)
        else:
            self.proto.receive_eof()
        self.frames.extend(f for f in self.proto.events_received() if not isinstance(f, Response))
        return bool(data)

    def drain(self) -> tuple[list[int], Close | None]:
        """Read to the end: the seqs received in order and the close frame, if one came."""
        self.sock.settimeout(60)
        while self._receive() and not any(f.opcode is Opcode.CLOSE for f in self.frames):
            pass
        self.sock.close()
        seqs = [int(json.loads(f.data)["seq"]) for f in self.frames if f.opcode is Opcode.TEXT]
        return seqs, self.proto.close_rcvd


def _read_all(
    ws: ClientConnection, until_seq: int | None = None
) -> tuple[list[int], ConnectionClosed | None]:
    """The seqs received until the socket closes (or until_seq arrives) and how it closed."""
    seqs: list[int] = []
    try:
        while until_seq is None or not seqs or seqs[-1] < until_seq:
            seqs.append(int(json.loads(ws.recv(timeout=60))["seq"]))
    except ConnectionClosed as closed:
        return seqs, closed
    return seqs, None


def test_stalled_subscriber_is_closed_lagging_and_replays_without_gap(server: HallServer) -> None:
    """It gets what was sent, a 4008 events.lagging close (not a reset), and with since= the rest."""
    kiosk = server.create_token("kiosk", HALL)
    display = server.create_token("display", HALL)
    reader = StalledReader(server, display, 0)
    _issue_until_lagging(server, kiosk)
    first, close = reader.drain()
    assert close is not None, "no close frame (a reset)"
    assert (close.code, close.reason) == (WS_CLOSE_LAGGING, WS_LAGGING_REASON)
    assert first == list(range(1, len(first) + 1)), "events before the close have a gap or repeat"
    last = int(fetch_events(server, HALL, display)[-1]["seq"])
    assert len(first) < last, "the subscriber was not behind"
    with connect(
        f"{server.ws_api}/halls/{HALL}/events/ws?since={first[-1] if first else 0}",
        additional_headers={"Authorization": f"Bearer {display}"},
        max_size=None,
        open_timeout=30,
    ) as again:
        rest, closed = _read_all(again, until_seq=last)
    assert closed is None, closed
    assert first + rest == list(range(1, last + 1))


def test_replays_beyond_the_cap_all_complete(server: HallServer) -> None:
    """More subscribers replaying at once than REPLAY_CONCURRENCY_MAX: each gets every event, in order."""
    kiosk = server.create_token("kiosk", HALL)
    display = server.create_token("display", HALL)
    _issue(server, kiosk, 60)
    last = int(fetch_events(server, HALL, display)[-1]["seq"])
    results: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(REPLAY_CONCURRENCY_MAX * 3)

    def replay() -> None:
        try:
            start.wait(60)
            with connect(
                f"{server.ws_api}/halls/{HALL}/events/ws?since=0",
                additional_headers={"Authorization": f"Bearer {display}"},
                max_size=None,
                open_timeout=60,
            ) as ws:
                seqs, closed = _read_all(ws, until_seq=last)
                assert closed is None, closed
                results.append(seqs)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=replay) for _ in range(REPLAY_CONCURRENCY_MAX * 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert results == [list(range(1, last + 1))] * len(threads)
