"""The rating terminal names the rated clerk (photo, name, 工号) and takes a bad rating by touch alone:
a face, then big reason buttons instead of checkboxes and a comment box (issue 13)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from kiosk import const
from kiosk.ui.icons import face_pixmap
from tests.fixtures.photos import UNIFORM, clerk_portrait, near
from tests.kiosk.helpers import HALL, Role, events, make_config
from tests.kiosk.touch import tap

pytestmark = pytest.mark.timeout(180)


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _rgb(pixmap, x: int, y: int) -> tuple[int, int, int]:
    c = pixmap.toImage().pixelColor(x, y)
    return c.red(), c.green(), c.blue()


def test_the_rated_clerk_is_shown_and_a_bad_rating_is_tapped_in(qtbot, themed_qapp, kserver, tmp_path):
    api = kserver.server.api
    mgr = _h(kserver.server.login("manager", "test-pass-m")["token"])
    staff = requests.get(f"{api}/staff", headers=mgr, timeout=30).json()
    clerk4 = next(s for s in staff if s["username"] == "clerk4")
    # The hall's manager gives the clerk a staff number and a photo (a portrait, jacket in the middle).
    r = requests.patch(
        f"{api}/staff/{clerk4['id']}", json={"staff_number": "K-0004"}, headers=mgr, timeout=30
    )
    assert r.status_code == 200, r.text
    r = requests.put(
        f"{api}/staff/{clerk4['id']}/photo",
        data=clerk_portrait(),
        headers={**mgr, "Content-Type": "image/jpeg"},
        timeout=30,
    )
    assert r.status_code == 200 and r.json()["has_photo"], r.text

    win = kserver.windows[4]
    rating = Role(
        qtbot,
        make_config(
            "rating", kserver.url, tmp_path / "r", token=kserver.rating_token(4), window_id=win["id"]
        ),
    )
    clerk_token = None
    try:
        rating.wait_ready(qtbot)
        rt = rating.widget
        assert "暂无" in rt.clerk_label.text()
        silhouette = _rgb(rt.photo_label.pixmap(), rt.photo_label.width() // 2, rt.photo_label.height() // 2)
        assert not near(silhouette, UNIFORM)

        # The clerk logs in at window 4: the terminal shows who serves here, photo included.
        clerk_token = kserver.server.login("clerk4", "test-pass-4", win["id"])["token"]
        qtbot.waitUntil(lambda: "刘洋" in rt.clerk_label.text(), timeout=20000)
        qtbot.waitUntil(lambda: rt.number_label.text() == "工号：K-0004", timeout=5000)
        pm = rt.photo_label.pixmap()
        assert not pm.isNull() and pm.height() <= rt.photo_label.height()
        assert near(_rgb(pm, pm.width() // 2, pm.height() // 2), UNIFORM)  # the uploaded picture
        assert "刘洋" in rt.photo_label.accessibleName()
        shots = os.environ.get("HALL_SCREENSHOTS_DIR")
        if shots:  # refresh docs/screenshots/rating-staff.png
            rt.grab().save(str(Path(shots) / "rating-staff.png"))

        # A ticket of this test alone is called, served and finished at window 4.
        ticket = requests.post(
            f"{api}/halls/{HALL}/tickets",
            json={"service_code": "T-001"},
            headers=_h(kserver.kiosk_token),
            timeout=30,
        ).json()
        clerk = _h(clerk_token)
        base = f"{api}/windows/{win['id']}"
        r = requests.post(f"{base}/call", json={"ticket_id": ticket["id"]}, headers=clerk, timeout=30)
        assert r.status_code == 200, r.text
        for step in ("start", "finish"):
            assert requests.post(f"{base}/{step}", headers=clerk, timeout=30).status_code == 200
        qtbot.waitUntil(lambda: rt.pages.currentWidget() is rt.rate_page, timeout=20000)
        assert "刘洋" in rt.strip_label.text() and "K-0004" in rt.strip_label.text()
        strip = rt.strip_photo.pixmap()
        assert near(_rgb(strip, strip.width() // 2, strip.height() // 2), UNIFORM)

        # 非常满意 and 满意 differ in colour as well as in their faces.
        assert const.RATING_LEVEL_COLORS[5] != const.RATING_LEVEL_COLORS[4]
        every_control = [*rt.level_buttons.values(), *rt.reason_boxes.values(), *rt.detail_buttons.values()]
        assert all(b.accessibleName() for b in [*every_control, rt.submit_btn])

        # A finger taps 不满意, then two big reason buttons, then 提交.
        tap(qtbot, rt.level_buttons[2])
        qtbot.waitUntil(lambda: rt.pages.currentWidget() is rt.reason_page, timeout=5000)
        for b in [*rt.reason_boxes.values(), *rt.detail_buttons.values(), rt.submit_btn]:
            assert b.height() >= const.TOUCH_TARGET_MIN_PX, (b.text(), b.height())
        tap(qtbot, rt.reason_boxes["服务态度"])
        tap(qtbot, rt.detail_buttons["等候时间太长"])
        assert rt.reason_boxes["服务态度"].isChecked() and rt.detail_buttons["等候时间太长"].isChecked()
        assert rt.reason_boxes["服务效率"].isChecked()  # the detail ticks the reason it belongs to
        assert rt.reason_boxes["服务态度"].text().startswith("√")  # checked is said in text, not only colour
        with qtbot.waitSignal(rt.delivered, timeout=20000):
            tap(qtbot, rt.submit_btn)
        assert rt.pages.currentWidget() is rt.thanks_page and rt.outbox.pending() == []

        # At the server: the rating of this ticket, of this clerk, with the tapped reasons and detail.
        rec = next(
            e
            for e in events(kserver.url, kserver.kiosk_token)
            if e["type"] == "rating.recorded" and e["payload"]["rating"]["ticket_id"] == ticket["id"]
        )
        assert rec["payload"]["rating"]["level"] == 2 and rec["payload"]["rating"]["clerk_id"] == clerk4["id"]
        cases = requests.get(f"{api}/halls/{HALL}/followups", headers=mgr, timeout=30).json()
        case = next(c for c in cases if c["ticket_id"] == ticket["id"])
        case = requests.get(f"{api}/followups/{case['id']}", headers=mgr, timeout=30).json()
        assert case["reasons_zh"] == ["服务效率", "服务态度"] and case["text"] == "等候时间太长"
        assert case["clerk_name"] == "刘洋"
    finally:
        if clerk_token:
            requests.post(f"{api}/auth/logout", headers=_h(clerk_token), timeout=30)
        rating.close()


def test_very_satisfied_and_satisfied_faces_are_drawn_differently(themed_qapp):
    """Not only the label and the colour: the two faces differ in a good part of their pixels."""
    a, b = face_pixmap(5, 160).toImage(), face_pixmap(4, 160).toImage()
    differ = sum(a.pixelColor(x, y) != b.pixelColor(x, y) for x in range(0, 160, 2) for y in range(0, 160, 2))
    assert differ > 0.05 * 80 * 80
