"""Printer links: one class per connection kind behind one byte seam (`_open`, `_raw`, `_read`, `_close`)."""

from __future__ import annotations

from printers.links.base import PrinterLink
from printers.links.cups import CupsLink
from printers.links.dummy import DummyLink
from printers.links.file import FileLink
from printers.links.network import NetworkLink, parse_host_port
from printers.links.serial import SerialLink, parse_serial_target
from printers.links.usb import UsbLink, parse_usb_target

__all__ = [
    "CupsLink",
    "DummyLink",
    "FileLink",
    "NetworkLink",
    "PrinterLink",
    "SerialLink",
    "UsbLink",
    "parse_host_port",
    "parse_serial_target",
    "parse_usb_target",
]
