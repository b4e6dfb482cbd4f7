"""DummyLink: collects every byte in `.output`, like python-escpos's Dummy; for tests and dry runs."""

from __future__ import annotations

import logging

from printers.links.base import PrinterLink

logger = logging.getLogger(__name__)


class DummyLink(PrinterLink):
    """No printer at all: jobs are kept in memory, status requests are not sent (it never answers)."""

    kind = "dummy"

    def __init__(self, *, label: str = "dummy:") -> None:
        super().__init__(label)
        self._output = bytearray()
        self._job_start = 0
        self.jobs: list[bytes] = []  # the bytes of each finished send(), in order

    def _open(self) -> None:
        pass

    def _raw(self, data: bytes) -> None:
        self._output += data

    def _end_job(self) -> None:
        self.jobs.append(bytes(self._output[self._job_start :]))
        self._job_start = len(self._output)

    @property
    def output(self) -> bytes:
        """Every byte written to this link so far."""
        return bytes(self._output)

    def clear(self) -> None:
        """Forget everything collected."""
        self._output.clear()
        self._job_start = 0
        self.jobs.clear()
