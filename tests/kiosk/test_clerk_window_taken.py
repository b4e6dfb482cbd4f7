"""The clerk terminal against a real server: a window another clerk is signed in at is refused, in Chinese."""

from __future__ import annotations

import pytest

from kiosk.api import HallClient
from tests.kiosk.helpers import Role, make_config

pytestmark = pytest.mark.timeout(240)


def test_a_window_taken_by_another_clerk_is_refused_with_the_reason(qtbot, themed_qapp, kserver, tmp_path):
    win = kserver.windows[2]
    sitting = HallClient(kserver.url)
    sitting.login("clerk2", "test-pass-2", win["id"])  # clerk2 sits at window 2
    clerk = Role(qtbot, make_config("clerk", kserver.url, tmp_path / "c", window_id=win["id"]))
    try:
        clerk.wait_ready(qtbot)
        c = clerk.widget
        c.user_edit.setText("clerk3")
        c.pass_edit.setText("test-pass-3")
        c.login()
        qtbot.waitUntil(lambda: c.login_error.text() != "", timeout=15000)
        # Still on the log-in page, told who sits there and what to do; clerk2 goes on working.
        assert c.pages.currentWidget() is c.login_page
        text = c.login_error.text()
        assert "已由" in text and "交接" in text, text
        assert sitting.me().user is not None and sitting.me().user.username == "clerk2"
    finally:
        clerk.close()
        sitting.logout()
