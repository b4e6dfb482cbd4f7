"""A real TCP fault proxy for the station-to-city link: forward, refuse, reset, black-hole or slow it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import errno
import fcntl
import ipaddress
import logging
import socket
import struct
import termios
import threading
import time
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Literal

log = logging.getLogger(__name__)

Direction = Literal["up", "down", "both"]

LISTEN_HOST = "127.0.0.1"
CHUNK = 64 * 1024
# Chunks a direction may hold before the proxy stops reading from its sender (about 1 MiB): bounds the
# memory a black-holed or throttled link can take, and lets TCP backpressure reach the sender as it would.
QUEUE_CHUNKS = 16
LISTEN_BACKLOG = 512
CONNECT_TIMEOUT_S = 5.0
CONTROL_TIMEOUT_S = 5.0
JOIN_TIMEOUT_S = 5.0
# How long a cut waits for the last forwarded bytes to be acknowledged before the RST discards them.
FLUSH_TIMEOUT_S = 1.0
FLUSH_POLL_S = 0.002
REBIND_TIMEOUT_S = 2.0
# A throttled direction sends about this many pieces a second, so the rate is smooth at any size.
THROTTLE_PIECES_PER_S = 50
_LINGER_RST = struct.pack("ii", 1, 0)


@dataclasses.dataclass(frozen=True)
class _Mode:
    """One fault setting of the link; replaced as a whole, so readers never see half of a change."""

    name: Literal["pass", "refuse", "reset", "blackhole", "slow"] = "pass"
    after_bytes: int | None = None
    direction: Direction = "both"
    latency_s: float = 0.0
    bytes_per_s: int | None = None


@dataclasses.dataclass(frozen=True)
class ProxyStats:
    """A snapshot of the proxy's counters."""

    accepted: int = 0
    active: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    resets: int = 0


@dataclasses.dataclass
class _Budget:
    """Bytes a connection may still forward, in the given directions together, before it is reset."""

    remaining: int
    directions: frozenset[str]


def _unsent_bytes(sock: socket.socket) -> int:
    """Bytes in the socket's send queue not yet acknowledged by the peer (Linux SIOCOUTQ)."""
    raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    return struct.unpack("i", raw)[0]


def _close(sock: socket.socket | None, rst: bool) -> None:
    """Close a socket, with a TCP RST instead of a FIN when rst is true."""
    if sock is None or sock.fileno() < 0:
        return
    if rst:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    sock.close()


def _loopback_address(host: str, port: int) -> tuple[str, int]:
    """Resolve the upstream to a numeric loopback address; the proxy never leaves this machine."""
    infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)
    ip = infos[0][4][0]
    if not ipaddress.ip_address(ip).is_loopback:
        raise ValueError(
            f"upstream {host}:{port} is not a loopback address; the fault proxy is for tests only"
        )
    return ip, port


class _Connection:
    """One client connection and its upstream twin, forwarded by four tasks (read and send, each way)."""

    def __init__(self, proxy: FaultProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self.queues: dict[str, asyncio.Queue[tuple[float, bytes]]] = {
            "up": asyncio.Queue(QUEUE_CHUNKS),
            "down": asyncio.Queue(QUEUE_CHUNKS),
        }
        self.next_send = {"up": 0.0, "down": 0.0}
        self.eof_sent: set[str] = set()
        self.budget: _Budget | None = proxy._budget_for(proxy._mode)
        self.tasks: list[asyncio.Task[None]] = []
        self.done = asyncio.Event()
        self.rst = False
        self.fault = False

    def finish(self, rst: bool, fault: bool = False) -> None:
        """Ask the supervisor to end the connection; the first reason given wins."""
        if not self.done.is_set():
            self.rst, self.fault = rst, fault
            self.done.set()

    async def run(self) -> None:
        """Forward until finished, then stop every task before closing the sockets they use."""
        self.tasks.append(asyncio.create_task(self._read(self.client, "up")))
        self.tasks.append(asyncio.create_task(self._open_upstream()))
        try:
            await self.done.wait()
        finally:
            # A task must be finished before its socket closes: the loop's selector still watches the fd.
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            if self.fault:  # counted before the peers can see it
                self.proxy._count_reset()
            _close(self.client, self.rst)
            _close(self.upstream, self.rst)
            self.proxy._connection_closed(self)

    async def _open_upstream(self) -> None:
        """Connect upstream once the link carries traffic (a black-holed new connection waits)."""
        while self.proxy._mode.name == "blackhole":
            await self.proxy._changed(None)
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        self.upstream = sock
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await loop.sock_connect(sock, self.proxy.upstream)
        except (OSError, TimeoutError) as exc:
            # The city is down or refusing: the client sees its connection reset, the nearest we can do.
            log.debug("upstream %s unreachable: %r", self.proxy.upstream, exc)
            self.finish(rst=True)
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tasks.append(asyncio.create_task(self._send("up")))
        self.tasks.append(asyncio.create_task(self._read(sock, "down")))
        self.tasks.append(asyncio.create_task(self._send("down")))

    async def _read(self, sock: socket.socket, direction: str) -> None:
        """Read one side into the direction's queue; an empty chunk marks its end of stream."""
        loop = asyncio.get_running_loop()
        queue = self.queues[direction]
        while True:
            try:
                data = await loop.sock_recv(sock, CHUNK)
            except OSError as exc:
                log.debug("read %s failed: %r", direction, exc)
                # Pass a reset through to the other side, as the real link would.
                self.finish(rst=True)
                return
            await queue.put((time.monotonic(), data))
            if not data:
                return

    async def _send(self, direction: str) -> None:
        """Forward the direction's queue as the mode allows: held, delayed, throttled or cut."""
        loop = asyncio.get_running_loop()
        dst = self.upstream if direction == "up" else self.client
        assert dst is not None
        queue = self.queues[direction]
        while True:
            arrived, data = await queue.get()
            view = memoryview(data)
            while True:
                mode = self.proxy._mode
                wait = self._hold_s(mode, arrived, direction)
                if wait is None or wait > 0:
                    await self.proxy._changed(wait)
                    continue
                if not data:
                    self._forward_eof(dst, direction)
                    return
                size = len(view)
                if mode.name == "slow" and mode.bytes_per_s:
                    size = min(size, max(1, mode.bytes_per_s // THROTTLE_PIECES_PER_S))
                budget = self.budget if self.budget and direction in self.budget.directions else None
                if budget is not None:
                    size = min(size, budget.remaining)
                if size:
                    try:
                        await loop.sock_sendall(dst, view[:size])
                    except OSError as exc:
                        log.debug("send %s failed: %r", direction, exc)
                        self.finish(rst=True)
                        return
                    view = view[size:]
                    self.proxy._count_bytes(direction, size)
                    if mode.name == "slow" and mode.bytes_per_s:
                        start = max(self.next_send[direction], time.monotonic())
                        self.next_send[direction] = start + size / mode.bytes_per_s
                if budget is not None:
                    budget.remaining -= size
                    if budget.remaining <= 0:
                        await self._flush(dst)
                        self.finish(rst=True, fault=True)
                        return
                if not view:
                    break

    def _hold_s(self, mode: _Mode, arrived: float, direction: str) -> float | None:
        """Seconds to wait before forwarding more; None waits for the next mode change."""
        if mode.name in ("blackhole", "refuse"):
            return None
        if mode.name != "slow":
            return 0.0
        due = max(arrived + mode.latency_s, self.next_send[direction])
        return max(0.0, due - time.monotonic())

    def _forward_eof(self, dst: socket.socket, direction: str) -> None:
        """Pass a half-close on; the connection ends cleanly once both sides have closed."""
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        self.eof_sent.add(direction)
        if len(self.eof_sent) == 2:
            self.finish(rst=False)

    async def _flush(self, sock: socket.socket) -> None:
        """Wait (bounded) until the peer has the bytes already sent, so the RST cuts exactly there."""
        deadline = time.monotonic() + FLUSH_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if _unsent_bytes(sock) == 0:
                    return
            except OSError:
                return
            await asyncio.sleep(FLUSH_POLL_S)
        log.warning("peer did not take the last bytes within %.1f s; the cut discards them", FLUSH_TIMEOUT_S)


class FaultProxy:
    """A TCP proxy on 127.0.0.1 towards a loopback upstream whose link faults switch at any time.

    The proxy runs an asyncio loop in a daemon thread. Every mode method is thread-safe and returns once
    the mode is in force, for connections open now and for new ones:

    - pass_through() / restore(): forward normally (bytes a black hole held are delivered now).
    - refuse(): the listening socket closes, so connecting is refused; open connections are closed.
    - reset(after_bytes=None, direction): connections are reset (RST) at once, or each after forwarding
      after_bytes more bytes in the direction ("both": the two directions counted together). New
      connections in this mode get the same treatment.
    - blackhole(): connections are accepted and read from, nothing is forwarded either way, as if the
      packets were lost; what was read is held (up to about 1 MiB per direction, then TCP backpressure)
      and delivered if the link is restored while the connection lives, like TCP's retransmission.
    - slow(latency_s, bytes_per_s): each direction is delayed by latency_s (a request and its answer
      take at least 2 x latency_s longer) and throttled to bytes_per_s per connection.
    """

    def __init__(self, upstream: tuple[str, int], port: int = 0) -> None:
        self.upstream = _loopback_address(*upstream)
        self._port = port
        self._mode = _Mode()
        self._lock = threading.Lock()
        self._counts = {"accepted": 0, "bytes_up": 0, "bytes_down": 0, "resets": 0}
        self._conns: dict[_Connection, asyncio.Task[None]] = {}
        self._listener: socket.socket | None = None
        self._change = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle (test thread) --

    def start(self) -> FaultProxy:
        """Bind the listening port and start the proxy's thread; returns self."""
        if self._thread is not None:
            raise RuntimeError("the proxy is already started")
        self._listener = self._bind()
        self._port = self._listener.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name=f"netfault-{self._port}", daemon=True)
        self._thread.start()
        self._call(self._start_accepting())
        log.info("fault proxy on %s:%d -> %s:%d", LISTEN_HOST, self._port, *self.upstream)
        return self

    def close(self) -> None:
        """Close the listener and every connection, stop the loop and join the thread (bounded)."""
        if self._thread is None or self._loop is None:
            return
        try:
            if self._thread.is_alive():
                self._call(self._shutdown())
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(JOIN_TIMEOUT_S)
            alive = self._thread.is_alive()
            self._thread = None
        if alive:
            raise RuntimeError(f"fault proxy thread did not stop within {JOIN_TIMEOUT_S} s")

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def port(self) -> int:
        """The listening port (stable across refuse and restore)."""
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        """Where clients connect: (host, port)."""
        return LISTEN_HOST, self._port

    @property
    def url(self) -> str:
        """The proxy as an HTTP base URL, for a station's upstream setting."""
        return f"http://{LISTEN_HOST}:{self._port}"

    @property
    def stats(self) -> ProxyStats:
        """Counters: connections accepted and open, bytes forwarded each way, faults' resets."""
        with self._lock:
            return ProxyStats(active=len(self._conns), **self._counts)

    # -- modes (test thread) --

    def pass_through(self) -> None:
        """Forward normally."""
        self._set(_Mode())

    restore = pass_through

    def refuse(self) -> None:
        """Refuse new connections and close the open ones."""
        self._set(_Mode("refuse"))

    def reset(self, after_bytes: int | None = None, direction: Direction = "up") -> None:
        """Reset connections now, or after after_bytes more bytes forwarded in direction."""
        if direction not in ("up", "down", "both"):
            raise ValueError(f"direction must be up, down or both, not {direction!r}")
        if after_bytes is not None and after_bytes < 0:
            raise ValueError("after_bytes must not be negative")
        self._set(_Mode("reset", after_bytes=after_bytes, direction=direction))

    def blackhole(self) -> None:
        """Accept and read, but forward and answer nothing."""
        self._set(_Mode("blackhole"))

    def slow(self, latency_s: float = 0.0, bytes_per_s: int | None = None) -> None:
        """Delay each direction by latency_s and throttle it to bytes_per_s per connection."""
        if latency_s < 0 or (bytes_per_s is not None and bytes_per_s <= 0):
            raise ValueError("latency_s must be >= 0 and bytes_per_s > 0")
        self._set(_Mode("slow", latency_s=latency_s, bytes_per_s=bytes_per_s))

    def _set(self, mode: _Mode) -> None:
        self._call(self._apply(mode))

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine on the proxy's loop and wait for it, bounded."""
        if self._loop is None or self._thread is None:
            coro.close()
            raise RuntimeError("the proxy is not started")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("the proxy's controls are for other threads")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            future.result(CONTROL_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"fault proxy did not answer within {CONTROL_TIMEOUT_S} s") from None

    # -- the loop's side --

    def _run_loop(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            # Whatever is left (after a failed shutdown) is cancelled, so the loop closes clean.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()
            for sock in [self._listener, *(c for conn in self._conns for c in (conn.client, conn.upstream))]:
                _close(sock, rst=False)

    async def _start_accepting(self) -> None:
        # The event belongs to the loop that waits on it.
        self._change = asyncio.Event()
        assert self._listener is not None
        self._listen(self._listener)

    async def _shutdown(self) -> None:
        await self._close_listener()
        await self._end_connections(rst=False)

    async def _apply(self, mode: _Mode) -> None:
        """Put a mode in force, for the connections open now too."""
        self._mode = mode
        if mode.name == "refuse":
            await self._close_listener()
            await self._end_connections(rst=False)
        elif self._listener is None:
            self._listen(await self._rebind())
        if mode.name == "reset" and mode.after_bytes is None:
            await self._end_connections(rst=True, fault=True)
        for conn in self._conns:
            conn.budget = self._budget_for(mode)  # each connection counts its own bytes, from now
        # Wake every waiting sender to read the new mode.
        self._change.set()
        self._change = asyncio.Event()
        log.info("fault proxy %d: %s", self._port, mode)

    @staticmethod
    def _budget_for(mode: _Mode) -> _Budget | None:
        if mode.name != "reset" or mode.after_bytes is None:
            return None
        directions = frozenset(("up", "down")) if mode.direction == "both" else frozenset((mode.direction,))
        return _Budget(mode.after_bytes, directions)

    async def _changed(self, timeout_s: float | None) -> None:
        """Wait until the mode changes or timeout_s passes (None: no timeout)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._change.wait()

    def _listen(self, listener: socket.socket) -> None:
        """Start accepting on the listener, in a reader callback that never loses an accepted socket."""
        self._listener = listener
        asyncio.get_running_loop().add_reader(listener.fileno(), self._accept_ready)

    def _accept_ready(self) -> None:
        """Accept what is pending now (bounded per wake-up, so one flood cannot starve the forwarding)."""
        listener = self._listener
        if listener is None:
            return
        for _ in range(LISTEN_BACKLOG):
            try:
                client, _ = listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                # Out of descriptors or the like: pause accepting instead of spinning on a ready socket.
                log.warning("accept failed: %r", exc)
                loop = asyncio.get_running_loop()
                loop.remove_reader(listener.fileno())
                loop.call_later(0.05, self._resume_accepting, listener)
                return
            self._take(client)

    def _resume_accepting(self, listener: socket.socket) -> None:
        if self._listener is listener:
            asyncio.get_running_loop().add_reader(listener.fileno(), self._accept_ready)

    def _take(self, client: socket.socket) -> None:
        """Serve one accepted client as the mode says."""
        with self._lock:
            self._counts["accepted"] += 1
        try:
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:  # the client gave up between connecting and our accept
            log.debug("accepted client unusable: %r", exc)
            client.close()
            return
        if self._mode.name == "reset" and self._mode.after_bytes is None:
            self._count_reset()
            _close(client, rst=True)
            return
        conn = _Connection(self, client)
        with self._lock:
            self._conns[conn] = asyncio.create_task(conn.run())

    async def _end_connections(self, rst: bool, fault: bool = False) -> None:
        """End every open connection and wait until their sockets are closed."""
        tasks = list(self._conns.values())
        for conn in list(self._conns):
            conn.finish(rst=rst, fault=fault)
        if tasks:
            await asyncio.wait(tasks, timeout=CONTROL_TIMEOUT_S / 2)

    def _connection_closed(self, conn: _Connection) -> None:
        with self._lock:
            self._conns.pop(conn, None)

    def _count_reset(self) -> None:
        with self._lock:
            self._counts["resets"] += 1

    def _count_bytes(self, direction: str, n: int) -> None:
        with self._lock:
            self._counts[f"bytes_{direction}"] += n

    async def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            asyncio.get_running_loop().remove_reader(listener.fileno())
            listener.close()

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            # The port must be taken again after refuse(), while old connections linger in TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((LISTEN_HOST, self._port))
            sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    async def _rebind(self) -> socket.socket:
        """Bind the same port again; retried briefly, as another socket may hold it for a moment."""
        deadline = time.monotonic() + REBIND_TIMEOUT_S
        while True:
            try:
                return self._bind()
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(0.05)
