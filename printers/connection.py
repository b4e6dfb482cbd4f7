"""The one place that turns a PrinterConfig into a printer link (printers/links), unopened or open."""

from __future__ import annotations

import logging

from printers.config import PrinterConfig
from printers.const import CUPS_JOB_SEND_S, SEND_TIMEOUT_S
from printers.links import (
    CupsLink,
    DummyLink,
    FileLink,
    NetworkLink,
    PrinterLink,
    SerialLink,
    UsbLink,
    parse_host_port,
    parse_serial_target,
    parse_usb_target,
)

logger = logging.getLogger(__name__)

__all__ = ["PrinterLink", "make_link", "open_link", "parse_host_port"]


def make_link(cfg: PrinterConfig) -> PrinterLink:
    """An unopened link for the configured printer kind (ValueError for a malformed target)."""
    label = f"{cfg.kind}:{cfg.target}"
    if cfg.kind == "network":
        host, port = parse_host_port(cfg.target)
        return NetworkLink(
            host,
            port,
            connect_timeout=cfg.connect_timeout,
            send_timeout=SEND_TIMEOUT_S,
            status_timeout=cfg.status_timeout,
            label=label,
        )
    if cfg.kind == "serial":
        path, baud = parse_serial_target(cfg.target)
        return SerialLink(
            path, baud, send_timeout=SEND_TIMEOUT_S, status_timeout=cfg.status_timeout, label=label
        )
    if cfg.kind == "usb":
        vid, pid = parse_usb_target(cfg.target)
        return UsbLink(vid, pid, send_timeout=SEND_TIMEOUT_S, status_timeout=cfg.status_timeout, label=label)
    if cfg.kind == "cups":
        return CupsLink(cfg.target, job_timeout=cfg.connect_timeout + CUPS_JOB_SEND_S, label=label)
    if cfg.kind == "file":
        return FileLink(cfg.target, label=label)
    return DummyLink(label=label)


def open_link(cfg: PrinterConfig) -> PrinterLink:
    """An open link, or PrinterOffline (zh and en) when the printer cannot be reached."""
    link = make_link(cfg)
    link.open()
    return link
