"""A TCP relay between a hall server and PostgreSQL that reads the client's protocol messages.

Counts, per connection, what a request costs on the wire: statements (Execute or simple Query
messages, by their SQL text), transaction control among them (BEGIN, COMMIT, ROLLBACK), pings
(the empty query ';' a pool sends) and round trips (Sync and Query messages: each is a point
where the client stops and waits for the server's answer, pipelining aside). A Sync that ends
only a named Parse is psycopg preparing a statement (once per connection and statement, at its
PG_PREPARE_THRESHOLD-th run): counted apart, as `prepares`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "START")


@dataclass
class WireCount:
    """What one connection sent while counting was on."""

    statements: list[str] = field(default_factory=list)
    control: int = 0
    pings: int = 0
    round_trips: int = 0
    prepares: int = 0


class _Reader:
    """Splits the client's byte stream into protocol messages and counts them."""

    def __init__(self, relay: PgRelay, conn_id: int) -> None:
        self.relay = relay
        self.conn_id = conn_id
        self.buf = b""
        self.started = False  # the startup message has no type byte
        self.prepared: dict[bytes, str] = {}  # statement name -> SQL (Parse)
        self.portal_sql = ""  # SQL of the statement the last Bind bound
        self.executed = False  # an Execute since the last Sync
        self.named_parse = False  # a Parse of a named statement since the last Sync

    def feed(self, data: bytes) -> None:
        self.buf += data
        while True:
            if not self.started:
                if len(self.buf) < 4:
                    return
                (n,) = struct.unpack("!I", self.buf[:4])
                if len(self.buf) < n:
                    return
                self.buf = self.buf[n:]
                self.started = True
                continue
            if len(self.buf) < 5:
                return
            kind = self.buf[:1]
            (n,) = struct.unpack("!I", self.buf[1:5])
            if len(self.buf) < 1 + n:
                return
            body, self.buf = self.buf[5 : 1 + n], self.buf[1 + n :]
            self._message(kind, body)

    def _message(self, kind: bytes, body: bytes) -> None:
        if kind == b"P":
            name, rest = body.split(b"\0", 1)
            self.prepared[name] = rest.split(b"\0", 1)[0].decode()
            self.named_parse = self.named_parse or bool(name)
        elif kind == b"B":
            _portal, rest = body.split(b"\0", 1)
            self.portal_sql = self.prepared.get(rest.split(b"\0", 1)[0], "")
        elif kind == b"E":
            self.executed = True
            self.relay.record(self.conn_id, self.portal_sql)
        elif kind == b"Q":
            self.relay.record(self.conn_id, body.rstrip(b"\0").decode())
            self.relay.record_wait(self.conn_id)
        elif kind == b"S":
            self.relay.record_wait(self.conn_id, prepare=self.named_parse and not self.executed)
            self.executed = self.named_parse = False


class PgRelay:
    """Listens on loopback and relays every connection to PostgreSQL at (host, port)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._counting = False
        self._counts: dict[int, WireCount] = {}
        self._next_id = 0
        self._socks: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, name="pg-relay", daemon=True).start()

    def url(self, db_url: str) -> str:
        """db_url with this relay as host and port (no TLS or GSS negotiation to parse)."""
        head, _, rest = db_url.partition("@")
        _hostport, _, path = rest.partition("/")
        return f"{head}@127.0.0.1:{self.port}/{path}?sslmode=disable&gssencmode=disable"

    def start_counting(self) -> None:
        with self._lock:
            self._counts = {}
            self._counting = True

    def stop_counting(self) -> dict[int, WireCount]:
        """What each connection sent since start_counting()."""
        with self._lock:
            self._counting = False
            return dict(self._counts)

    def record(self, conn_id: int, sql: str) -> None:
        with self._lock:
            if not self._counting:
                return
            c = self._counts.setdefault(conn_id, WireCount())
            text = sql.strip()
            if text in ("", ";"):
                c.pings += 1
            elif text.split(None, 1)[0].upper() in CONTROL:
                c.control += 1
            else:
                c.statements.append(" ".join(text.split()))

    def record_wait(self, conn_id: int, *, prepare: bool = False) -> None:
        with self._lock:
            if self._counting:
                c = self._counts.setdefault(conn_id, WireCount())
                if prepare:
                    c.prepares += 1
                else:
                    c.round_trips += 1

    def drop_connections(self) -> None:
        """Cut every relayed connection, as a database restart or a network failure would."""
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.drop_connections()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                conn_id = self._next_id
                self._next_id += 1
                self._socks += [client, upstream]
            reader = _Reader(self, conn_id)
            threading.Thread(target=self._pump, args=(client, upstream, reader), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, None), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, reader: Any) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if reader is not None:
                    reader.feed(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
