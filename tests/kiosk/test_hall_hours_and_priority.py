"""The visitor screen says when the hall issues no tickets (lunch, closed for the day), live from the
hall's rules; the clerk's waiting list marks priority tickets and says why."""

from __future__ import annotations

import contextlib
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import requests
from PySide6.QtGui import QColor

from kiosk import const
from kiosk.api import HallClient
from kiosk.hours import closed_notice
from tests.kiosk.helpers import HALL, Role, make_config

pytestmark = pytest.mark.timeout(240)

HOURS = [["09:00", "12:00"], ["13:30", "17:30"]]


def test_closed_notice_names_lunch_the_day_end_and_the_morning() -> None:
    assert closed_notice(HOURS, time(10, 0)) is None
    assert closed_notice([], time(3, 0)) is None  # no hours: tickets all day
    lunch = closed_notice(HOURS, time(12, 30))
    assert lunch is not None and lunch.startswith("午休中，13:30 恢复取号")
    assert closed_notice(HOURS, time(12, 0)).startswith("午休中")  # the span's end is outside it
    evening = closed_notice(HOURS, time(17, 45))
    assert evening is not None and evening.startswith("今日已停止取号")
    assert "09:00-12:00、13:30-17:30" in evening
    morning = closed_notice(HOURS, time(8, 15))
    assert morning is not None and morning.startswith("尚未开始取号，今日 09:00 开始取号")
    assert closed_notice([["13:30", "17:30"], ["09:00", "12:00"]], time(12, 30)) == lunch  # any order


def test_the_visitor_banner_follows_the_hall_rules_live(qtbot, themed_qapp, kserver, tmp_path):
    api = kserver.server.api
    headers = {"Authorization": f"Bearer {kserver.server.login('manager', 'test-pass-m')['token']}"}
    before = requests.get(f"{api}/halls/{HALL}/rules", headers=headers, timeout=30).json()["opening_hours"]
    visitor = Role(qtbot, make_config("visitor", kserver.url, tmp_path / "v", token=kserver.kiosk_token))
    try:
        visitor.wait_ready(qtbot)
        v = visitor.widget
        assert not v.closed_banner.isVisible()
        # A span that is over (or not begun, just after midnight) in the hall's time zone.
        now = datetime.now(ZoneInfo("Asia/Shanghai"))
        span, words = (
            (["00:00", "00:30"], "今日已停止取号") if now.hour >= 1 else (["23:00", "23:30"], "尚未开始取号")
        )
        r = requests.put(
            f"{api}/halls/{HALL}/rules", json={"opening_hours": [span]}, headers=headers, timeout=30
        )
        assert r.status_code == 200, r.text
        qtbot.waitUntil(lambda: v.closed_banner.isVisible(), timeout=30000)  # by hall.updated, no restart
        assert v.closed_banner.text().startswith(words) and span[0] in v.closed_banner.text()
    finally:
        r = requests.put(
            f"{api}/halls/{HALL}/rules", json={"opening_hours": before}, headers=headers, timeout=30
        )
        assert r.status_code == 200, r.text
    try:
        qtbot.waitUntil(lambda: not v.closed_banner.isVisible(), timeout=30000)
    finally:
        visitor.close()


def test_the_clerks_waiting_list_marks_priority_tickets(qtbot, themed_qapp, kserver, tmp_path):
    kiosk = HallClient(kserver.url, kserver.kiosk_token)
    win = kserver.windows[3]
    clerk = Role(qtbot, make_config("clerk", kserver.url, tmp_path / "c", window_id=win["id"]))
    c = clerk.widget
    tickets = []
    try:
        clerk.wait_ready(qtbot)
        c.user_edit.setText("clerk3")
        c.pass_edit.setText("test-pass-3")
        with qtbot.waitSignal(c.logged_in, timeout=20000):
            c.login()
        plain = kiosk.issue_ticket(HALL, "T-003")
        declared = kiosk.issue_ticket(HALL, "T-003", green_reason="disabled")
        tickets = [plain, declared]
        table = c.wait_table

        def row_of(number: str) -> int:
            return next(r for r in range(table.rowCount()) if table.item(r, 0).text() == number)

        qtbot.waitUntil(
            lambda: (
                {plain.number, declared.number} <= {table.item(r, 0).text() for r in range(table.rowCount())}
            ),
            timeout=20000,
        )
        mine = row_of(declared.number)
        assert table.item(mine, 3).text() == "优先·残疾人"
        assert table.item(mine, 0).font().bold()
        assert table.item(mine, 0).background().color() == QColor(const.COLOR_WARN_BG)
        assert mine < row_of(plain.number)  # called first, listed first
        assert table.item(row_of(plain.number), 3).text() == ""
        assert not table.item(row_of(plain.number), 0).font().bold()
    finally:
        # The shared hall keeps no waiting ticket of this test: each leaves as its holder would.
        for t in tickets:
            with contextlib.suppress(Exception):
                requests.post(f"{kserver.server.api}/track/{t.track_token}/cancel", timeout=30)
        with contextlib.suppress(Exception):
            c.client.logout()
        clerk.close()
