"""The hall display speaks a recall again and shows, without speaking, a call replayed long after."""

from __future__ import annotations

import contextlib

import pytest

from kiosk.errors import KioskError
from tests.kiosk.helpers import Role, make_config

pytestmark = pytest.mark.timeout(120)


def test_display_recall_is_spoken_again_and_stale_calls_are_not(
    qtbot, themed_qapp, kserver, speaker, tmp_path
):
    from kiosk.api import HallClient

    win = kserver.windows[3]
    display = Role(
        qtbot, make_config("display", kserver.url, tmp_path / "d", token=kserver.display_token), speaker
    )
    try:
        display.wait_ready(qtbot)
        d = display.widget
        announcer = display.ctx.extras["announcer"]
        clerk = HallClient(kserver.url)
        clerk.login("clerk3", "test-pass-3", win["id"])
        with contextlib.suppress(KioskError):  # the window may still hold a ticket from an earlier test
            clerk.window_op(win["id"], "no-show")
        t = HallClient(kserver.url, kserver.kiosk_token).issue_ticket("t-hall", "T-003")
        clerk.call_ticket(win["id"], t.id)
        clerk.window_op(win["id"], "recall")
        qtbot.waitUntil(lambda: d.shown_calls.count(t.number) == 2, timeout=20000)
        assert announcer.wait_idle(60)
        spoken = [a.text for a in announcer.spoken]
        assert spoken.count(f"请{t.number}号到{win['number']}号窗口办理") == 1
        assert spoken.count(f"请{t.number}号再次到{win['number']}号窗口办理") == 1  # the recall says 再次
        # A call replayed long after it happened (e.g. after an outage) is shown, not spoken.
        n = len(announcer.spoken)
        old = {
            "seq": 10**9,
            "type": "ticket.called",
            "at": "2020-01-01T08:00:00+00:00",
            "payload": {"ticket": {"number": "Z001"}, "window": {"number": 9}},
        }
        d.on_event(old)
        assert d.shown_calls[-1] == "Z001" and "Z001" in d.call_label.text()
        assert announcer.wait_idle(10) and len(announcer.spoken) == n
        clerk.window_op(win["id"], "no-show")
    finally:
        display.close()
