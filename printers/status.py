"""Printer status from DLE EOT answers: online, paper low, paper out, cover open."""

from __future__ import annotations

from dataclasses import dataclass

from printers.const import (
    DLE_EOT,
    ST1_OFFLINE,
    ST2_COVER_OPEN,
    ST2_PAPER_END_STOP,
    ST4_NEAR_END,
    ST4_PAPER_END,
)
from printers.errors import CoverOpen, PaperOut, PrinterOffline


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said about itself; `answered` is False when it never answers status requests."""

    online: bool = True
    paper_low: bool = False
    paper_out: bool = False
    cover_open: bool = False
    answered: bool = False

    @property
    def ready(self) -> bool:
        """True when a ticket can be printed now."""
        return self.online and not self.paper_out and not self.cover_open

    def raise_if_not_ready(self) -> None:
        """Raise the typed error that stops printing (paper out first: it is what staff must fix)."""
        if self.paper_out:
            raise PaperOut()
        if self.cover_open:
            raise CoverOpen()
        if not self.online:
            raise PrinterOffline()

    @property
    def message_zh(self) -> str:
        """A short zh_CN description for a status bar."""
        if self.paper_out:
            return "缺纸"
        if self.cover_open:
            return "纸仓盖打开"
        if not self.online:
            return "离线"
        if self.paper_low:
            return "纸将用尽"
        return "正常" if self.answered else "正常（打印机不回报状态）"


def status_request(n: int) -> bytes:
    """The real-time status request DLE EOT n (n = 1..4)."""
    if n not in (1, 2, 3, 4):
        raise ValueError("DLE EOT n must be 1..4")
    return DLE_EOT + bytes([n])


def valid_status_byte(b: int) -> bool:
    """A DLE EOT answer has bits 0 and 7 clear and bits 1 and 4 set."""
    return b & 0x93 == 0x12


def decode_status(st1: int | None, st2: int | None, st4: int | None) -> PrinterStatus:
    """Combine the answers to DLE EOT 1, 2 and 4 (None where the printer said nothing)."""
    if st1 is None and st2 is None and st4 is None:
        return PrinterStatus(answered=False)
    paper_out = bool(st4 is not None and st4 & ST4_PAPER_END) or bool(
        st2 is not None and st2 & ST2_PAPER_END_STOP
    )
    return PrinterStatus(
        online=not (st1 is not None and st1 & ST1_OFFLINE),
        paper_low=bool(st4 is not None and st4 & ST4_NEAR_END),
        paper_out=paper_out,
        cover_open=bool(st2 is not None and st2 & ST2_COVER_OPEN),
        answered=True,
    )
