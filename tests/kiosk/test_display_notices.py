"""The display's ticker takes the notices a manager saves on the rules page, without a restart (issue 12)."""

from __future__ import annotations

import requests

from tests.kiosk.helpers import Role, make_config

HALL = "t-hall"


def test_display_ticker_follows_the_rules_page(qtbot, themed_qapp, kserver, speaker, tmp_path):
    display = Role(
        qtbot, make_config("display", kserver.url, tmp_path / "d", token=kserver.display_token), speaker
    )
    try:
        display.wait_ready(qtbot)
        d = display.widget
        token = kserver.server.login("manager", "test-pass-m")["token"]
        notices = ["今日下午不动产窗口暂停受理", "请携带身份证原件"]
        r = requests.put(
            f"{kserver.url}/api/v1/halls/{HALL}/rules",
            json={"notices": notices},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        qtbot.waitUntil(lambda: d.notices == notices, timeout=20000)
        assert d.notice.text() == "　　".join(notices)  # short enough to stand still on the ticker
    finally:
        display.close()
