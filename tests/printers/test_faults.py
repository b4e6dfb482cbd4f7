"""Paper out, cover open, paper low, silent and unreachable printers, dropped links: typed errors, nothing half-printed."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import tty
from collections.abc import Callable, Iterator

import pytest
from escpos.printer import Network

from devices.errors import DependencyMissing
from printers import (
    CoverOpen,
    PaperOut,
    PrinterConfig,
    PrinterError,
    PrinterOffline,
    TicketLayout,
    open_printer,
)
from printers.virtual import EscPosParser, VirtualPrinter
from tests.printers.conftest import network_config


def test_paper_out_is_reported_and_nothing_is_printed(
    virtual_printer: Callable[..., VirtualPrinter], ticket: TicketLayout
) -> None:
    vp = virtual_printer(58)
    vp.paper_out = True
    printer = open_printer(network_config(vp, "text", 58))
    status = printer.status()
    assert status.answered and status.paper_out and not status.ready
    assert status.message_zh == "缺纸"
    with pytest.raises(PaperOut) as err:
        printer.print_ticket(ticket)
    assert "缺纸" in err.value.message_zh and "paper" in str(err.value)
    assert isinstance(err.value, PrinterError)
    # Only the status requests (3 bytes each) reached the printer; no ticket data was sent.
    assert vp.received_bytes % 3 == 0 and vp.received_bytes <= 6 * 3
    assert vp.pages == []
    # Paper refilled: the next ticket comes out whole, and alone on its page.
    vp.paper_out = False
    printer.print_ticket(ticket)
    vp.wait_for_pages(1)
    assert len(vp.pages) == 1
    assert vp.documents[0].text_lines[0] == ticket.hall_name


def test_data_sent_while_the_paper_is_out_is_discarded(
    virtual_printer: Callable[..., VirtualPrinter],
) -> None:
    vp = virtual_printer(80)
    vp.paper_out = True
    with socket.create_connection(("127.0.0.1", vp.port), timeout=5) as s:
        s.sendall("\x1b@\x1c&半张票".encode("gb18030") + b"\n\x10\x04\x04")
        assert s.recv(1)[0] & 0x60 == 0x60  # DLE EOT 4: roll paper end sensor bits
    # python-escpos's own status calls agree.
    p = Network("127.0.0.1", port=vp.port, timeout=5)
    p.open()
    assert p.paper_status() == 0 and not p.is_online()
    p.close()
    vp.paper_out = False
    with socket.create_connection(("127.0.0.1", vp.port), timeout=5) as s:
        s.sendall("新票\n".encode("gb18030") + b"\x1dV\x00")
    vp.wait_for_pages(1)
    assert vp.documents[0].text_lines == ["新票"]
    assert vp.discarded_bytes > 0


def test_cover_open_refuses_to_print(
    virtual_printer: Callable[..., VirtualPrinter], ticket: TicketLayout
) -> None:
    vp = virtual_printer(80)
    vp.cover_open = True
    printer = open_printer(network_config(vp, "raster", 80))
    status = printer.status()
    assert status.cover_open and not status.online and not status.paper_out
    with pytest.raises(CoverOpen) as err:
        printer.print_ticket(ticket)
    assert "纸仓盖" in err.value.message_zh
    assert vp.pages == []


def test_paper_low_still_prints_and_is_reported_after(
    virtual_printer: Callable[..., VirtualPrinter], ticket: TicketLayout
) -> None:
    vp = virtual_printer(80)
    vp.paper_low = True
    after = open_printer(network_config(vp)).print_ticket(ticket)
    assert after.paper_low and after.ready
    assert len(vp.wait_for_pages(1)) == 1


def test_unreachable_printer_is_offline_quickly(ticket: TicketLayout) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: nothing listens there
    printer = open_printer(PrinterConfig("network", f"127.0.0.1:{port}", connect_timeout=1.0))
    with pytest.raises(PrinterOffline) as err:
        printer.status()
    assert "无法连接打印机" in err.value.message_zh
    with pytest.raises(PrinterOffline):
        printer.print_ticket(ticket)


@pytest.fixture
def black_hole_port() -> Iterator[int]:
    """A port whose listen backlog is full: new connection attempts hang like an unplugged printer."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            c.connect(("127.0.0.1", port))
        fillers.append(c)
    yield port
    for c in fillers:
        c.close()
    srv.close()


def test_hanging_connect_hits_the_connect_timeout(black_hole_port: int, ticket: TicketLayout) -> None:
    printer = open_printer(PrinterConfig("network", f"127.0.0.1:{black_hole_port}", connect_timeout=0.5))
    with pytest.raises(PrinterOffline) as err:
        printer.print_ticket(ticket)
    assert "timed out" in str(err.value)


def test_something_that_is_not_a_printer_is_refused(ticket: TicketLayout) -> None:
    """A web server (or anything else) on the configured port answers garbage to DLE EOT: don't print into it."""
    srv = socket.create_server(("127.0.0.1", 0))

    def http_like() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.recv(16)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            conn.recv(16)

    t = threading.Thread(target=http_like, daemon=True)
    t.start()
    printer = open_printer(PrinterConfig("network", f"127.0.0.1:{srv.getsockname()[1]}", status_timeout=2))
    with pytest.raises(PrinterOffline) as err:
        printer.print_ticket(ticket)
    assert "ESC/POS" in str(err.value)
    t.join(5)
    srv.close()


@pytest.fixture
def silent_printer() -> Iterator[tuple[int, list[bytes], threading.Event]]:
    """A TCP printer that swallows everything and never answers status requests."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()
    closed = threading.Event()  # set each time a client connection ends

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    while chunk := conn.recv(65536):
                        received.append(chunk)
                except OSError:
                    pass
            closed.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    yield srv.getsockname()[1], received, closed
    stop.set()
    t.join(5)
    srv.close()


def test_printer_that_never_answers_status_still_prints(
    silent_printer: tuple[int, list[bytes], threading.Event], ticket: TicketLayout
) -> None:
    port, received, closed = silent_printer
    printer = open_printer(PrinterConfig("network", f"127.0.0.1:{port}", status_timeout=0.3))
    status = printer.status()
    assert not status.answered and status.ready
    assert closed.wait(5)
    closed.clear()
    printer.print_ticket(ticket)
    assert closed.wait(5)
    parser = EscPosParser(576)
    pages = parser.feed(b"".join(received)).pages
    assert len(pages) == 1 and "A012" in pages[0].text_lines


def test_link_dropping_before_the_job_is_offline(ticket: TicketLayout) -> None:
    srv = socket.create_server(("127.0.0.1", 0))

    def accept_and_drop() -> None:
        conn, _ = srv.accept()
        conn.close()

    t = threading.Thread(target=accept_and_drop, daemon=True)
    t.start()
    printer = open_printer(PrinterConfig("network", f"127.0.0.1:{srv.getsockname()[1]}", status_timeout=2))
    with pytest.raises(PrinterOffline):
        printer.print_ticket(ticket)
    t.join(5)
    srv.close()


def test_serial_printer_over_a_pseudo_terminal(ticket: TicketLayout, tmp_path) -> None:
    """Real pyserial on a pty; the other end feeds the virtual printer and answers status bytes."""
    master, slave = os.openpty()
    tty.setraw(slave)
    vp = VirtualPrinter(out_dir=tmp_path, width_mm=58)
    stop = threading.Event()

    def pump() -> None:
        import select

        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return
                reply = vp.feed(data)
                if reply:
                    os.write(master, reply)

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    try:
        printer = open_printer(PrinterConfig("serial", f"{os.ttyname(slave)}?baud=115200", "text", 58))
        assert printer.status().answered
        printer.print_ticket(ticket)
        vp.wait_for_pages(1, timeout=10)
        assert "A012" in vp.documents[0].text_lines
        vp.paper_out = True
        with pytest.raises(PaperOut):
            printer.print_ticket(ticket)
        assert len(vp.pages) == 1
    finally:
        stop.set()
        t.join(5)
        os.close(master)
        os.close(slave)


def test_file_printer_writes_the_same_job(ticket: TicketLayout, tmp_path) -> None:
    path = tmp_path / "lp0"
    path.touch()
    printer = open_printer(PrinterConfig("file", str(path), "text", 80))
    status = printer.print_ticket(ticket)
    assert not status.answered  # a device file cannot answer status requests
    parser = EscPosParser(576)
    pages = parser.feed(path.read_bytes()).pages
    assert len(pages) == 1 and "A012" in pages[0].text_lines


def test_missing_file_device_is_offline(ticket: TicketLayout, tmp_path) -> None:
    printer = open_printer(PrinterConfig("file", str(tmp_path / "no" / "such" / "lp0")))
    with pytest.raises(PrinterOffline):
        printer.print_ticket(ticket)


def test_usb_printer_that_is_not_plugged_in_is_offline(ticket: TicketLayout) -> None:
    with pytest.raises(PrinterOffline) as err:
        open_printer(PrinterConfig("usb", "0416:5011")).print_ticket(ticket)
    assert "usb:0416:5011" in err.value.message_zh
    with pytest.raises(ValueError, match="vendor:product"):
        PrinterConfig("usb", "printer-1")


def test_cups_without_pycups_or_lp_names_what_to_install(ticket: TicketLayout, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no `lp` command reachable
    with pytest.raises(DependencyMissing) as err:
        open_printer(PrinterConfig("cups", "kiosk")).print_ticket(ticket)
    assert "cups-client" in str(err.value) and "cups-client" in err.value.message_zh
