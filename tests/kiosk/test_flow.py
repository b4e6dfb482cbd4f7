"""Every role against a real hall server and the device simulators: ID card -> printed ticket ->
clerk calls -> display shows and speaks -> rating recorded; the server's events show each step."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from kiosk.config import PrinterSettings
from kiosk.voice.wav import wav_info
from tests.kiosk.helpers import Role, events, make_config, ticket_events

pytestmark = pytest.mark.timeout(240)
LEFT = Qt.MouseButton.LeftButton


def test_id_card_to_ticket_to_call_to_rating(
    qtbot, themed_qapp, kserver, id_sim, vprinter, speaker, tmp_path
):
    from devices.sim.cards import sample_card

    url = kserver.url
    win = kserver.windows[1]  # 社保医保窗口, group A
    start_seq = events(url, kserver.display_token)[-1]["seq"]
    visitor = Role(
        qtbot,
        make_config(
            "visitor",
            url,
            tmp_path / "v",
            token=kserver.kiosk_token,
            id_reader=f"serial://{id_sim.port}",
            printer=PrinterSettings("network", f"127.0.0.1:{vprinter.port}", "text", 80),
        ),
    )
    clerk = Role(qtbot, make_config("clerk", url, tmp_path / "c", window_id=win["id"]))
    display = Role(
        qtbot, make_config("display", url, tmp_path / "d", token=kserver.display_token), speaker=speaker
    )
    rating = Role(
        qtbot,
        make_config("rating", url, tmp_path / "r", token=kserver.rating_token(1), window_id=win["id"]),
    )
    try:
        for r in (visitor, clerk, display, rating):
            r.wait_ready(qtbot)
        v, c, d, rt = visitor.widget, clerk.widget, display.widget, rating.widget
        assert "王芳" in rt.clerk_label.text() or "暂无" in rt.clerk_label.text()

        # -- visitor: choose a service, read the ID card, get a ticket, printed
        qtbot.waitUntil(lambda: "T-001" in v.service_buttons, timeout=30000)
        qtbot.mouseClick(v.service_buttons["T-001"], LEFT)
        assert v.pages.currentWidget() is v.identify
        with qtbot.waitSignal(v.ticket_issued, timeout=20000) as issued:
            id_sim.place(sample_card("resident"))
        ticket = issued.args[0]
        assert ticket.number.startswith("A")
        assert v.pages.currentWidget() is v.ticket_page
        assert v.t_number.text() == ticket.number
        assert "*" in (
            (ticket.holder and ticket.holder.id_masked) or "*"
        )  # the kiosk never sees the full number
        qtbot.waitUntil(lambda: "取走" in v.print_status.text(), timeout=20000)
        pages = vprinter.wait_for_pages(1, timeout=20)
        assert pages[-1].exists() and pages[-1].stat().st_size > 1000
        printed = "\n".join(vprinter.documents[-1].text_lines)
        assert ticket.number in printed
        assert "社会保障卡申领" in printed

        # -- clerk: log in, sees the ticket waiting, calls it (double press calls once)
        c.user_edit.setText("clerk1")
        c.pass_edit.setText("test-pass-1")
        with qtbot.waitSignal(c.logged_in, timeout=20000):
            qtbot.mouseClick(c.login_btn, LEFT)
        qtbot.waitUntil(lambda: any(t.id == ticket.id for t in c.waiting), timeout=10000)
        with qtbot.waitSignal(c.op_finished, timeout=20000) as called:
            c.do_op("call_next")
            c.do_op("call_next")  # a double press while the first is in flight is ignored
            assert not c.op_buttons["call_next"].isEnabled()
        assert called.args[1].id == ticket.id
        assert c.cur_number.text() == ticket.number
        assert "*" in c.cur_holder.text()  # identity masked on the clerk's screen too

        # -- display: shows it large and speaks it (chime + twice)
        qtbot.waitUntil(lambda: ticket.number in d.shown_calls, timeout=20000)
        assert ticket.number in d.call_label.text()
        assert f"{win['number']} 号窗口" in d.call_label.text()
        announcer = display.ctx.extras["announcer"]
        assert announcer.wait_idle(60)
        wavs = [w for _s, _e, w in speaker.played]
        # The chime of the installed voice pack, or the built-in one when no pack is built.
        assert wavs[0] == announcer.chime_audio()
        speech = [w for w in wavs if w != wavs[0] and wav_info(w).rms > 0]
        assert len(speech) == 2 and speech[0] == speech[1]
        assert 1.5 < wav_info(speech[0]).duration_s < 15
        assert announcer.spoken[-1].text == f"请{ticket.number}号到{win['number']}号窗口办理"

        # -- clerk starts and finishes; the rating terminal asks; the visitor rates
        for op in ("start", "finish"):
            with qtbot.waitSignal(c.op_finished, timeout=20000) as done:
                c.do_op(op)
            assert not isinstance(done.args[1], Exception), done.args[1]
        qtbot.waitUntil(lambda: rt.pages.currentWidget() is rt.rate_page, timeout=20000)
        assert ticket.number in rt.rate_title.text()
        with qtbot.waitSignal(rt.delivered, timeout=20000):
            qtbot.mouseClick(rt.level_buttons[5], LEFT)
        assert rt.pages.currentWidget() is rt.thanks_page
        assert rt.outbox.pending() == []

        # -- the server saw every step, in order
        evs = events(url, kserver.display_token, start_seq)
        kinds = ticket_events(evs, ticket.id)
        for step in (
            "ticket.issued",
            "ticket.called",
            "ticket.started",
            "ticket.finished",
            "rating.recorded",
        ):
            assert step in kinds, (step, kinds)
        assert kinds.count("ticket.called") == 1
        assert kinds.index("ticket.issued") < kinds.index("ticket.called") < kinds.index("ticket.finished")
        rec = next(e for e in evs if e["type"] == "rating.recorded")
        assert (rec["payload"].get("rating") or rec["payload"]).get("level") == 5
    finally:
        for r in (visitor, clerk, display, rating):
            r.close()


def test_paper_out_keeps_ticket_on_screen_and_reports_fault(
    qtbot, themed_qapp, kserver, id_sim, vprinter, tmp_path
):
    from devices.sim.cards import sample_card

    url = kserver.url
    start_seq = events(url, kserver.display_token)[-1]["seq"]
    visitor = Role(
        qtbot,
        make_config(
            "visitor",
            url,
            tmp_path / "v",
            token=kserver.kiosk_token,
            id_reader=f"serial://{id_sim.port}",
            printer=PrinterSettings("network", f"127.0.0.1:{vprinter.port}", "text", 80),
            device_id="kiosk-test-1",
        ),
    )
    try:
        visitor.wait_ready(qtbot)
        v = visitor.widget
        qtbot.waitUntil(lambda: "T-003" in v.service_buttons, timeout=30000)
        vprinter.paper_out = True
        qtbot.mouseClick(v.service_buttons["T-003"], LEFT)
        with qtbot.waitSignal(v.print_finished, timeout=30000) as printed:
            id_sim.place(sample_card("resident"))
        assert printed.args == [False]
        # The ticket stays on screen with its number and QR code, and the fault is explained.
        assert v.pages.currentWidget() is v.ticket_page
        number = v.ticket.number
        assert v.t_number.text() == number and number.startswith("B")
        assert v.t_qr.pixmap() is not None and not v.t_qr.pixmap().isNull()
        assert "缺纸" in v.print_status.text() and number in v.print_status.text()
        assert vprinter.pages == []

        # The server heard about it.
        def fault_seen() -> bool:
            evs = events(url, kserver.display_token, start_seq)
            return any(
                e["type"] in ("device.fault", "device.heartbeat") and "paper_out" in str(e["payload"])
                for e in evs
            )

        qtbot.waitUntil(fault_seen, timeout=15000)
        # Paper back: the next visitor's ticket prints, the kiosk was never stuck.
        vprinter.paper_out = False
        qtbot.mouseClick(v.findChild(type(v.anon_btn), "done"), LEFT)
        assert v.pages.currentWidget() is v.home
        qtbot.mouseClick(v.service_buttons["T-003"], LEFT)
        with qtbot.waitSignal(v.print_finished, timeout=30000) as printed:
            qtbot.mouseClick(v.anon_btn, LEFT)
        assert printed.args == [True]
        assert v.ticket.number in "\n".join(vprinter.documents[-1].text_lines)

        def fault_cleared() -> bool:
            evs = events(url, kserver.display_token, start_seq)
            dev = [e for e in evs if e["type"] == "device.heartbeat" and "kiosk-test-1" in str(e["payload"])]
            return bool(dev) and dev[-1]["payload"]["device"]["status"] == "ok"

        qtbot.waitUntil(fault_cleared, timeout=15000)  # the manager sees the printer back
    finally:
        visitor.close()


def test_card_pulled_mid_read_then_next_read_issues_one_ticket(qtbot, themed_qapp, kserver, id_sim, tmp_path):
    from devices.sim.cards import sample_card

    visitor = Role(
        qtbot,
        make_config(
            "visitor",
            kserver.url,
            tmp_path / "v",
            token=kserver.kiosk_token,
            id_reader=f"serial://{id_sim.port}",
        ),
    )
    try:
        visitor.wait_ready(qtbot)
        v = visitor.widget
        qtbot.waitUntil(lambda: "T-002" in v.service_buttons, timeout=30000)
        qtbot.mouseClick(v.service_buttons["T-002"], LEFT)
        issued = []
        v.ticket_issued.connect(issued.append)
        id_sim.remove_mid_read("truncate")
        id_sim.place(sample_card("elderly"))
        qtbot.waitUntil(lambda: "重新" in v.id_status.text(), timeout=15000)
        assert v.pages.currentWidget() is v.identify  # still waiting for the card, nothing issued
        assert issued == []
        id_sim.remove()
        qtbot.wait(800)
        id_sim.place(sample_card("elderly"))
        qtbot.waitUntil(lambda: len(issued) == 1, timeout=15000)
        t = issued[0]
        # 陈桂兰 is 70+: the green channel is applied from the card's birth date.
        assert t.priority is True and t.green_reason == "elderly"
        assert "绿色通道" in v.t_green.text() and v.t_green.isVisible()
        qtbot.wait(500)
        assert len(issued) == 1  # the card lying on the reader is not read twice
    finally:
        visitor.close()


def test_checkin_without_booking_and_lookup(qtbot, themed_qapp, kserver, id_sim, tmp_path):
    from devices.sim.cards import sample_card

    visitor = Role(
        qtbot,
        make_config(
            "visitor",
            kserver.url,
            tmp_path / "v",
            token=kserver.kiosk_token,
            id_reader=f"serial://{id_sim.port}",
        ),
    )
    try:
        visitor.wait_ready(qtbot)
        v = visitor.widget
        qtbot.mouseClick(v.findChild(type(v.anon_btn), "checkin"), LEFT)
        id_sim.place(sample_card("hmt"))
        qtbot.waitUntil(
            lambda: "预约" in v.checkin_status.text() and "正在" not in v.checkin_status.text(), timeout=15000
        )
        assert v.pages.currentWidget() is v.checkin_page
        assert "未找到您今天在本大厅的预约" in v.checkin_status.text()  # the server's own zh message
        # Look a ticket up by number.
        qtbot.waitUntil(lambda: "T-001" in v.service_buttons, timeout=30000)
        v.go_home()
        qtbot.mouseClick(v.service_buttons["T-001"], LEFT)
        with qtbot.waitSignal(v.ticket_issued, timeout=20000) as got:
            qtbot.mouseClick(v.anon_btn, LEFT)
        number = got.args[0].number
        v.go_home()
        v.open_lookup()
        v.lookup_page.edit.setText(number.lower())
        v.lookup_page.do_lookup()
        qtbot.waitUntil(lambda: number in v.lookup_page.result.text(), timeout=15000)
        assert "等候中" in v.lookup_page.result.text() and "前面还有" in v.lookup_page.result.text()
        v.lookup_page.edit.setText("Z999")
        v.lookup_page.do_lookup()
        qtbot.waitUntil(lambda: "Z999" in v.lookup_page.result.text(), timeout=15000)
        assert "没有" in v.lookup_page.result.text()
    finally:
        visitor.close()


def test_guide_printed_and_declared_green_channel(qtbot, themed_qapp, kserver, vprinter, tmp_path):
    visitor = Role(
        qtbot,
        make_config(
            "visitor",
            kserver.url,
            tmp_path / "v",
            token=kserver.kiosk_token,
            printer=PrinterSettings("network", f"127.0.0.1:{vprinter.port}", "text", 80),
        ),
    )
    try:
        visitor.wait_ready(qtbot)
        v = visitor.widget
        qtbot.waitUntil(lambda: "T-003" in v.service_buttons, timeout=30000)
        qtbot.mouseClick(v.service_buttons["T-003"], LEFT)
        qtbot.mouseClick(v.findChild(type(v.anon_btn), "guide"), LEFT)
        qtbot.waitUntil(lambda: v.guide_page.materials.count() > 0, timeout=15000)
        assert "查询人身份证明" in v.guide_page.materials.item(0).text()
        qtbot.mouseClick(v.guide_page.print_btn, LEFT)
        pages = vprinter.wait_for_pages(1, timeout=20)
        assert pages
        text = "\n".join(vprinter.documents[-1].text_lines)
        assert "不动产登记资料查询" in text and "查询人身份证明" in text
        # A visitor declares the green channel (certificate shown to the clerk later).
        qtbot.mouseClick(v.findChild(type(v.anon_btn), "guide-back"), LEFT)
        qtbot.mouseClick(v.green_buttons["serviceman"], LEFT)
        with qtbot.waitSignal(v.ticket_issued, timeout=20000) as got:
            qtbot.mouseClick(v.anon_btn, LEFT)
        t = got.args[0]
        assert t.priority is True and t.green_reason == "serviceman"
        assert "军人" in v.t_green.text()
    finally:
        visitor.close()
