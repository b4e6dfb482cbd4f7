"""FileLink: a printer device file (/dev/usb/lp0, a parallel port) or a plain file; write-only."""

from __future__ import annotations

import logging
from typing import BinaryIO

from printers.errors import PrinterOffline
from printers.links.base import PrinterLink

logger = logging.getLogger(__name__)


class FileLink(PrinterLink):
    """Bytes written to a path; a device file cannot answer status requests, so none are sent."""

    kind = "file"

    def __init__(self, path: str, *, label: str = "") -> None:
        super().__init__(label or f"file:{path}")
        self.path = path
        self._file: BinaryIO | None = None

    def _open(self) -> None:
        self._file = open(self.path, "wb")  # noqa: SIM115 - held open across calls, closed in _close

    def _raw(self, data: bytes) -> None:
        if self._file is None:
            raise PrinterOffline(f"Printer {self.label} is not open", message_zh="打印机未连接")
        self._file.write(data)

    def _end_job(self) -> None:
        if self._file is not None:
            self._file.flush()

    def _close(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            f.close()
