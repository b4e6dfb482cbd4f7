"""UsbLink: a USB printer through pyusb (libusb), imported only when used."""

from __future__ import annotations

import logging
from typing import Any

from devices.errors import DependencyMissing
from printers.const import SEND_TIMEOUT_S, STATUS_TIMEOUT_S
from printers.errors import PrinterOffline
from printers.links.base import PrinterLink

logger = logging.getLogger(__name__)

# Bulk endpoints of nearly every USB receipt printer (python-escpos uses the same defaults).
IN_EP = 0x82
OUT_EP = 0x01


def parse_usb_target(target: str) -> tuple[int, int]:
    """`0416:5011` (vendor:product in hex) -> (vendor id, product id)."""
    vid, _, pid = target.partition(":")
    return int(vid, 16), int(pid, 16)


def _pyusb() -> Any:
    try:
        import usb.core
        import usb.util
    except ImportError as exc:
        raise DependencyMissing("pyusb", "devices") from exc
    return usb


class UsbLink(PrinterLink):
    """A USB printer found by vendor and product id; status answers come back on the bulk IN endpoint."""

    kind = "usb"
    readable = True

    def __init__(
        self,
        vendor_id: int,
        product_id: int,
        *,
        in_ep: int = IN_EP,
        out_ep: int = OUT_EP,
        send_timeout: float = SEND_TIMEOUT_S,
        status_timeout: float = STATUS_TIMEOUT_S,
        label: str = "",
    ) -> None:
        super().__init__(label or f"usb:{vendor_id:04x}:{product_id:04x}", status_timeout)
        self.vendor_id = vendor_id
        self.product_id = product_id
        self.in_ep = in_ep
        self.out_ep = out_ep
        self.send_timeout = send_timeout
        self._usb: Any = None
        self._device: Any = None

    def _open(self) -> None:
        usb = self._usb = _pyusb()
        device = usb.core.find(idVendor=self.vendor_id, idProduct=self.product_id)
        if device is None:
            raise OSError(
                f"USB device {self.vendor_id:04x}:{self.product_id:04x} not found or cable not plugged in"
            )
        self._device = device
        if type(device.backend).__module__.endswith("libusb1"):
            # Only libusb1 can tell and detach the kernel's usblp driver, which would hold the printer.
            try:
                if device.is_kernel_driver_active(0):
                    device.detach_kernel_driver(0)
            except (NotImplementedError, usb.core.USBError) as exc:
                logger.warning("could not detach the kernel driver from %s: %s", self.label, exc)
        try:
            device.set_configuration()
            device.reset()
        except usb.core.USBError as exc:
            logger.warning("could not configure %s: %s", self.label, exc)

    def _live(self) -> Any:
        if self._device is None:
            raise PrinterOffline(f"Printer {self.label} is not connected", message_zh="打印机未连接")
        return self._device

    def _raw(self, data: bytes) -> None:
        self._live().write(self.out_ep, data, int(self.send_timeout * 1000))

    def _read(self, size: int, timeout: float) -> bytes:
        device = self._live()
        try:
            # Ask for a whole packet: a buffer smaller than what the printer sends overflows.
            return bytes(device.read(self.in_ep, max(size, 64), int(timeout * 1000))[:size])
        except self._usb.core.USBTimeoutError:
            return b""

    def _close(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            self._usb.util.dispose_resources(device)
