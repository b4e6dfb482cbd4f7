"""The village station by touch: big buttons instead of tabs, and the clerk's part locked behind the
logged-in clerk's password once the villagers' part has been up (a real server, the small test hall)."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTabBar

from tests.kiosk.helpers import Role, village_config
from tests.kiosk.touch import tap

pytestmark = pytest.mark.timeout(240)


def test_a_villager_cannot_tap_into_the_clerks_screen(
    qtbot: Any, themed_qapp: Any, kserver: Any, tmp_path: Any
) -> None:
    cfg = village_config(kserver, tmp_path / "vs")
    station = Role(qtbot, cfg)
    try:
        s = station.widget
        qtbot.waitUntil(lambda: s.is_ready, timeout=20000)
        qtbot.waitUntil(lambda: s.clerk.pages.currentWidget() is s.clerk.work_page, timeout=20000)
        assert s.findChildren(QTabBar) == []  # no desktop tabs
        assert s.tabs.currentWidget() is s.visitor and s.nav_buttons["visitor"].isChecked()

        tap(qtbot, s.nav_buttons["clerk"])
        assert s.tabs.currentWidget() is s.lock_page
        assert not s.clerk.isVisible()
        assert "李娜" in s.lock_who.text()
        QTest.keyClicks(s.lock_edit, "1234")
        tap(qtbot, s.unlock_btn)
        assert s.tabs.currentWidget() is s.lock_page and "密码不正确" in s.lock_error.text()
        assert s.lock_edit.text() == ""

        QTest.keyClicks(s.lock_edit, "test-pass-2")
        tap(qtbot, s.unlock_btn)
        assert s.tabs.currentWidget() is s.clerk and s.clerk.isVisible()
        assert s.nav_buttons["clerk"].isChecked()

        # The villagers' part again (rating, then the kiosk): the clerk's part locks again.
        tap(qtbot, s.nav_buttons["rating"])
        assert s.tabs.currentWidget() is s.rating
        tap(qtbot, s.nav_buttons["clerk"])
        assert s.tabs.currentWidget() is s.lock_page
        tap(qtbot, s.findChild(type(s.unlock_btn), "lock-back"))
        assert s.tabs.currentWidget() is s.visitor

        # After the clerk logs out there is nothing to protect: the clerk's part is its log-in page.
        tap(qtbot, s.nav_buttons["clerk"])
        QTest.keyClicks(s.lock_edit, "test-pass-2")
        tap(qtbot, s.unlock_btn)
        tap(qtbot, s.clerk.session.logout_btn)
        qtbot.waitUntil(lambda: s.clerk.pages.currentWidget() is s.clerk.login_page, timeout=10000)
        tap(qtbot, s.nav_buttons["visitor"])
        tap(qtbot, s.nav_buttons["clerk"])
        assert s.tabs.currentWidget() is s.clerk and s.clerk.pages.currentWidget() is s.clerk.login_page
        assert not s.clerk.session.check_password("test-pass-2")
    finally:
        station.close()
