"""A clerk whose session the server ended (expired, revoked, password changed) is back at the log-in page."""

from __future__ import annotations

import pytest
import requests

from tests.kiosk.helpers import Role, make_config

pytestmark = pytest.mark.timeout(240)


def test_an_ended_session_returns_the_clerk_to_log_in(qtbot, themed_qapp, kserver, tmp_path):
    win = kserver.windows[4]
    clerk = Role(qtbot, make_config("clerk", kserver.url, tmp_path / "c", window_id=win["id"]))
    try:
        clerk.wait_ready(qtbot)
        c = clerk.widget
        c.user_edit.setText("clerk4")
        c.pass_edit.setText("test-pass-4")
        with qtbot.waitSignal(c.logged_in, timeout=20000):
            c.login()
        assert c.pages.currentWidget() is not c.login_page
        # The session ends on the server's side (here revoked; an expiry answers the same way).
        token = c.client.token
        r = requests.post(
            f"{kserver.server.api}/auth/logout", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert r.status_code == 204
        with qtbot.waitSignal(c.op_finished, timeout=20000):
            c.do_op("call_next")
        qtbot.waitUntil(lambda: c.pages.currentWidget() is c.login_page, timeout=10000)
        assert "令牌无效或已注销" in c.login_error.text()
        assert c.client.token is None and c.login_btn.isEnabled()
    finally:
        clerk.close()
