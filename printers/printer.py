"""TicketPrinter: check status, refuse to start on paper-out or cover-open, send a whole job, re-check."""

from __future__ import annotations

import logging
import threading
import time

from printers.blocks import layout_blocks
from printers.config import PrinterConfig
from printers.connection import open_link
from printers.errors import PrinterOffline
from printers.escpos_out import compose
from printers.layout import GuideSlip, ReceiptLayout, TicketLayout
from printers.links import PrinterLink
from printers.status import PrinterStatus, decode_status, status_request, valid_status_byte

logger = logging.getLogger(__name__)

Layout = TicketLayout | GuideSlip | ReceiptLayout


class TicketPrinter:
    """One configured receipt printer; every call opens the link, does one job and closes it."""

    def __init__(self, config: PrinterConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self.last_status = PrinterStatus()
        self.last_job: bytes = b""
        self.last_sent_at = 0.0  # time.monotonic() when the last job's final byte was handed to the link

    def render(self, layout: Layout) -> bytes:
        """The ESC/POS bytes for a layout in this printer's mode and width (nothing is sent)."""
        blocks = layout_blocks(layout, self.config.width_mm)
        return compose(blocks, self.config.width_mm, self.config.mode, self.config.native_qr)

    def _query(self, link: PrinterLink) -> PrinterStatus:
        answers: dict[int, int | None] = {}
        for n in (1, 2, 4):
            byte = link.query(status_request(n))
            if byte is not None and not valid_status_byte(byte):
                # Whatever listens there is no ESC/POS printer (a web server, a wrong port): never
                # report a ticket as printed into it.
                raise PrinterOffline(
                    f"The device at {self.config.kind}:{self.config.target} answered DLE EOT {n} with "
                    f"0x{byte:02x}; it does not behave like an ESC/POS printer",
                    message_zh=f"打印机（{self.config.target}）应答异常，不是可用的小票打印机，请联系工作人员",
                )
            answers[n] = byte
            if n == 1 and byte is None:
                break  # a printer that ignores status requests: don't wait for each of them
        status = decode_status(answers.get(1), answers.get(2), answers.get(4))
        self.last_status = status
        return status

    def status(self) -> PrinterStatus:
        """Ask the printer how it is (PrinterOffline when it cannot be reached)."""
        with self._lock:
            link = open_link(self.config)
            try:
                return self._query(link)
            finally:
                link.close()

    def _print(self, layout: Layout) -> PrinterStatus:
        job = self.render(layout)  # render first: a layout problem never leaves half a ticket
        with self._lock:
            link = open_link(self.config)
            try:
                before = self._query(link)
                before.raise_if_not_ready()
                link.send(job)
                self.last_sent_at = time.monotonic()
                self.last_job = job
                # A printer that ignored the first request will ignore this one too: don't wait again.
                after = self._query(link) if before.answered else before
            finally:
                link.close()
        if after.paper_low or after.paper_out:
            logger.warning("printer %s after printing: %s", self.config.target, after.message_zh)
        return after

    def print_ticket(self, layout: TicketLayout) -> PrinterStatus:
        """Print a queue ticket; returns the status after printing (raises PaperOut etc. before)."""
        return self._print(layout)

    def print_guide(self, slip: GuideSlip) -> PrinterStatus:
        """Print a service guide slip."""
        return self._print(slip)

    def print_receipt(self, receipt: ReceiptLayout) -> PrinterStatus:
        """Print a plain receipt."""
        return self._print(receipt)


def open_printer(config: PrinterConfig) -> TicketPrinter:
    """A TicketPrinter for a configuration (the link is opened per job)."""
    return TicketPrinter(config)
