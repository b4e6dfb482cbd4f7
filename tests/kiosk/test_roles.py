"""Clerk operations, visitor screen behaviour, the village station and the CLI against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from kiosk.api import HallClient
from tests.kiosk.helpers import HALL, Role, events, make_config, ticket_events, village_config
from wire import TicketOut

pytestmark = pytest.mark.timeout(240)
LEFT = Qt.MouseButton.LeftButton
ROOT = Path(__file__).resolve().parents[2]


def _issue(kserver, code: str = "T-003") -> TicketOut:
    return HallClient(kserver.url, kserver.kiosk_token).issue_ticket(HALL, code)


def _op(qtbot, term, op: str, body: dict | None = None):
    with qtbot.waitSignal(term.op_finished, timeout=20000) as sig:
        term.do_op(op, body)
    return sig.args[1]


def test_clerk_operations_shortcuts_and_live_queue(qtbot, themed_qapp, kserver, tmp_path):
    win = kserver.windows[3]  # 不动产登记窗口, group B only
    clerk = Role(qtbot, make_config("clerk", kserver.url, tmp_path / "c", window_id=win["id"]))
    try:
        clerk.wait_ready(qtbot)
        c = clerk.widget
        c.user_edit.setText("clerk3")
        c.pass_edit.setText("wrong")
        c.login()
        qtbot.waitUntil(lambda: c.login_error.text() != "", timeout=15000)
        assert c.pages.currentWidget() is c.login_page
        assert any("\u4e00" <= ch <= "\u9fff" for ch in c.login_error.text()), c.login_error.text()
        c.pass_edit.setText("test-pass-3")
        with qtbot.waitSignal(c.logged_in, timeout=20000):
            c.login()
        # drain what earlier tests left in group B
        while True:
            res = _op(qtbot, c, "call_next")
            if isinstance(res, Exception):
                break
            _op(qtbot, c, "no_show")
        assert "没有" in c.message.text()  # queue.empty shown in Chinese
        # live waiting list: a ticket issued at the kiosk appears by itself
        t1, t2 = _issue(kserver), _issue(kserver)
        qtbot.waitUntil(lambda: {t1.id, t2.id} <= {t.id for t in c.waiting}, timeout=15000)
        assert "号码" in c.wait_table.horizontalHeaderItem(0).text()
        # F1 calls next (the shortcut shown on the button)
        assert "F1" in c.op_buttons["call_next"].text()
        c.activateWindow()
        c.setFocus()
        with qtbot.waitSignal(c.op_finished, timeout=20000) as sig:
            qtbot.keyClick(c, Qt.Key.Key_F1)
        assert sig.args[1].id == t1.id
        # with a called ticket in hand only its steps are offered; F1 does nothing
        ops = c.op_buttons
        assert not ops["call_next"].isEnabled() and not ops["finish"].isEnabled()
        assert ops["start"].isEnabled() and ops["no_show"].isEnabled() and ops["recall"].isEnabled()
        qtbot.keyClick(c, Qt.Key.Key_F1)
        qtbot.wait(300)
        assert c.current is not None and c.current.id == t1.id and not c.busy
        assert _op(qtbot, c, "recall").recall_count == 1
        assert _op(qtbot, c, "suspend").status == "suspended"
        qtbot.waitUntil(lambda: any(t.id == t1.id for t in c.suspended), timeout=15000)
        # call a chosen ticket from the list
        qtbot.waitUntil(lambda: any(t.id == t2.id for t in c.waiting), timeout=15000)
        c.wait_table.selectRow(next(i for i, t in enumerate(c.waiting) if t.id == t2.id))
        with qtbot.waitSignal(c.op_finished, timeout=20000) as sig:
            c.call_selected()
        assert sig.args[1].id == t2.id
        # transfer it to the other group: it waits again as A
        moved = _op(qtbot, c, "transfer", {"service_code": "T-001"})
        assert moved.status == "waiting" and moved.service_code == "T-001"
        # call the suspended one back, start, finish
        c.susp_table.selectRow(0)
        with qtbot.waitSignal(c.op_finished, timeout=20000) as sig:
            c.call_back_selected()
        assert sig.args[1].id == t1.id
        assert _op(qtbot, c, "start").status == "serving"
        assert ops["finish"].isEnabled() and not ops["no_show"].isEnabled() and not ops["start"].isEnabled()
        assert _op(qtbot, c, "finish").status == "finished"
        assert c.cur_number.text() == "—"
        assert (
            ops["call_next"].isEnabled() and not ops["recall"].isEnabled() and not ops["finish"].isEnabled()
        )
        # an illegal step is refused with the server's Chinese message, nothing breaks
        res = _op(qtbot, c, "recall")
        assert isinstance(res, Exception) and c.message.text()
        # pause and resume
        with qtbot.waitSignal(c.op_finished, timeout=20000):
            c.toggle_pause()
        qtbot.waitUntil(lambda: c.window is not None and c.window.status == "paused", timeout=10000)
        assert "暂停" in c.who.text()
        with qtbot.waitSignal(c.op_finished, timeout=20000):
            c.toggle_pause()
        qtbot.waitUntil(lambda: c.window is not None and c.window.status == "open", timeout=10000)
        # 下一位: with a ticket being served F1 finishes it and calls the next in one press
        t3, t4 = _issue(kserver), _issue(kserver)
        assert _op(qtbot, c, "call_next").id == t3.id
        assert "办结并叫号" not in ops["call_next"].text() and not ops["call_next"].isEnabled()
        _op(qtbot, c, "start")
        assert ops["call_next"].isEnabled() and "办结并叫号" in ops["call_next"].text()
        with qtbot.waitSignal(c.op_finished, timeout=20000) as sig:
            qtbot.keyClick(c, Qt.Key.Key_F1)
        assert sig.args[1].id == t4.id and c.current is not None and c.current.id == t4.id
        assert "已办结" in c.message.text() and t4.number in c.message.text()
        assert "办结并叫号" not in ops["call_next"].text()
        assert "ticket.finished" in ticket_events(events(kserver.url, kserver.display_token), t3.id)
        _op(qtbot, c, "no_show")
        kinds = ticket_events(events(kserver.url, kserver.display_token), t1.id)
        for k in (
            "ticket.called",
            "ticket.recalled",
            "ticket.suspended",
            "ticket.called_back",
            "ticket.finished",
        ):
            assert k in kinds
    finally:
        clerk.close()


def test_two_windows_calling_at_once_never_share_a_ticket(qtbot, themed_qapp, kserver, tmp_path):
    a = Role(qtbot, make_config("clerk", kserver.url, tmp_path / "a", window_id=kserver.windows[1]["id"]))
    b = Role(qtbot, make_config("clerk", kserver.url, tmp_path / "b", window_id=kserver.windows[4]["id"]))
    try:
        for r, user, pw in ((a, "clerk1", "test-pass-1"), (b, "clerk4", "test-pass-4")):
            r.wait_ready(qtbot)
            r.widget.user_edit.setText(user)
            r.widget.pass_edit.setText(pw)
            with qtbot.waitSignal(r.widget.logged_in, timeout=20000):
                r.widget.login()
        for w in (a.widget, b.widget):  # free both windows
            if w.current:
                _op(qtbot, w, "finish" if w.current.status == "serving" else "no_show")
        for _ in range(2):  # at least two waiting (earlier tests may have left others, served first)
            _issue(kserver, "T-001")
        got: list = []
        a.widget.op_finished.connect(lambda op, res: got.append(res))
        b.widget.op_finished.connect(lambda op, res: got.append(res))
        a.widget.do_op("call_next")
        b.widget.do_op("call_next")
        qtbot.waitUntil(lambda: len(got) == 2, timeout=20000)
        ids = [t.id for t in got if isinstance(t, TicketOut)]
        assert len(ids) == 2 and len(set(ids)) == 2  # each window got its own ticket
        assert {t.window_id for t in got} == {kserver.windows[1]["id"], kserver.windows[4]["id"]}
    finally:
        a.close()
        b.close()


def test_visitor_search_elderly_double_tap_and_idle(qtbot, themed_qapp, kserver, tmp_path):
    visitor = Role(qtbot, make_config("visitor", kserver.url, tmp_path / "v", token=kserver.kiosk_token))
    try:
        visitor.wait_ready(qtbot)
        v = visitor.widget
        qtbot.waitUntil(lambda: len(v.service_buttons) >= 3, timeout=10000)
        v.search.setText("不动产")
        assert [s.code for s in v.visible_services()] == ["T-003"]
        assert list(v.service_buttons) == ["T-003"]
        v.search.setText("没有这种事项")
        assert v.visible_services() == []
        v.search.clear()
        v.choose_category("医疗保障")
        assert [s.code for s in v.visible_services()] == ["T-002"]
        v.choose_category("全部事项")
        # elderly mode: bigger type, two columns
        v.service_buttons["T-001"].ensurePolished()
        before = v.service_buttons["T-001"].font().pixelSize()
        qtbot.mouseClick(v.elderly_btn, LEFT)
        assert v.elderly
        v.service_buttons["T-001"].ensurePolished()
        after = v.service_buttons["T-001"].font().pixelSize()
        assert after > before
        # a double tap on "no ID card" draws one number
        v.choose_service(v.services[0])
        got: list = []
        v.ticket_issued.connect(got.append)
        qtbot.mouseClick(v.anon_btn, LEFT)
        qtbot.mouseClick(v.anon_btn, LEFT)
        qtbot.waitUntil(lambda: len(got) == 1, timeout=15000)
        qtbot.wait(500)
        assert len(got) == 1
        # a tap that lands after the ticket is shown (a slow machine answers between two taps)
        qtbot.mouseClick(v.anon_btn, LEFT)
        qtbot.wait(500)
        assert len(got) == 1 and v.pages.currentWidget() is not v.identify
        # idle: said first, then back to the start screen, elderly mode back to the machine's default
        v.idle_grace.setInterval(100)
        v.idle_timer.setInterval(300)
        v.idle_timer.start()
        qtbot.waitUntil(lambda: "长者模式将关闭" in v.message.text(), timeout=5000)
        qtbot.waitUntil(lambda: v.pages.currentWidget() is v.home, timeout=5000)
        assert not v.elderly
    finally:
        visitor.close()


def test_village_station_shares_one_reader_and_brings_rating_forward(
    qtbot, themed_qapp, kserver, id_sim, tmp_path
):
    from devices.sim.cards import sample_card

    cfg = village_config(
        kserver,
        tmp_path / "vs",
        id_reader=f"serial://{id_sim.port}",
    )
    station = Role(qtbot, cfg)
    try:
        s = station.widget
        qtbot.waitUntil(lambda: s.is_ready, timeout=20000)
        qtbot.waitUntil(lambda: s.clerk.pages.currentWidget() is s.clerk.work_page, timeout=20000)
        # The clerk's part is locked (the kiosk part showed first); the clerk's password opens it.
        s.show_tab("clerk")
        assert s.tabs.currentWidget() is s.lock_page
        assert not s.unlock("test-pass-1") and s.tabs.currentWidget() is s.lock_page
        assert s.unlock("test-pass-2")
        # The clerk tab is showing: the card goes to the clerk, not to the kiosk.
        issued: list = []
        s.visitor.ticket_issued.connect(issued.append)
        id_sim.place(sample_card("resident"))
        qtbot.waitUntil(lambda: "*" in s.clerk.id_panel.text(), timeout=15000)
        assert issued == []
        id_sim.remove()
        qtbot.wait(800)
        # Kiosk tab: the same reader now issues a ticket.
        s.show_tab("visitor")
        qtbot.waitUntil(lambda: "T-001" in s.visitor.service_buttons, timeout=30000)
        s.visitor.choose_service(next(x for x in s.visitor.services if x.code == "T-001"))
        id_sim.place(sample_card("resident"))
        qtbot.waitUntil(lambda: len(issued) == 1, timeout=15000)
        ticket = issued[0]
        # Clerk serves it; on finish the rating tab comes forward by itself.
        s.show_tab("clerk")
        assert s.unlock("test-pass-2")
        c = s.clerk
        if c.current:
            _op(qtbot, c, "finish" if c.current.status == "serving" else "no_show")
        assert _op(qtbot, c, "call_chosen", {"ticket_id": ticket.id}).id == ticket.id
        _op(qtbot, c, "start")
        _op(qtbot, c, "finish")
        qtbot.waitUntil(lambda: s.tabs.currentWidget() is s.rating, timeout=20000)
        with qtbot.waitSignal(s.rating.delivered, timeout=20000):
            s.rating.choose_level(4)
        kinds = ticket_events(events(kserver.url, kserver.display_token), ticket.id)
        assert "rating.recorded" in kinds
    finally:
        station.close()


def test_cli_screenshot_against_the_server(kserver, tmp_path):
    from PIL import Image

    out = tmp_path / "display.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "kiosk.cli", "--role", "display", "--hall", HALL, "--server", kserver.url]
    cmd += ["--token", kserver.display_token, "--speaker", "none", "--data-dir", str(tmp_path / "d")]
    proc = subprocess.run(
        [*cmd, "--screenshot", str(out)], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    img = Image.open(out)
    assert img.size == (1920, 1080)
    # a dark display with bright text: not an empty frame
    colours = img.convert("RGB").getcolors(1 << 20)
    assert colours is not None and len(colours) > 50


def test_cli_bad_config_is_a_clear_error(tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"role": "cashier"}), encoding="utf-8")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2
    assert "未知的终端角色" in proc.stderr and "Traceback" not in proc.stderr


def test_concurrent_clients_share_nothing(kserver):
    """The client is safe to use from the task runner's threads at once."""
    c = HallClient(kserver.url, kserver.kiosk_token)
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(c.snapshot(HALL))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6 and all(r.groups for r in results)
