"""Typed printer errors with zh_CN and English messages; callers never see a raw socket or USB error."""

from __future__ import annotations

from devices.errors import DeviceError


class PrinterError(DeviceError):
    """Base of every printer fault; `code` is stable and machine-readable."""

    code = "printer.error"
    default_zh = "打印机故障"
    default_en = "Printer fault"

    def __init__(self, message: str | None = None, *, message_zh: str | None = None) -> None:
        super().__init__(message or self.default_en, message_zh=message_zh or self.default_zh)

    @property
    def message_en(self) -> str:
        """The English message."""
        return str(self)


class PrinterOffline(PrinterError):
    """The printer cannot be reached or reports itself offline."""

    code = "printer.offline"
    default_zh = "打印机未连接或离线，请联系工作人员"
    default_en = "The printer is offline or unreachable; please ask staff for help"


class PaperOut(PrinterError):
    """The printer has no paper; nothing was printed."""

    code = "printer.paper_out"
    default_zh = "打印机缺纸，请联系工作人员"
    default_en = "The printer is out of paper; please ask staff for help"


class CoverOpen(PrinterError):
    """The printer's cover is open; nothing was printed."""

    code = "printer.cover_open"
    default_zh = "打印机纸仓盖未关闭，请联系工作人员"
    default_en = "The printer cover is open; please ask staff for help"


class EscPosParseError(PrinterError):
    """The virtual printer met an ESC/POS command it cannot accept (e.g. an absurd image size)."""

    code = "printer.escpos_malformed"
    default_zh = "打印数据格式错误"
    default_en = "Malformed ESC/POS data"
