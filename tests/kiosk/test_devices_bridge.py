"""The ID reader bridge over the real serial driver and the pty simulator; printer faults typed."""

from __future__ import annotations

import pytest

from kiosk.config import PrinterSettings
from kiosk.errors import PrintFailed
from kiosk.hardware import IdReaderService, TicketPrinter, id_error_zh
from tests.kiosk.helpers import ticket_out


def test_card_read_then_pulled_mid_read_then_next_read_works(qtbot, id_sim):
    from devices.sim.cards import sample_card

    svc = IdReaderService(f"serial://{id_sim.port}")
    cards, errors = [], []
    svc.card_read.connect(cards.append)
    svc.read_error.connect(errors.append)
    svc.start()
    try:
        qtbot.waitUntil(lambda: svc.state == "ready", timeout=10000)
        id_sim.place(sample_card("resident"))
        qtbot.waitUntil(lambda: len(cards) == 1, timeout=10000)
        assert cards[0].id_number == sample_card("resident").id_number
        id_sim.remove()
        qtbot.wait(800)  # the reader must see the empty field to report the next placement
        id_sim.remove_mid_read("truncate")
        id_sim.place(sample_card("elderly"))
        qtbot.waitUntil(lambda: len(errors) > 0, timeout=10000)
        msg = id_error_zh(errors[-1])
        assert "重新" in msg or "读卡失败" in msg  # a clear Chinese instruction, no traceback
        id_sim.remove()
        qtbot.wait(700)  # the reader must see an empty field before the card counts as placed again
        id_sim.place(sample_card("elderly"))
        qtbot.waitUntil(lambda: len(cards) == 2, timeout=10000)
        assert cards[1].name == "陈桂兰"
    finally:
        svc.stop()


def test_unreachable_reader_reports_instead_of_crashing(qtbot, tmp_path):
    svc = IdReaderService(f"serial://{tmp_path}/no-such-tty")
    errors = []
    svc.read_error.connect(errors.append)
    svc.start()
    try:
        qtbot.waitUntil(lambda: len(errors) > 0, timeout=10000)
        assert "阅读器" in id_error_zh(errors[0])
        assert svc.state == "offline"
    finally:
        svc.stop()


def test_unplugged_reader_shows_offline(qtbot, id_sim):
    svc = IdReaderService(f"serial://{id_sim.port}")
    states = []
    svc.state_changed.connect(states.append)
    svc.start()
    try:
        qtbot.waitUntil(lambda: svc.state == "ready", timeout=10000)
        id_sim.unplug()
        # The state flips in the reader's thread; the signal reaches this (Qt) thread a moment later.
        qtbot.waitUntil(lambda: svc.state == "offline" and states[-1:] == ["offline"], timeout=10000)
    finally:
        svc.stop()


def test_printer_paper_out_is_a_typed_fault(vprinter):
    printer = TicketPrinter(PrinterSettings("network", f"127.0.0.1:{vprinter.port}", "text", 80))
    ticket = ticket_out(
        number="A007",
        service_name="社会保障卡申领",
        people_ahead=2,
        estimated_wait_minutes=9,
        issued_at="2026-11-26T09:00:00+08:00",
        track_url="http://127.0.0.1/t/abc",
    )
    printer.print_ticket(ticket, "测试大厅")
    pages = vprinter.wait_for_pages(1, timeout=15)
    assert pages[0].exists()
    assert any("A007" in line for line in vprinter.documents[-1].text_lines)
    vprinter.paper_out = True
    with pytest.raises(PrintFailed) as err:
        printer.print_ticket(ticket, "测试大厅")
    assert err.value.code == "printer.paper_out"
    assert "缺纸" in err.value.message_zh
    vprinter.paper_out = False
    printer.print_ticket(ticket, "测试大厅")  # back in service without a restart
    assert len(vprinter.wait_for_pages(2, timeout=15)) == 2
