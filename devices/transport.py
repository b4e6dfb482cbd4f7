"""The one byte seam under the serial drivers: a Transport writes bytes and reads them with a timeout."""

from __future__ import annotations

import logging
import termios
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any

from devices.const import DEFAULT_BAUD, WRITE_TIMEOUT
from devices.errors import DependencyMissing, ReaderDisconnected, ReaderNotFound, ReaderTimeout

logger = logging.getLogger(__name__)


class Transport(ABC):
    """A byte pipe to a device. Every fault comes out as a devices.errors type."""

    @abstractmethod
    def open(self) -> None:
        """Open the link."""

    @abstractmethod
    def close(self) -> None:
        """Close the link (safe to call twice)."""

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Send all bytes."""

    @abstractmethod
    def read(self, n: int, timeout: float) -> bytes:
        """Return 1..n bytes as soon as any arrive, or b"" once `timeout` seconds pass."""

    @abstractmethod
    def reset_input(self) -> None:
        """Discard bytes received but not read yet."""

    @abstractmethod
    def set_baudrate(self, baud: int) -> None:
        """Change the line speed."""

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _pyserial() -> Any:
    try:
        import serial
    except ImportError as exc:  # pragma: no cover - pyserial is in the devices extra
        raise DependencyMissing("pyserial", "devices") from exc
    return serial


class SerialTransport(Transport):
    """pyserial at 8N1; `port` is a device path (/dev/ttyUSB0, a pty path) or a pyserial URL."""

    def __init__(self, port: str, baudrate: int = DEFAULT_BAUD) -> None:
        self.port = port
        self.baudrate = baudrate
        self._ser: Any = None
        self._timeout: float | None = None

    @property
    def is_open(self) -> bool:
        """True while the port is open."""
        return self._ser is not None

    def open(self) -> None:
        """Open the port at 8N1; a missing port is ReaderNotFound."""
        if self._ser is not None:
            return
        serial = _pyserial()
        try:
            self._ser = serial.serial_for_url(
                self.port,
                baudrate=self.baudrate,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE,
                timeout=0,
                # A wedged line must not block a write for ever.
                write_timeout=WRITE_TIMEOUT,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ReaderNotFound(
                f"cannot open {self.port}: {exc}", message_zh=f"无法打开读卡器端口 {self.port}"
            ) from exc
        self._timeout = 0
        logger.info("opened %s at %d 8N1", self.port, self.baudrate)

    def close(self) -> None:
        """Close the port; errors on a dead port are ignored."""
        ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.close()
            except Exception:  # closing a vanished device may fail any way it likes
                logger.debug("error closing %s", self.port, exc_info=True)

    def _port(self) -> Any:
        if self._ser is None:
            raise ReaderDisconnected(f"{self.port} is not open", message_zh="读卡器端口未打开")
        return self._ser

    def _gone(self, exc: BaseException) -> ReaderDisconnected:
        self.close()
        return ReaderDisconnected(f"reader at {self.port} went away: {exc}", message_zh="读卡器已断开连接")

    def write(self, data: bytes) -> None:
        """Send all bytes or raise ReaderDisconnected."""
        ser = self._port()
        serial = _pyserial()
        try:
            ser.write(data)
            ser.flush()
        except serial.SerialTimeoutException as exc:
            raise ReaderTimeout(f"write to {self.port} timed out", message_zh="向读卡器发送数据超时") from exc
        except (serial.SerialException, OSError, termios.error) as exc:
            raise self._gone(exc) from exc

    def read(self, n: int, timeout: float) -> bytes:
        """Wait up to `timeout` for the first byte, then take whatever else is already there (max n)."""
        ser = self._port()
        try:
            if self._timeout != timeout:
                ser.timeout = timeout
                self._timeout = timeout
            first = ser.read(1)
            if not first:
                return b""
            waiting = ser.in_waiting
            return first + (ser.read(min(n - 1, waiting)) if waiting and n > 1 else b"")
        except (_pyserial().SerialException, OSError, termios.error) as exc:
            raise self._gone(exc) from exc

    def reset_input(self) -> None:
        """Drop stale input."""
        ser = self._port()
        try:
            ser.reset_input_buffer()
        except (_pyserial().SerialException, OSError, termios.error) as exc:
            raise self._gone(exc) from exc

    def set_baudrate(self, baud: int) -> None:
        """Change the line speed of the open port."""
        ser = self._port()
        try:
            ser.baudrate = baud
        except (_pyserial().SerialException, OSError, termios.error, ValueError) as exc:
            raise self._gone(exc) from exc
        self.baudrate = baud
