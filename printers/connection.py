"""Open python-escpos printer classes from a PrinterConfig; read status bytes with a timeout."""

from __future__ import annotations

import logging
import socket
from typing import Any

from devices.errors import DependencyMissing
from printers.config import PrinterConfig
from printers.const import CUPS_JOB_SEND_S, DEFAULT_NETWORK_PORT, SEND_TIMEOUT_S
from printers.cups_queue import CupsQueue
from printers.errors import PrinterError, PrinterOffline
from printers.escpos_out import make_profile

logger = logging.getLogger(__name__)


def _escpos_printers() -> Any:
    try:
        import escpos.printer as printers
    except ImportError as exc:  # pragma: no cover - python-escpos is a core device dependency
        raise DependencyMissing("python-escpos", "devices") from exc
    return printers


def parse_host_port(target: str) -> tuple[str, int]:
    """`host`, `host:port` or `[v6]:port` -> (host, port)."""
    target = target or "127.0.0.1"
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        return host, int(rest.lstrip(":") or DEFAULT_NETWORK_PORT)
    host, _, port = target.rpartition(":") if target.count(":") == 1 else (target, "", "")
    return host, int(port or DEFAULT_NETWORK_PORT)


def make_device(cfg: PrinterConfig) -> Any:
    """An unopened python-escpos printer for the configured connection."""
    printers = _escpos_printers()
    profile = make_profile(cfg.width_mm)
    if cfg.kind == "network":
        host, port = parse_host_port(cfg.target)
        return printers.Network(host, port=port, timeout=cfg.connect_timeout, profile=profile)
    if cfg.kind == "usb":
        if not printers.Usb.is_usable():
            raise DependencyMissing("pyusb", "devices")
        vid, _, pid = cfg.target.partition(":")
        return printers.Usb(
            int(vid, 16), int(pid, 16), timeout=int(cfg.status_timeout * 1000), profile=profile
        )
    if cfg.kind == "serial":
        path, _, query = cfg.target.partition("?")
        baud = int(query.split("baud=")[-1]) if "baud=" in query else 9600
        return printers.Serial(path, baudrate=baud, timeout=cfg.status_timeout, profile=profile)
    if cfg.kind == "cups":
        # Always through lp/lpstat rather than python-escpos's LP or CupsPrinter: those ignore a
        # refused job (LP drops lp's exit code, CupsPrinter submits in close()), so a kiosk would
        # announce a ticket that never printed.
        return CupsQueue(cfg.target, job_timeout=cfg.connect_timeout + CUPS_JOB_SEND_S)
    if cfg.kind == "file":
        return printers.File(cfg.target, profile=profile)
    return printers.Dummy(profile=profile)


def open_device(cfg: PrinterConfig) -> Any:
    """Open the connection, raising PrinterOffline (zh and en) when the printer cannot be reached."""
    device = make_device(cfg)
    try:
        device.open()
    except Exception as exc:  # python-escpos wraps socket, serial and USB errors in various types
        if isinstance(exc, (DependencyMissing, PrinterError)):
            raise
        raise PrinterOffline(
            f"Printer {cfg.kind}:{cfg.target} is unreachable: {exc}",
            message_zh=f"无法连接打印机（{cfg.kind}:{cfg.target}），请联系工作人员",
        ) from exc
    if cfg.kind == "network":
        device.device.settimeout(SEND_TIMEOUT_S)
    return device


def send(device: Any, cfg: PrinterConfig, data: bytes) -> None:
    """Send a whole job; a dropped link becomes PrinterOffline."""
    try:
        device._raw(data)
        if cfg.kind == "file":
            device.flush()
        elif cfg.kind == "cups":
            device.submit()
    except PrinterError:
        raise
    except Exception as exc:
        raise PrinterOffline(
            f"Printer {cfg.kind}:{cfg.target} dropped the connection while printing: {exc}",
            message_zh="打印过程中打印机连接中断，请联系工作人员",
        ) from exc


def read_status_byte(device: Any, cfg: PrinterConfig, request: bytes) -> int | None:
    """Send one DLE EOT request and wait up to status_timeout for its byte; None if the printer is silent."""
    try:
        if cfg.kind == "network":
            sock: socket.socket = device.device
            sock.sendall(request)
            sock.settimeout(cfg.status_timeout)
            try:
                data = sock.recv(1)
            finally:
                sock.settimeout(SEND_TIMEOUT_S)
            if not data:
                raise PrinterOffline("The printer closed the connection", message_zh="打印机断开了连接")
        elif cfg.kind == "serial":
            device.device.write(request)
            data = device.device.read(1)
        elif cfg.kind == "usb":
            device._raw(request)
            data = bytes(device._read()[:1])
        else:
            return None
    except TimeoutError:
        return None
    except PrinterOffline:
        raise
    except Exception as exc:
        raise PrinterOffline(
            f"Printer {cfg.kind}:{cfg.target} failed during a status request: {exc}",
            message_zh="读取打印机状态失败，请联系工作人员",
        ) from exc
    return data[0] if data else None
