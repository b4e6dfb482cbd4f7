"""SerialLink: an RS-232 (or USB-serial) printer through pyserial, imported only when used."""

from __future__ import annotations

import logging
from typing import Any

from devices.errors import DependencyMissing
from printers.const import SEND_TIMEOUT_S, STATUS_TIMEOUT_S
from printers.errors import PrinterOffline
from printers.links.base import PrinterLink

logger = logging.getLogger(__name__)

DEFAULT_BAUD = 9600


def parse_serial_target(target: str) -> tuple[str, int]:
    """`/dev/ttyS0` or `/dev/ttyS0?baud=115200` -> (path, baud rate)."""
    path, _, query = target.partition("?")
    baud = int(query.split("baud=")[-1]) if "baud=" in query else DEFAULT_BAUD
    return path, baud


def _pyserial() -> Any:
    try:
        import serial
    except ImportError as exc:
        raise DependencyMissing("pyserial", "devices") from exc
    return serial


class SerialLink(PrinterLink):
    """A serial port at 8N1 with DSR/DTR flow control; the printer answers status on the same line."""

    kind = "serial"
    readable = True

    def __init__(
        self,
        path: str,
        baudrate: int = DEFAULT_BAUD,
        *,
        send_timeout: float = SEND_TIMEOUT_S,
        status_timeout: float = STATUS_TIMEOUT_S,
        label: str = "",
    ) -> None:
        super().__init__(label or f"serial:{path}", status_timeout)
        self.path = path
        self.baudrate = baudrate
        self.send_timeout = send_timeout
        self._port: Any = None

    def _open(self) -> None:
        serial = _pyserial()
        self._port = serial.Serial(
            port=self.path,
            baudrate=self.baudrate,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            timeout=self.status_timeout,
            write_timeout=self.send_timeout,
            dsrdtr=True,
        )

    def _live(self) -> Any:
        if self._port is None:
            raise PrinterOffline(f"Printer {self.label} is not connected", message_zh="打印机未连接")
        return self._port

    def _raw(self, data: bytes) -> None:
        self._live().write(data)

    def _read(self, size: int, timeout: float) -> bytes:
        port = self._live()
        port.timeout = timeout
        return bytes(port.read(size))

    def _end_job(self) -> None:
        self._live().flush()  # wait until the job left the UART

    def _close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.close()
