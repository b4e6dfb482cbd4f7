"""The fault proxy on real loopback sockets, against a threaded echo server, a byte sink and an HTTP server."""

from __future__ import annotations

import contextlib
import http.server
import os
import queue
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.support import FaultProxy, wait_until

TIMEOUT_S = 5.0


class _Server(socketserver.ThreadingTCPServer):
    """A threaded TCP server with room for 200 connections arriving at once."""

    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 256


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(TIMEOUT_S)
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except OSError:
            pass


class _SinkHandler(socketserver.BaseRequestHandler):
    """Counts what one connection sends until it ends, then reports (bytes, error or None)."""

    def handle(self) -> None:
        self.request.settimeout(TIMEOUT_S)
        received, error = 0, None
        try:
            while data := self.request.recv(65536):
                received += len(data)
        except OSError as exc:
            error = exc
        self.server.results.put((received, error))  # type: ignore[attr-defined]


class _HttpHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/hello":
            body = b"hello"
        elif url.path == "/big":
            body = b"b" * int(parse_qs(url.query)["n"][0])
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        left, received = int(self.headers["Content-Length"]), 0
        try:
            while left > 0 and (data := self.rfile.read1(min(left, 65536))):
                received += len(data)
                left -= len(data)
        finally:
            self.server.uploads.put(received)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read what matters themselves."""


def _serve(server: socketserver.BaseServer) -> Iterator[tuple[str, int]]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address  # type: ignore[misc]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT_S)


@pytest.fixture(scope="module")
def echo() -> Iterator[tuple[str, int]]:
    yield from _serve(_Server(("127.0.0.1", 0), _EchoHandler))


@pytest.fixture(scope="module")
def sink_server() -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), _SinkHandler)
    server.results = queue.Queue()  # type: ignore[attr-defined]
    for _ in _serve(server):
        yield server


@pytest.fixture(scope="module")
def http_server() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HttpHandler)
    server.daemon_threads = True
    server.uploads = queue.Queue()  # type: ignore[attr-defined]
    for _ in _serve(server):
        yield server


@pytest.fixture
def echo_proxy(echo: tuple[str, int]) -> Iterator[FaultProxy]:
    with FaultProxy(echo) as proxy:
        yield proxy


@pytest.fixture
def http_proxy(http_server: http.server.ThreadingHTTPServer) -> Iterator[FaultProxy]:
    with FaultProxy(http_server.server_address) as proxy:  # type: ignore[arg-type]
        yield proxy


@pytest.fixture
def sink_proxy(sink_server: _Server) -> Iterator[FaultProxy]:
    with FaultProxy(sink_server.server_address) as proxy:  # type: ignore[arg-type]
        yield proxy


def _connect(proxy: FaultProxy) -> socket.socket:
    return socket.create_connection(proxy.address, timeout=TIMEOUT_S)


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _echo_roundtrip(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    return _recv_exactly(sock, len(payload))


def _upload_until_error(sock: socket.socket, limit: int = 64 * 1024 * 1024) -> OSError | None:
    """Send until the connection fails (or limit bytes went out), then read; returns the first error."""
    chunk = b"u" * 65536
    try:
        for _ in range(limit // len(chunk)):
            sock.sendall(chunk)
        sock.recv(1)
    except OSError as exc:
        return exc
    return None


# -- pass-through --


def test_pass_through_echoes_bytes(echo_proxy: FaultProxy) -> None:
    with _connect(echo_proxy) as sock:
        payload = os.urandom(300_000)
        assert _echo_roundtrip(sock, payload) == payload
    stats = wait_until(lambda: (s := echo_proxy.stats).active == 0 and s, TIMEOUT_S)
    assert (stats.accepted, stats.bytes_up, stats.bytes_down, stats.resets) == (1, 300_000, 300_000, 0)


def test_http_get_passes_through(http_proxy: FaultProxy) -> None:
    answer = requests.get(f"{http_proxy.url}/hello", timeout=TIMEOUT_S)
    assert (answer.status_code, answer.content) == (200, b"hello")


def test_two_hundred_concurrent_connections(echo_proxy: FaultProxy) -> None:
    socks = [_connect(echo_proxy) for _ in range(200)]
    try:
        wait_until(lambda: echo_proxy.stats.active == 200, TIMEOUT_S, message="200 connections open at once")
        for i, sock in enumerate(socks):
            sock.sendall(f"station-{i:03d};".encode())
        for i, sock in enumerate(socks):
            assert _recv_exactly(sock, 12) == f"station-{i:03d};".encode()
    finally:
        for sock in socks:
            sock.close()
    wait_until(lambda: echo_proxy.stats.active == 0, TIMEOUT_S)
    assert echo_proxy.stats.accepted == 200


# -- refuse --


def test_refuse_then_restore_on_the_same_port(http_proxy: FaultProxy) -> None:
    port = http_proxy.port
    existing = _connect(http_proxy)
    wait_until(lambda: http_proxy.stats.active == 1, TIMEOUT_S)

    http_proxy.refuse()

    assert existing.recv(1) == b"", "an open connection is closed (FIN) when the link refuses"
    existing.close()
    with pytest.raises(ConnectionRefusedError):
        _connect(http_proxy).close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{http_proxy.url}/hello", timeout=TIMEOUT_S)

    http_proxy.restore()

    assert http_proxy.port == port
    assert requests.get(f"http://127.0.0.1:{port}/hello", timeout=TIMEOUT_S).content == b"hello"


# -- reset --


def test_reset_after_bytes_cuts_an_upload_exactly_there(sink_proxy: FaultProxy, sink_server: _Server) -> None:
    sink_proxy.reset(after_bytes=12_345, direction="up")
    with _connect(sink_proxy) as sock:
        error = _upload_until_error(sock)
    assert isinstance(error, ConnectionResetError)
    received, upstream_error = sink_server.results.get(timeout=TIMEOUT_S)  # type: ignore[attr-defined]
    assert received == 12_345
    assert isinstance(upstream_error, ConnectionResetError), "the city sees the reset too"
    assert sink_proxy.stats.resets == 1
    assert sink_proxy.stats.bytes_up == 12_345


def test_reset_after_bytes_counts_from_now_on_an_open_connection(
    sink_proxy: FaultProxy, sink_server: _Server
) -> None:
    with _connect(sink_proxy) as sock:
        sock.sendall(b"a" * 1000)
        wait_until(lambda: sink_proxy.stats.bytes_up == 1000, TIMEOUT_S)
        sink_proxy.reset(after_bytes=7, direction="up")
        assert isinstance(_upload_until_error(sock), ConnectionResetError)
    received, _ = sink_server.results.get(timeout=TIMEOUT_S)  # type: ignore[attr-defined]
    assert received == 1007


def test_reset_down_gives_the_client_exactly_n_bytes(echo_proxy: FaultProxy) -> None:
    echo_proxy.reset(after_bytes=300, direction="down")
    with _connect(echo_proxy) as sock:
        sock.sendall(b"d" * 1000)
        data = b""
        with pytest.raises(ConnectionResetError):
            while chunk := sock.recv(65536):
                data += chunk
    assert data == b"d" * 300


def test_reset_both_counts_the_two_directions_together(echo_proxy: FaultProxy) -> None:
    echo_proxy.reset(after_bytes=1500, direction="both")
    with _connect(echo_proxy) as sock:
        sock.sendall(b"e" * 1000)
        received = b""
        with pytest.raises(ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
    stats = echo_proxy.stats
    assert stats.bytes_up + stats.bytes_down == 1500
    assert len(received) == stats.bytes_down


def test_invalid_reset_direction_is_refused(echo_proxy: FaultProxy) -> None:
    with pytest.raises(ValueError, match="direction"):
        echo_proxy.reset(after_bytes=1, direction="sideways")  # type: ignore[arg-type]


def test_reset_cuts_a_requests_upload(
    http_proxy: FaultProxy, http_server: http.server.ThreadingHTTPServer
) -> None:
    http_proxy.reset(after_bytes=50_000, direction="up")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{http_proxy.url}/upload", data=b"p" * 1_000_000, timeout=TIMEOUT_S)
    body_received = http_server.uploads.get(timeout=TIMEOUT_S)  # type: ignore[attr-defined]
    assert 0 < body_received < 50_000, "the request line and headers took the rest of the 50 000 bytes"
    assert http_proxy.stats.bytes_up == 50_000


def test_reset_now_resets_open_and_new_connections(echo_proxy: FaultProxy) -> None:
    existing = _connect(echo_proxy)
    assert _echo_roundtrip(existing, b"hi") == b"hi"

    echo_proxy.reset()

    with pytest.raises(ConnectionResetError):
        existing.recv(1)
    existing.close()
    with pytest.raises(ConnectionResetError), _connect(echo_proxy) as fresh:  # at connect() or recv()
        fresh.recv(1)
    assert echo_proxy.stats.resets == 2

    echo_proxy.restore()
    with _connect(echo_proxy) as sock:
        assert _echo_roundtrip(sock, b"again") == b"again"


def test_reset_now_makes_requests_fail(http_proxy: FaultProxy) -> None:
    http_proxy.reset()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{http_proxy.url}/hello", timeout=TIMEOUT_S)


# -- blackhole --


def test_blackhole_times_out_a_request_on_an_accepted_connection(http_proxy: FaultProxy) -> None:
    http_proxy.blackhole()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{http_proxy.url}/hello", timeout=0.5)
    stats = http_proxy.stats
    assert stats.accepted == 1
    assert (stats.bytes_up, stats.bytes_down) == (0, 0)


def test_blackhole_holds_open_and_new_connections_until_restored(echo_proxy: FaultProxy) -> None:
    existing = _connect(echo_proxy)
    assert _echo_roundtrip(existing, b"before") == b"before"

    echo_proxy.blackhole()

    fresh = _connect(echo_proxy)
    existing.sendall(b"held")
    fresh.sendall(b"late")
    for sock in (existing, fresh):
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(1)
        sock.settimeout(TIMEOUT_S)

    echo_proxy.restore()

    # Like TCP after a partition heals: what was sent arrives, nothing is lost or reordered.
    assert _recv_exactly(existing, 4) == b"held"
    assert _recv_exactly(fresh, 4) == b"late"
    existing.close()
    fresh.close()


# -- slow --


def test_slow_adds_the_latency_each_way(echo_proxy: FaultProxy, http_proxy: FaultProxy) -> None:
    echo_proxy.slow(latency_s=0.15)
    with _connect(echo_proxy) as sock:
        started = time.monotonic()
        assert _echo_roundtrip(sock, b"ping") == b"ping"
        assert time.monotonic() - started >= 0.3

    http_proxy.slow(latency_s=0.1)
    started = time.monotonic()
    assert requests.get(f"{http_proxy.url}/hello", timeout=TIMEOUT_S).content == b"hello"
    assert time.monotonic() - started >= 0.2


def test_slow_throttles_a_transfer_to_the_rate(http_proxy: FaultProxy) -> None:
    rate = 400_000
    http_proxy.slow(bytes_per_s=rate)
    started = time.monotonic()
    answer = requests.get(f"{http_proxy.url}/big", params={"n": 200_000}, timeout=TIMEOUT_S)
    elapsed = time.monotonic() - started
    assert len(answer.content) == 200_000
    # The pacing never runs ahead of the rate (the first 1/50 s piece goes at once); the slack above is
    # for a busy machine.
    assert 200_000 / rate * 0.9 <= elapsed < 200_000 / rate * 4


def test_slow_applies_to_an_open_connection(echo_proxy: FaultProxy) -> None:
    with _connect(echo_proxy) as sock:
        assert _echo_roundtrip(sock, b"fast") == b"fast"
        echo_proxy.slow(bytes_per_s=100_000)
        started = time.monotonic()
        assert _echo_roundtrip(sock, b"s" * 30_000) == b"s" * 30_000
        assert time.monotonic() - started >= 0.25


# -- life cycle --


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_close_leaves_no_thread_or_socket(echo: tuple[str, int]) -> None:
    fds_before = _open_fds()
    proxy = FaultProxy(echo).start()
    thread_name = f"netfault-{proxy.port}"
    socks = [_connect(proxy) for _ in range(5)]
    for sock in socks:
        assert _echo_roundtrip(sock, b"x") == b"x"
    proxy.blackhole()
    held = _connect(proxy)
    held.sendall(b"never")

    started = time.monotonic()
    proxy.close()
    assert time.monotonic() - started < 2.0

    assert not [t for t in threading.enumerate() if t.name == thread_name]
    for sock in socks:
        assert sock.recv(1) == b""
        sock.close()
    # Closing a socket with unread bytes sends an RST, so the held connection ends with FIN or RST
    # depending on whether the proxy had read "never" yet.
    with contextlib.suppress(ConnectionResetError):
        assert held.recv(1) == b""
    held.close()
    with pytest.raises(ConnectionRefusedError):
        _connect(proxy).close()
    # The echo server's handler threads close their ends as they notice, so wait for them.
    wait_until(lambda: _open_fds() <= fds_before, TIMEOUT_S, message="descriptors back to where they were")
    proxy.close()  # a second close does nothing


def test_an_upstream_that_is_down_resets_the_client() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()  # bound, never listening: connecting is refused
        # The reset can come so soon that connect() already reports it.
        with FaultProxy(dead) as proxy, pytest.raises(ConnectionResetError), _connect(proxy) as sock:
            sock.recv(1)


def test_only_loopback_upstreams() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy(("192.0.2.1", 80))
