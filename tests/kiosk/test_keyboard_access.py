"""Every kiosk control has a Chinese accessible name and Tab reaches it in reading order; the visitor's
main flow works by keyboard alone (GB/T 37668). Offscreen, against the shared real hall server."""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest
import requests
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QAccessible
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QTextEdit,
    QWidget,
)

from tests.kiosk.helpers import Role, make_config, village_config

pytestmark = pytest.mark.timeout(240)

ACTIONABLE = (
    QAbstractButton,
    QLineEdit,
    QTextEdit,
    QPlainTextEdit,
    QComboBox,
    QAbstractItemView,
    QAbstractSpinBox,
)
COMPOUND = (QComboBox, QAbstractSpinBox, QAbstractItemView)  # their inner parts are theirs
CJK = re.compile(r"[\u4e00-\u9fff]")
TOLERANCE = 4  # px: widgets of one row may differ by a border


def controls(root: QWidget) -> list[QWidget]:
    """The visible, enabled controls a visitor or clerk can act on (not the parts of a combo or table)."""
    out = []
    for w in root.findChildren(QWidget):
        if not isinstance(w, ACTIONABLE) or not w.isVisible() or not w.isEnabled():
            continue
        p = w.parentWidget()
        while p is not None and p is not root and not isinstance(p, COMPOUND):
            p = p.parentWidget()
        if p is None or p is root:
            out.append(w)
    return out


def accessible_name(w: QWidget) -> str:
    """The name assistive technology reads for the widget."""
    iface = QAccessible.queryAccessibleInterface(w)
    return iface.text(QAccessible.Text.Name) if iface is not None else ""


def describe(w: QWidget) -> str:
    text = w.text() if hasattr(w, "text") and callable(w.text) else ""
    return f"{type(w).__name__} {w.objectName()!r} {str(text)[:20]!r}"


def press(root: QWidget, key: Qt.Key) -> None:
    """A key on whatever has the keyboard focus (the screen itself when nothing has), then the event
    loop turns, as between a person's key presses (new tiles show, a reload lands)."""
    QTest.keyClick(root.focusWidget() or root, key)
    QApplication.processEvents()


def tab_walk(root: QWidget, limit: int = 400) -> list[QWidget]:
    """From nothing focused, press Tab until the focus comes back round; the controls it stopped on."""
    if root.focusWidget() is not None:
        root.focusWidget().clearFocus()
    seen: list[QWidget] = []
    for _ in range(limit):
        press(root, Qt.Key.Key_Tab)
        w = root.focusWidget()
        if w is None or (seen and w is seen[0]):
            break
        seen.append(w)
    return seen


def tab_to(root: QWidget, found: Callable[[QWidget], bool], limit: int = 400) -> QWidget:
    """Press Tab until the focused control is the one wanted."""
    stops = []
    for _ in range(limit):
        press(root, Qt.Key.Key_Tab)
        w = root.focusWidget()
        if w is not None and found(w):
            return w
        stops.append(describe(w) if w is not None else "nothing")
    raise AssertionError(f"Tab never reached the control; it stopped on {stops[:30]}")


def _box(w: QWidget, root: QWidget) -> QRect:
    return QRect(w.mapTo(root, w.rect().topLeft()), w.size())


def out_of_reading_order(walk: list[QWidget], root: QWidget) -> list[str]:
    """Steps of the walk that go back up the screen without moving on to a column further right."""
    for area in root.findChildren(QScrollArea):
        area.verticalScrollBar().setValue(0)  # positions in the whole list, not the scrolled view
    bad = []
    for a, b in pairwise(walk):
        ra, rb = _box(a, root), _box(b, root)
        if rb.top() < ra.top() - TOLERANCE and rb.left() < ra.right() - TOLERANCE:
            bad.append(f"{describe(a)} {ra.getRect()} -> {describe(b)} {rb.getRect()}")
    return bad


def assert_accessible(root: QWidget, where: str) -> None:
    """Every control named in Chinese, reached by Tab, in reading order."""
    shown = controls(root)
    assert shown, f"{where}: no controls found"
    unnamed = [describe(w) for w in shown if not CJK.search(accessible_name(w))]
    assert unnamed == [], f"{where}: controls without a Chinese accessible name: {unnamed}"
    walk = tab_walk(root)
    unreached = [describe(w) for w in shown if w not in walk]
    assert unreached == [], f"{where}: Tab never reaches {unreached}"
    assert out_of_reading_order(walk, root) == [], f"{where}: Tab goes against the reading order"


def _cancel(kserver: Any, ticket: Any) -> None:
    """The shared server's queue loses the ticket as its holder would (phone page's cancel)."""
    r = requests.post(f"{kserver.url}/api/v1/track/{ticket.track_token}/cancel", timeout=30)
    assert r.status_code == 200, r.text


def test_the_visitor_screens_by_keyboard(
    qtbot: Any, themed_qapp: Any, kserver: Any, speaker: Any, tmp_path
) -> None:
    role = Role(
        qtbot, make_config("visitor", kserver.url, tmp_path / "v", token=kserver.kiosk_token), speaker
    )
    v = role.widget
    issued: list[Any] = []
    try:
        role.wait_ready(qtbot)
        qtbot.waitUntil(lambda: len(v.service_buttons) >= 3 and v.ctx.events.online, timeout=15000)
        qtbot.wait(300)  # the reload on going online has landed
        assert_accessible(v, "visitor/home")
        # Touch gives no focus: a tap on a tile leaves no focus frame behind on the next screen.
        assert all(b.focusPolicy() == Qt.FocusPolicy.TabFocus for b in v.service_buttons.values())
        v.toggle_keyboard()
        assert_accessible(v, "visitor/keyboard")
        v.toggle_keyboard()
        v.open_lookup()
        assert_accessible(v, "visitor/lookup")
        v.go_home()
        v.open_checkin()
        assert_accessible(v, "visitor/checkin")
        v.go_home()

        # The main flow by keyboard alone: a tile, Enter; 未带身份证, Enter; 返回首页, Space.
        v.ticket_issued.connect(issued.append)
        tile = tab_to(v, lambda w: w.objectName() == "svc-T-001")
        assert v.focusWidget() is tile
        press(v, Qt.Key.Key_Return)
        assert v.pages.currentWidget() is v.identify
        assert_accessible(v, "visitor/identify")
        v.guide_page.show_service(v.current_service)
        v.pages.setCurrentWidget(v.guide_page)
        qtbot.waitUntil(lambda: v.guide_page.materials.count() > 0 or "加载" not in v.guide_page.limit.text())
        assert_accessible(v, "visitor/guide")
        v.pages.setCurrentWidget(v.identify)
        tab_to(v, lambda w: w is v.anon_btn)
        with qtbot.waitSignal(v.ticket_issued, timeout=20000):
            press(v, Qt.Key.Key_Enter)
        assert v.pages.currentWidget() is v.ticket_page
        assert_accessible(v, "visitor/ticket")
        tab_to(v, lambda w: w.objectName() == "done")
        press(v, Qt.Key.Key_Space)
        assert v.pages.currentWidget() is v.home
        # The keypad's arrows move like Tab on a button: down goes on, up comes back.
        first = tab_to(v, lambda w: isinstance(w, QAbstractButton))
        press(v, Qt.Key.Key_Down)
        assert v.focusWidget() is not first
        press(v, Qt.Key.Key_Up)
        assert v.focusWidget() is first
    finally:
        for t in issued:
            _cancel(kserver, t)
        role.close()


def test_the_rating_terminal_by_keyboard(qtbot: Any, themed_qapp: Any, kserver: Any, tmp_path) -> None:
    win = kserver.windows[4]
    cfg = make_config(
        "rating", kserver.url, tmp_path / "r", token=kserver.rating_token(4), window_id=win["id"]
    )
    role = Role(qtbot, cfg)
    rt = role.widget
    try:
        role.wait_ready(qtbot)
        rt.ask({"id": 999999, "number": "A999"})  # a ticket the server does not know: nothing is recorded
        assert_accessible(rt, "rating/rate")
        # 不满意 by keyboard: the reasons page, every reason and detail button reachable and named.
        tab_to(rt, lambda w: w.objectName() == "level-2")
        press(rt, Qt.Key.Key_Return)
        assert rt.pages.currentWidget() is rt.reason_page
        assert_accessible(rt, "rating/reasons")
        detail = next(iter(rt.detail_buttons.values()))
        tab_to(rt, lambda w: w is detail)
        press(rt, Qt.Key.Key_Return)  # a detail is picked by Enter as by a tap
        assert detail.isChecked()
        assert any(b.isChecked() for b in rt.reason_boxes.values()), "the detail's reason was not ticked"
    finally:
        role.close()


def test_the_clerk_display_and_village_screens(qtbot: Any, themed_qapp: Any, kserver: Any, tmp_path) -> None:
    win = kserver.windows[4]
    clerk = Role(qtbot, make_config("clerk", kserver.url, tmp_path / "c", window_id=win["id"]))
    try:
        clerk.wait_ready(qtbot)
        c = clerk.widget
        assert_accessible(c, "clerk/login")
        c.user_edit.setText("clerk4")
        c.pass_edit.setText("test-pass-4")
        with qtbot.waitSignal(c.logged_in, timeout=20000):
            c.login()
        qtbot.waitUntil(lambda: c.pages.currentWidget() is c.work_page, timeout=20000)
        assert_accessible(c, "clerk/work")
        assert c.wait_table.accessibleName() and c.susp_table.accessibleName()
        c.logout()
        qtbot.wait(1000)  # the log-out request leaves the window free for the next test
    finally:
        clerk.close()

    display = Role(qtbot, make_config("display", kserver.url, tmp_path / "d", token=kserver.display_token))
    try:
        display.wait_ready(qtbot)
        # The display is read, not operated: nothing on it takes the keyboard or lacks a name.
        assert [describe(w) for w in controls(display.widget) if not CJK.search(accessible_name(w))] == []
    finally:
        display.close()

    cfg = village_config(kserver, tmp_path / "vs", login=False)
    station = Role(qtbot, cfg)
    try:
        s = station.widget
        qtbot.waitUntil(lambda: s.is_ready, timeout=20000)
        qtbot.waitUntil(lambda: len(s.visitor.service_buttons) >= 3, timeout=15000)
        assert_accessible(s, "village/visitor")
        # Tab goes from the part shown to the buttons that choose the part, and on round.
        assert s.nav_buttons["rating"] in tab_walk(s)
        s.show_tab("clerk")  # no clerk logged in here: the clerk's log-in page
        assert_accessible(s, "village/clerk")
        s.show_tab("rating")
        assert_accessible(s, "village/rating")
    finally:
        station.close()
