"""CupsLink: a CUPS queue as a printer link (one raw job per send, followed until it prints)."""

from __future__ import annotations

import logging

from printers.const import CONNECT_TIMEOUT_S, CUPS_JOB_SEND_S
from printers.cups_queue import CupsQueue
from printers.links.base import PrinterLink

logger = logging.getLogger(__name__)


class CupsLink(PrinterLink):
    """Bytes collected per job and submitted with lp; CUPS cannot relay status, so none is asked.

    Always lp/lpstat rather than python-escpos's LP or CupsPrinter: those ignore a refused job
    (LP drops lp's exit code, CupsPrinter submits in close()), so a kiosk would announce a ticket
    that never printed.
    """

    kind = "cups"

    def __init__(
        self, target: str, *, job_timeout: float = CONNECT_TIMEOUT_S + CUPS_JOB_SEND_S, label: str = ""
    ) -> None:
        super().__init__(label or f"cups:{target}")
        self.queue = CupsQueue(target, job_timeout=job_timeout)  # ValueError without a queue name

    def _open(self) -> None:
        self.queue.open()

    def _raw(self, data: bytes) -> None:
        self.queue.write(data)

    def _end_job(self) -> None:
        self.queue.submit()

    def _close(self) -> None:
        self.queue.close()
