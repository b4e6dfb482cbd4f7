"""Tickets printed through a real CUPS: lp -> private cupsd -> socket backend -> the virtual printer."""

from __future__ import annotations

import socket
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from printers import PrinterConfig, TicketLayout, open_printer
from printers import connection as printer_connection
from printers.blocks import layout_blocks
from printers.errors import PrinterOffline
from printers.ipp_job import TAG_OPERATION, IppError, parse_response
from printers.raster import render_blocks
from printers.virtual import VirtualPrinter
from printers.virtual.render import paper_margins
from tests.fixtures.cups import Cupsd
from tests.printers.conftest import TRACK_URL, decode_qr

DOTS_80 = 576


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _jobs(cupsd: Cupsd, queue: str, which: str = "not-completed") -> list[str]:
    out = cupsd.run("lpstat", "-W", which, "-o", queue).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def test_text_mode_ticket_goes_through_cups_to_the_printer(
    cups_queue: Callable[[str], str], virtual_printer: Callable[..., VirtualPrinter], ticket: TicketLayout
) -> None:
    vp = virtual_printer(80)
    queue = cups_queue(f"socket://127.0.0.1:{vp.port}")
    printer = open_printer(PrinterConfig("cups", queue, "text", 80))
    after = printer.print_ticket(ticket)
    # CUPS is one-way: no DLE EOT answer can come back, so nothing about the paper is claimed.
    assert after.answered is False
    [png] = vp.wait_for_pages(1)
    page = vp.documents[0]
    assert page.cut
    lines = page.text_lines
    assert "巴中市政务服务中心" in lines
    assert "A012" in lines
    assert "不动产登记" in "\n".join(lines)
    assert "过号无效，请您重新取号" in lines
    assert "【绿色通道】" in lines
    assert "?" not in "\n".join(lines)
    assert decode_qr(png) == TRACK_URL
    # A raw queue passes the job through untouched: not one byte added or lost on the way.
    assert vp.received_bytes == len(printer.last_job)


def test_raster_mode_ticket_through_cups_arrives_dot_for_dot(
    cups_queue: Callable[[str], str], virtual_printer: Callable[..., VirtualPrinter], ticket: TicketLayout
) -> None:
    vp = virtual_printer(80)
    queue = cups_queue(f"socket://127.0.0.1:{vp.port}")
    open_printer(PrinterConfig("cups", queue, "raster", 80)).print_ticket(ticket)
    [png] = vp.wait_for_pages(1)
    source = render_blocks(layout_blocks(ticket, 80), 80)
    left, top = paper_margins(DOTS_80)
    printed = Image.open(png).crop((left, top, left + source.width, top + source.height)).convert("1")
    # Every dot of the Chinese text (and 䶮 in the holder's name) came out as the kiosk drew it.
    assert np.array_equal(np.asarray(printed), np.asarray(source))
    assert vp.documents[0].text_lines == []
    assert decode_qr(png) == TRACK_URL


def test_queue_named_with_its_server_needs_no_environment(
    cupsd: Cupsd,
    cups_queue: Callable[[str], str],
    virtual_printer: Callable[..., VirtualPrinter],
    ticket: TicketLayout,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vp = virtual_printer(58)
    queue = cups_queue(f"socket://127.0.0.1:{vp.port}")
    monkeypatch.delenv("CUPS_SERVER")
    cfg = PrinterConfig.from_url(f"cups://{cupsd.server}/{queue}?width=58")
    assert (cfg.kind, cfg.target, cfg.width_mm) == ("cups", f"{cupsd.server}/{queue}", 58)
    printer = open_printer(cfg)
    printer.print_ticket(ticket)
    printer.print_ticket(ticket)  # a second press prints a second ticket, in order
    vp.wait_for_pages(2)
    assert ["A012" in doc.text_lines for doc in vp.documents] == [True, True]


def test_status_through_cups_is_unknown_not_invented(
    cups_queue: Callable[[str], str], virtual_printer: Callable[..., VirtualPrinter]
) -> None:
    vp = virtual_printer(80)
    vp.paper_out = True  # the printer is out of paper, but CUPS cannot carry DLE EOT back
    status = open_printer(PrinterConfig("cups", cups_queue(f"socket://127.0.0.1:{vp.port}"))).status()
    assert status.answered is False
    assert "不回报状态" in status.message_zh
    assert not status.paper_out and not status.paper_low  # neither claimed nor denied: unknown
    assert vp.received_bytes == 0  # status() asked CUPS about the queue, not the printer


def test_stopped_queue_refuses_before_anything_is_queued(
    cupsd: Cupsd,
    cups_queue: Callable[[str], str],
    virtual_printer: Callable[..., VirtualPrinter],
    ticket: TicketLayout,
) -> None:
    vp = virtual_printer(80)
    queue = cups_queue(f"socket://127.0.0.1:{vp.port}")
    cupsd.run("cupsdisable", "-r", "缺纸 paper out", queue)
    printer = open_printer(PrinterConfig("cups", queue))
    with pytest.raises(PrinterOffline) as err:
        printer.print_ticket(ticket)
    assert "stopped" in str(err.value) and "paper out" in str(err.value)
    assert "已暂停" in err.value.message_zh and "缺纸" in err.value.message_zh
    with pytest.raises(PrinterOffline):
        printer.status()
    assert _jobs(cupsd, queue) == []  # nothing waits to come out later
    cupsd.run("cupsenable", queue)
    printer.print_ticket(ticket)
    vp.wait_for_pages(1)
    assert len(vp.pages) == 1


def test_rejecting_queue_is_offline(
    cupsd: Cupsd,
    cups_queue: Callable[[str], str],
    virtual_printer: Callable[..., VirtualPrinter],
    ticket: TicketLayout,
) -> None:
    vp = virtual_printer(80)
    queue = cups_queue(f"socket://127.0.0.1:{vp.port}")
    cupsd.run("cupsreject", queue)
    with pytest.raises(PrinterOffline) as err:
        open_printer(PrinterConfig("cups", queue)).print_ticket(ticket)
    assert "does not accept jobs" in str(err.value) and "拒绝打印任务" in err.value.message_zh
    assert vp.received_bytes == 0


def test_unreachable_printer_behind_the_queue_is_reported_and_its_job_cancelled(
    cupsd: Cupsd, cups_queue: Callable[[str], str], ticket: TicketLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CUPS accepts the job and would retry for days; the kiosk waits connect_timeout (plus the send
    # allowance, shortened here) for the job to leave the queue, then cancels it and says so.
    monkeypatch.setattr(printer_connection, "CUPS_JOB_SEND_S", 0.0)
    queue = cups_queue(f"socket://127.0.0.1:{_closed_port()}")
    printer = open_printer(PrinterConfig("cups", queue, connect_timeout=1.5))
    with pytest.raises(PrinterOffline) as err:
        printer.print_ticket(ticket)
    assert "did not reach the printer" in str(err.value) and "cancelled" in str(err.value)
    assert "本次小票未打印" in err.value.message_zh
    assert _jobs(cupsd, queue) == []  # cancelled: no stale ticket comes out when the printer returns
    [job] = _jobs(cupsd, queue, "completed")
    assert job.startswith(queue + "-")


def test_job_cups_aborts_is_not_reported_as_printed(
    cupsd: Cupsd, cups_queue: Callable[[str], str], ticket: TicketLayout
) -> None:
    # A queue that gives up on an unreachable printer after 1 s and aborts the job (instead of
    # stopping): lp took the job, but the ticket never came out and the kiosk must say so.
    queue = cups_queue(f"socket://127.0.0.1:{_closed_port()}/?contimeout=1")
    cupsd.run("lpadmin", "-p", queue, "-o", "printer-error-policy=abort-job")
    with pytest.raises(PrinterOffline) as err:
        open_printer(PrinterConfig("cups", queue)).print_ticket(ticket)
    assert "ended aborted without printing" in str(err.value)
    assert "not responding" in str(err.value)  # CUPS's own words for what happened
    assert "未能打印本次小票" in err.value.message_zh


def test_ipp_answers_that_are_not_ipp_are_typed_errors() -> None:
    with pytest.raises(IppError):
        parse_response(b"HTTP/1.1 200 OK\r\n")
    header = bytes([2, 0, 0, 0, 0, 0, 0, 1, TAG_OPERATION])
    with pytest.raises(IppError):  # an attribute whose value runs past the end
        parse_response(header + bytes([0x23, 0, 9]) + b"job-state" + bytes([0, 4, 0, 0]))
    status, attrs = parse_response(header + bytes([0x23, 0, 9]) + b"job-state" + bytes([0, 4, 0, 0, 0, 9, 3]))
    assert status == 0 and attrs == {"job-state": [bytes([0, 0, 0, 9])]}


def test_cups_not_running_and_unknown_queue_are_offline(cupsd: Cupsd, ticket: TicketLayout) -> None:
    with pytest.raises(PrinterOffline) as err:
        open_printer(PrinterConfig("cups", f"127.0.0.1:{_closed_port()}/kiosk")).print_ticket(ticket)
    assert "CUPS is not running" in str(err.value) and "未运行" in err.value.message_zh
    with pytest.raises(PrinterOffline) as err:
        open_printer(PrinterConfig("cups", f"{cupsd.server}/no_such_queue")).status()
    assert "no queue named 'no_such_queue'" in str(err.value) and "不存在" in err.value.message_zh
