"""PrinterLink: the byte seam every printer connection implements, and the error translation around it."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from types import TracebackType
from typing import ClassVar

from devices.errors import DependencyMissing
from printers.const import STATUS_TIMEOUT_S
from printers.errors import PrinterError, PrinterOffline

logger = logging.getLogger(__name__)


class PrinterLink(ABC):
    """One printer connection: subclasses implement the seam, callers use open/send/query/close.

    The seam, in the manner of python-escpos's printer backends: `_open()` connects, `_raw(data)`
    writes bytes, `_read(size, timeout)` returns what the printer answered (b"" when it stayed
    silent), `_end_job()` hands a finished job over (flush, submit), `_close()` disconnects.
    Raw socket, serial, USB and OS errors from the seam become PrinterOffline (zh and en) here,
    once; DependencyMissing and PrinterError pass through unchanged.
    """

    kind: ClassVar[str] = ""
    # Whether the printer can answer on this link; write-only links never get status requests.
    readable: ClassVar[bool] = False

    def __init__(self, label: str, status_timeout: float = STATUS_TIMEOUT_S) -> None:
        self.label = label  # "kind:target", as the kiosk shows it in its messages
        self.status_timeout = status_timeout

    # ---- the seam ------------------------------------------------------------------------
    @abstractmethod
    def _open(self) -> None:
        """Connect to the printer (raise anything: open() translates it)."""

    @abstractmethod
    def _raw(self, data: bytes) -> None:
        """Write bytes to the printer."""

    def _read(self, size: int, timeout: float) -> bytes:
        """Up to `size` answered bytes within `timeout` seconds; b"" when the printer said nothing."""
        return b""

    def _end_job(self) -> None:  # noqa: B027 - an optional hook, not part of the required seam
        """Hand a whole job over (flush a file, submit a queued job); nothing by default."""

    def _close(self) -> None:  # noqa: B027 - an optional hook, not part of the required seam
        """Disconnect; nothing by default."""

    # ---- what callers use ----------------------------------------------------------------
    def open(self) -> PrinterLink:
        """Connect, raising PrinterOffline (zh and en) when the printer cannot be reached."""
        try:
            self._open()
        except (DependencyMissing, PrinterError):
            raise
        except Exception as exc:  # socket, serial, USB and OS errors alike
            raise PrinterOffline(
                f"Printer {self.label} is unreachable: {exc}",
                message_zh=f"无法连接打印机（{self.label}），请联系工作人员",
            ) from exc
        logger.debug("printer link %s open", self.label)
        return self

    def send(self, data: bytes) -> None:
        """Send a whole job and hand it over; a dropped link becomes PrinterOffline."""
        try:
            self._raw(data)
            self._end_job()
        except PrinterError:
            raise
        except Exception as exc:
            raise PrinterOffline(
                f"Printer {self.label} dropped the connection while printing: {exc}",
                message_zh="打印过程中打印机连接中断，请联系工作人员",
            ) from exc

    def query(self, request: bytes) -> int | None:
        """Send one real-time status request (DLE EOT n) and return its answer byte; None if silent."""
        if not self.readable:
            return None
        try:
            self._raw(request)
            data = self._read(1, self.status_timeout)
        except TimeoutError:
            return None
        except PrinterError:
            raise
        except Exception as exc:
            raise PrinterOffline(
                f"Printer {self.label} failed during a status request: {exc}",
                message_zh="读取打印机状态失败，请联系工作人员",
            ) from exc
        return data[0] if data else None

    def close(self) -> None:
        """Disconnect; a failure is logged, never raised (closing a dead link must not hide the outcome)."""
        try:
            self._close()
        except Exception:
            logger.debug("closing the printer link %s failed", self.label, exc_info=True)

    def __enter__(self) -> PrinterLink:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}>"
