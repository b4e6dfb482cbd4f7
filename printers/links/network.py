"""NetworkLink: a raw TCP printer port (9100), also what the virtual printer listens on."""

from __future__ import annotations

import contextlib
import logging
import socket

from printers.const import CONNECT_TIMEOUT_S, DEFAULT_NETWORK_PORT, SEND_TIMEOUT_S, STATUS_TIMEOUT_S
from printers.errors import PrinterOffline
from printers.links.base import PrinterLink

logger = logging.getLogger(__name__)


def parse_host_port(target: str) -> tuple[str, int]:
    """`host`, `host:port` or `[v6]:port` -> (host, port)."""
    target = target or "127.0.0.1"
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        return host, int(rest.lstrip(":") or DEFAULT_NETWORK_PORT)
    host, _, port = target.rpartition(":") if target.count(":") == 1 else (target, "", "")
    return host, int(port or DEFAULT_NETWORK_PORT)


class NetworkLink(PrinterLink):
    """A TCP connection to the printer's raw port; it answers status requests on the same socket."""

    kind = "network"
    readable = True

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_NETWORK_PORT,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        send_timeout: float = SEND_TIMEOUT_S,
        status_timeout: float = STATUS_TIMEOUT_S,
        label: str = "",
    ) -> None:
        super().__init__(label or f"network:{host}:{port}", status_timeout)
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self._sock: socket.socket | None = None

    def _open(self) -> None:
        self._sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        self._sock.settimeout(self.send_timeout)

    def _live(self) -> socket.socket:
        if self._sock is None:
            raise PrinterOffline(f"Printer {self.label} is not connected", message_zh="打印机未连接")
        return self._sock

    def _raw(self, data: bytes) -> None:
        self._live().sendall(data)

    def _read(self, size: int, timeout: float) -> bytes:
        sock = self._live()
        sock.settimeout(timeout)
        try:
            data = sock.recv(size)
        except TimeoutError:
            return b""
        finally:
            sock.settimeout(self.send_timeout)
        if not data:
            raise PrinterOffline("The printer closed the connection", message_zh="打印机断开了连接")
        return data

    def _close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        with contextlib.suppress(OSError):  # the printer may already have gone away
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
