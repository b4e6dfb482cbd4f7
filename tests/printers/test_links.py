"""Each printer link behind the one byte seam: the same job bytes arrive, status comes back on the read side."""

from __future__ import annotations

import ast
import os
import select
import socket
import sys
import threading
import tty
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from devices.errors import DependencyMissing
from printers import PaperOut, PrinterConfig, PrinterOffline, TicketLayout, open_printer
from printers.connection import make_link, open_link
from printers.const import ST4_PAPER_END
from printers.links import (
    CupsLink,
    DummyLink,
    FileLink,
    NetworkLink,
    PrinterLink,
    SerialLink,
    UsbLink,
)
from printers.links import usb as usb_link
from printers.status import status_request
from printers.virtual import EscPosParser, VirtualPrinter
from tests.printers.conftest import network_config

PAPER_END = status_request(4)


def _job(ticket: TicketLayout, width_mm: int = 58) -> bytes:
    return open_printer(PrinterConfig("dummy", width_mm=width_mm)).render(ticket)


def test_the_factory_picks_one_link_class_per_kind(tmp_path: Path) -> None:
    cases = {
        PrinterConfig("network", "10.0.0.5:9101"): NetworkLink,
        PrinterConfig("serial", "/dev/ttyS0?baud=115200"): SerialLink,
        PrinterConfig("usb", "0416:5011"): UsbLink,
        PrinterConfig("cups", "127.0.0.1:631/kiosk"): CupsLink,
        PrinterConfig("file", str(tmp_path / "lp0")): FileLink,
        PrinterConfig("dummy"): DummyLink,
    }
    for cfg, cls in cases.items():
        link = make_link(cfg)  # nothing is opened, no optional library is imported yet
        assert type(link) is cls and link.kind == cfg.kind
        assert link.label == f"{cfg.kind}:{cfg.target}"
    net = make_link(PrinterConfig("network", "10.0.0.5:9101", status_timeout=0.25))
    assert isinstance(net, NetworkLink) and (net.host, net.port, net.status_timeout) == (
        "10.0.0.5",
        9101,
        0.25,
    )
    ser = make_link(PrinterConfig("serial", "/dev/ttyS0?baud=115200"))
    assert isinstance(ser, SerialLink) and (ser.path, ser.baudrate) == ("/dev/ttyS0", 115200)
    usb = make_link(PrinterConfig("usb", "0416:5011"))
    assert isinstance(usb, UsbLink) and (usb.vendor_id, usb.product_id) == (0x0416, 0x5011)
    with pytest.raises(ValueError, match="queue name"):
        make_link(PrinterConfig("cups", "127.0.0.1:631/"))


def test_network_link_delivers_a_ticket_and_reads_paper_out(
    virtual_printer: Callable[..., VirtualPrinter], ticket: TicketLayout
) -> None:
    vp = virtual_printer(58)
    link = open_link(network_config(vp, "text", 58))
    try:
        before = link.query(PAPER_END)
        assert before is not None and not before & ST4_PAPER_END
        link.send(_job(ticket))
        vp.wait_for_pages(1)
        assert "A012" in vp.documents[0].text_lines
        vp.paper_out = True
        assert link.query(PAPER_END) & ST4_PAPER_END == ST4_PAPER_END
    finally:
        link.close()
    link.close()  # closing twice is harmless


def test_dummy_link_collects_the_job_and_is_never_asked_for_status(ticket: TicketLayout) -> None:
    link = open_link(PrinterConfig("dummy", width_mm=58))
    assert isinstance(link, DummyLink)
    assert link.query(PAPER_END) is None and link.output == b""  # no request written into the job
    job = _job(ticket)
    link.send(job)
    link.send(b"\x1b@")
    assert link.jobs == [job, b"\x1b@"] and link.output == job + b"\x1b@"
    # Through TicketPrinter: prints, reports that nothing answered.
    printer = open_printer(PrinterConfig("dummy", width_mm=58))
    after = printer.print_ticket(ticket)
    assert not after.answered and after.ready and printer.last_job == job
    pages = EscPosParser(384).feed(job).pages
    assert len(pages) == 1 and "A012" in pages[0].text_lines


@pytest.fixture
def pty_printer(tmp_path: Path) -> Iterator[tuple[str, VirtualPrinter, list[bytes]]]:
    """A pseudo-terminal whose far end feeds a virtual printer and answers its status bytes."""
    master, slave = os.openpty()
    tty.setraw(slave)
    vp = VirtualPrinter(out_dir=tmp_path, width_mm=58)
    received: list[bytes] = []
    stop = threading.Event()

    def pump() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            received.append(data)
            reply = vp.feed(data)
            if reply:
                os.write(master, reply)

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    try:
        yield os.ttyname(slave), vp, received
    finally:
        stop.set()
        t.join(5)
        os.close(master)
        os.close(slave)


def test_serial_link_over_a_pty_gets_the_same_bytes_and_reads_paper_out(
    pty_printer: tuple[str, VirtualPrinter, list[bytes]], ticket: TicketLayout
) -> None:
    path, vp, received = pty_printer
    job = _job(ticket)
    link = open_link(PrinterConfig("serial", f"{path}?baud=115200", "text", 58))
    assert isinstance(link, SerialLink)
    try:
        link.send(job)
        vp.wait_for_pages(1, timeout=10)
        assert b"".join(received) == job  # byte for byte what the dummy link would have collected
        vp.paper_out = True
        assert link.query(PAPER_END) & ST4_PAPER_END == ST4_PAPER_END
    finally:
        link.close()
    assert "A012" in vp.documents[0].text_lines


class _FakeUsbDevice:
    """Just enough of a pyusb Device: bulk OUT feeds a virtual printer, bulk IN returns its answers."""

    def __init__(self, vp: VirtualPrinter, timeout_error: type[Exception]) -> None:
        self.vp = vp
        self.backend = SimpleNamespace()  # not libusb1: no kernel driver to detach
        self.replies = bytearray()
        self.written: list[bytes] = []
        self.timeout_error = timeout_error

    def set_configuration(self) -> None:
        pass

    def reset(self) -> None:
        pass

    def write(self, ep: int, data: bytes, timeout: int) -> int:
        assert ep == usb_link.OUT_EP and timeout > 0
        self.written.append(bytes(data))
        self.replies += self.vp.feed(bytes(data))
        return len(data)

    def read(self, ep: int, size: int, timeout: int) -> bytes:
        assert ep == usb_link.IN_EP and size >= 1
        if not self.replies:
            raise self.timeout_error("timed out")
        out, self.replies = bytes(self.replies[:size]), self.replies[size:]
        return out


def _fake_pyusb(device: _FakeUsbDevice | None, timeout_error: type[Exception]) -> SimpleNamespace:
    core = SimpleNamespace(
        find=lambda **kw: device,
        USBError=OSError,
        USBTimeoutError=timeout_error,
    )
    return SimpleNamespace(core=core, util=SimpleNamespace(dispose_resources=lambda dev: None))


def test_usb_link_sends_the_job_and_reads_status_on_the_in_endpoint(
    ticket: TicketLayout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class UsbTimeout(OSError):
        pass

    vp = VirtualPrinter(out_dir=tmp_path, width_mm=58)
    device = _FakeUsbDevice(vp, UsbTimeout)
    monkeypatch.setattr(usb_link, "_pyusb", lambda: _fake_pyusb(device, UsbTimeout))
    printer = open_printer(PrinterConfig("usb", "0416:5011", "text", 58))
    assert printer.status().answered
    printer.print_ticket(ticket)
    assert "A012" in vp.documents[0].text_lines
    assert _job(ticket) in b"".join(device.written)
    vp.paper_out = True
    with pytest.raises(PaperOut):
        printer.print_ticket(ticket)
    # A USB printer that never answers is silent (None), not offline.
    link = open_link(PrinterConfig("usb", "0416:5011"))
    device.replies.clear()
    monkeypatch.setattr(device, "read", lambda ep, size, timeout: (_ for _ in ()).throw(UsbTimeout()))
    assert link.query(PAPER_END) is None
    link.close()
    # Nothing plugged in: offline, naming the printer.
    monkeypatch.setattr(usb_link, "_pyusb", lambda: _fake_pyusb(None, UsbTimeout))
    with pytest.raises(PrinterOffline) as err:
        open_link(PrinterConfig("usb", "0416:5011"))
    assert "usb:0416:5011" in err.value.message_zh and "not found" in str(err.value)


@pytest.mark.parametrize(
    ("kind", "target", "module"), [("serial", "/dev/ttyS9", "serial"), ("usb", "0416:5011", "usb")]
)
def test_missing_optional_library_names_what_to_install(
    kind: str, target: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # import now fails as if it were not installed
    with pytest.raises(DependencyMissing) as err:
        open_link(PrinterConfig(kind, target))  # type: ignore[arg-type]
    assert "pip install" in str(err.value) and "hall-system[devices]" in err.value.message_zh


def test_seam_errors_become_printer_offline_with_the_printers_name() -> None:
    class Flaky(PrinterLink):
        readable = True

        def _open(self) -> None:
            pass

        def _raw(self, data: bytes) -> None:
            raise BrokenPipeError("pipe broke")

        def _read(self, size: int, timeout: float) -> bytes:
            raise TimeoutError

    link = Flaky("network:10.0.0.9:9100").open()
    with pytest.raises(PrinterOffline) as err:
        link.send(b"x")
    assert "network:10.0.0.9:9100 dropped the connection" in str(err.value)
    with pytest.raises(PrinterOffline, match="status request"):
        link.query(PAPER_END)

    class Refused(Flaky):
        def _open(self) -> None:
            raise ConnectionRefusedError("refused")

    with pytest.raises(PrinterOffline) as err:
        Refused("serial:/dev/ttyS3").open()
    assert "无法连接打印机（serial:/dev/ttyS3）" in err.value.message_zh


def test_network_link_reports_a_closed_connection(ticket: TicketLayout) -> None:
    srv = socket.create_server(("127.0.0.1", 0))

    def accept_and_drop() -> None:
        conn, _ = srv.accept()
        conn.recv(3)
        conn.close()

    t = threading.Thread(target=accept_and_drop, daemon=True)
    t.start()
    link = open_link(PrinterConfig("network", f"127.0.0.1:{srv.getsockname()[1]}", status_timeout=2))
    with pytest.raises(PrinterOffline, match="closed the connection"):
        link.query(PAPER_END)
    link.close()
    t.join(5)
    srv.close()


def test_no_printers_module_calls_a_foreign_objects_private_raw_or_read() -> None:
    """python-escpos's `_raw`/`_read` are its backends' seam: only a class's own methods may use them."""
    offenders = []
    for path in sorted(Path(__file__).resolve().parents[2].joinpath("printers").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("_raw", "_read")
                and not (isinstance(node.value, ast.Name) and node.value.id == "self")
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
