"""Ticket layout, ESC/POS printing through python-escpos, printer status, and a virtual printer."""

from __future__ import annotations

from printers.config import PrinterConfig
from printers.errors import CoverOpen, PaperOut, PrinterError, PrinterOffline
from printers.layout import GuideSlip, Material, ReceiptLayout, ReceiptLine, TicketLayout
from printers.printer import TicketPrinter, open_printer
from printers.status import PrinterStatus

__all__ = [
    "CoverOpen",
    "GuideSlip",
    "Material",
    "PaperOut",
    "PrinterConfig",
    "PrinterError",
    "PrinterOffline",
    "PrinterStatus",
    "ReceiptLayout",
    "ReceiptLine",
    "TicketLayout",
    "TicketPrinter",
    "open_printer",
]
