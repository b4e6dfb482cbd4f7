"""The visitor kiosk by touch against a real server: 呼叫工作人员 reaches a real dashboard (Chromium) and
is acknowledged there; the screens and the printed ticket are Chinese only unless the visitor taps 中/EN;
the ticket says where to go; each service tile counts its own waiting visitors.

HALL_SCREENSHOTS_DIR=docs/screenshots refreshes visitor-staff-call.png and dashboard-staff-call.png.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from kiosk.config import PrinterSettings
from kiosk.ui.staff_call import IDLE, QUEUED, WAITING
from tests.kiosk.helpers import HALL, Role, events, make_config, village_config
from tests.kiosk.touch import tap
from tests.support.netfault import FaultProxy
from tests.web.support import ARGS, CHROMIUM, new_page

pytestmark = pytest.mark.timeout(300)

PLACE = "一楼东门自助取号机"
MANAGER, MANAGER_PASSWORD = "manager", "test-pass-m"
SEEN_MS = 20000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: run .ci/install (it installs chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _dashboard(browser: Any, url: str) -> Any:
    """The managers' dashboard at 1920×1080, logged in, the test hall open."""
    page = new_page(browser, viewport={"width": 1920, "height": 1080})
    page.goto(url + "/dashboard")
    page.fill("#username", MANAGER)
    page.fill("#password", MANAGER_PASSWORD)
    page.click("#login-form button[type=submit]")
    page.click(f'#tree a[data-hall="{HALL}"]')
    page.locator("#live", has_text="实时").wait_for()
    return page


def _shot(name: str) -> Path | None:
    shots = os.environ.get("HALL_SCREENSHOTS_DIR")
    return Path(shots) / name if shots else None


def test_a_staff_call_reaches_the_dashboard_and_its_acknowledgement_clears_the_kiosk(
    qtbot: Any, themed_qapp: Any, kserver: Any, browser: Any, tmp_path: Path
) -> None:
    token = kserver.server.create_token("kiosk", HALL, label=PLACE)
    visitor = Role(qtbot, make_config("visitor", kserver.url, tmp_path / "v", token=token))
    floor, second = _dashboard(browser, kserver.url), _dashboard(browser, kserver.url)
    try:
        visitor.wait_ready(qtbot)
        v = visitor.widget
        qtbot.waitUntil(lambda: visitor.ctx.events.online, timeout=20000)
        start_seq = events(kserver.url, kserver.display_token)[-1]["seq"]
        assert v.staff_btn.text() == "呼叫工作人员" and not v.staff_banner.isVisible()

        tap(qtbot, v.staff_btn)
        qtbot.wait(10)
        if v.staff_btn.isEnabled():  # a second tap while the first is under way: ignored
            tap(qtbot, v.staff_btn)
        qtbot.waitUntil(lambda: v.staff.state == WAITING, timeout=20000)
        assert v.staff_banner.isVisible() and "工作人员马上就到" in v.staff_banner.text()
        assert not v.staff_btn.isEnabled()
        call_id = v.staff.call_id
        requested = [
            e
            for e in events(kserver.url, kserver.display_token, start_seq)
            if e["type"] == "staff_call.requested"
        ]
        assert [e["payload"]["call"]["id"] for e in requested] == [call_id]  # one call for the taps

        # Both floor dashboards of the hall show it at once, naming the kiosk's place.
        for page in (floor, second):
            alert = page.locator(f'#alerts .staff-call[data-call="{call_id}"]')
            alert.wait_for(timeout=SEEN_MS)
            assert PLACE in alert.inner_text() and "呼叫工作人员" in alert.inner_text()
            assert page.locator("#alerts .staff-call").count() == 1
        # The visitor walks on through the screens: the line stays until staff have the call.
        tap(qtbot, v.service_buttons["T-003"])
        qtbot.waitUntil(lambda: v.pages.currentWidget() is v.identify, timeout=5000)
        assert v.staff_banner.isVisible()
        if path := _shot("visitor-staff-call.png"):
            v.grab().save(str(path))
        if path := _shot("dashboard-staff-call.png"):
            floor.screenshot(path=str(path))

        floor.locator(f'#alerts .staff-call[data-call="{call_id}"] button', has_text="已处理").click()
        for page in (floor, second):
            page.locator("#alerts .staff-call").wait_for(state="detached", timeout=SEEN_MS)
        qtbot.waitUntil(lambda: v.staff.state == IDLE, timeout=SEEN_MS)
        assert not v.staff_banner.isVisible() and v.staff_btn.isEnabled()
        assert v.staff.acknowledged_by == MANAGER
        (acked,) = [
            e
            for e in events(kserver.url, kserver.display_token, start_seq)
            if e["type"] == "staff_call.acknowledged"
        ]
        assert (
            acked["actor"] == {"kind": "manager", "id": MANAGER} and acked["payload"]["call"]["id"] == call_id
        )
        tap(qtbot, v.findChild(type(v.staff_btn), "back"))
    finally:
        floor.close()
        second.close()
        visitor.close()


def test_a_staff_call_made_while_the_server_is_out_of_reach_is_sent_when_it_is_back(
    qtbot: Any, themed_qapp: Any, kserver: Any, tmp_path: Path
) -> None:
    host, port = kserver.url.split("//")[1].split(":")
    proxy = FaultProxy((host, int(port))).start()
    token = kserver.server.create_token("kiosk", HALL, label="二楼取号机")
    visitor = Role(qtbot, make_config("visitor", proxy.url, tmp_path / "v", token=token))
    try:
        visitor.wait_ready(qtbot)
        v = visitor.widget
        start_seq = events(kserver.url, kserver.display_token)[-1]["seq"]
        proxy.refuse()
        tap(qtbot, v.staff_btn)
        qtbot.waitUntil(lambda: v.staff.state == QUEUED, timeout=30000)
        assert "网络中断" in v.staff_banner.text() and "求助已记下" in v.staff_banner.text()
        queued_id = v.staff.call_id
        proxy.restore()
        qtbot.waitUntil(lambda: v.staff.state == WAITING, timeout=30000)
        assert "工作人员马上就到" in v.staff_banner.text()
        (requested,) = [
            e
            for e in events(kserver.url, kserver.display_token, start_seq)
            if e["type"] == "staff_call.requested"
        ]
        assert requested["payload"]["call"]["id"] == queued_id == v.staff.call_id
        assert requested["payload"]["call"]["device_name"] == "二楼取号机"
        # Handled (by the API here), so the shared hall keeps no open call.
        login = requests.post(
            f"{kserver.url}/api/v1/auth/login",
            json={"username": MANAGER, "password": MANAGER_PASSWORD},
            timeout=30,
        ).json()
        r = requests.post(
            f"{kserver.url}/api/v1/staff-calls/{queued_id}/acknowledge",
            headers={"Authorization": f"Bearer {login['token']}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        qtbot.waitUntil(lambda: v.staff.state == IDLE, timeout=SEEN_MS)
    finally:
        visitor.close()
        proxy.close()


def _acknowledge(kserver: Any, call_id: str) -> None:
    """Handled by a manager (through the API), so the shared hall keeps no open call."""
    login = requests.post(
        f"{kserver.url}/api/v1/auth/login",
        json={"username": MANAGER, "password": MANAGER_PASSWORD},
        timeout=30,
    ).json()
    r = requests.post(
        f"{kserver.url}/api/v1/staff-calls/{call_id}/acknowledge",
        headers={"Authorization": f"Bearer {login['token']}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text


def test_a_staff_call_queued_before_a_restart_reaches_the_server_once_after_it(
    qtbot: Any, themed_qapp: Any, kserver: Any, tmp_path: Path
) -> None:
    host, port = kserver.url.split("//")[1].split(":")
    proxy = FaultProxy((host, int(port))).start()
    token = kserver.server.create_token("kiosk", HALL, label="三楼取号机")
    cfg = make_config("visitor", proxy.url, tmp_path / "v", token=token)
    first = Role(qtbot, cfg)
    second = None
    queued_id = None
    try:
        first.wait_ready(qtbot)
        start_seq = events(kserver.url, kserver.display_token)[-1]["seq"]
        proxy.refuse()
        tap(qtbot, first.widget.staff_btn)
        qtbot.waitUntil(lambda: first.widget.staff.state == QUEUED, timeout=30000)
        queued_id = first.widget.staff.call_id
        # The kiosk is switched off while the network is still down, and on again once it is back.
        first.close()
        first = None
        proxy.restore()
        second = Role(qtbot, cfg)
        second.wait_ready(qtbot)
        v = second.widget
        qtbot.waitUntil(lambda: v.staff.state == WAITING, timeout=30000)
        assert v.staff.call_id == queued_id and "工作人员马上就到" in v.staff_banner.text()
        (requested,) = [
            e
            for e in events(kserver.url, kserver.display_token, start_seq)
            if e["type"] == "staff_call.requested"
        ]
        assert requested["payload"]["call"]["id"] == queued_id
        assert requested["payload"]["call"]["device_name"] == "三楼取号机"
        _acknowledge(kserver, queued_id)
        qtbot.waitUntil(lambda: v.staff.state == IDLE, timeout=SEEN_MS)
        queued_id = None
        # Delivered: a third start sends nothing more.
        second.close()
        second = Role(qtbot, cfg)
        second.wait_ready(qtbot)
        qtbot.wait(500)
        assert second.widget.staff.state == IDLE
        assert [
            e
            for e in events(kserver.url, kserver.display_token, start_seq)
            if e["type"] == "staff_call.requested"
        ] == [requested]
    finally:
        for role in (first, second):
            if role is not None:
                role.close()
        if queued_id is not None:  # a failure half way: the shared hall keeps no open call
            proxy.restore()
            with contextlib.suppress(AssertionError):  # it never reached the server
                _acknowledge(kserver, queued_id)
        proxy.close()


def _printed(vprinter: Any, count: int) -> str:
    vprinter.wait_for_pages(count, timeout=20)
    return "\n".join(vprinter.documents[-1].text_lines)


def _phone_page_go_to(kserver: Any, track_token: str) -> str:
    """Where the phone page sends the ticket's holder ('2–4号窗口')."""
    r = requests.get(f"{kserver.url}/api/v1/track/{track_token}", timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["go_to"])


def _cancel(kserver: Any, ticket_id: int) -> None:
    r = requests.post(
        f"{kserver.url}/api/v1/tickets/{ticket_id}/cancel",
        headers={"Authorization": f"Bearer {kserver.kiosk_token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text


def test_screens_and_ticket_are_chinese_only_until_the_visitor_taps_en_and_the_ticket_says_where_to_go(
    qtbot: Any, themed_qapp: Any, kserver: Any, vprinter: Any, tmp_path: Path
) -> None:
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
    issued: list[int] = []
    try:
        visitor.wait_ready(qtbot)
        v = visitor.widget
        qtbot.waitUntil(lambda: "T-003" in v.service_buttons, timeout=20000)
        # Chinese only: no English word on the home screen.
        assert not re.search(r"[A-Za-z]{3,}", v.findChild(type(v.staff_btn), "checkin").text())
        assert v.findChild(type(v.staff_btn), "lookup").text() == "查询排队进度"

        # A ticket in Chinese: the paper says where to go, by the phone page's rule (B: windows 2–4).
        tap(qtbot, v.service_buttons["T-003"])
        assert v.id_prompt.text() == "请将身份证放在下方感应区"
        with qtbot.waitSignal(v.ticket_issued, timeout=20000) as got:
            tap(qtbot, v.anon_btn)
        ticket = got.args[0]
        issued.append(ticket.id)
        go_to = _phone_page_go_to(kserver, ticket.track_token)
        assert re.fullmatch(r"[0-9–、]+号窗口", go_to)
        assert v.t_where.text() == f"请到{go_to}"
        zh = _printed(vprinter, 1)
        assert (
            ticket.number in zh and f"请到{go_to}" in zh and "您的号码" in zh and "不动产登记资料查询" in zh
        )
        assert not re.search(r"[A-Za-z]{3,}", zh), zh  # not one English word on the paper
        tap(qtbot, v.findChild(type(v.staff_btn), "done"))

        # 中/EN: the screens in English, and the ticket printed meanwhile carries English.
        tap(qtbot, v.lang_btn)
        assert (
            v.lang_btn.isChecked()
            and v.findChild(type(v.staff_btn), "lookup").text() == "Where is\nmy ticket"
        )
        assert v.staff_btn.text() == "Call staff" and "waiting" in v.service_buttons["T-003"].text()
        tap(qtbot, v.service_buttons["T-003"])
        assert v.id_prompt.text() == "Please place your ID card on the reader"
        with qtbot.waitSignal(v.ticket_issued, timeout=20000) as got:
            tap(qtbot, v.anon_btn)
        ticket = got.args[0]
        issued.append(ticket.id)
        windows = _phone_page_go_to(kserver, ticket.track_token).removesuffix("号窗口")
        assert v.t_where.text().startswith("Please go to window") and v.t_where.text().endswith(windows)
        en = _printed(vprinter, 2)
        assert ticket.number in en and "您的号码 Your number" in en and f"请到{windows}号窗口" in en
        assert v.t_where.text() in en and "Missed numbers are void" in en

        # Home (by 返回首页 or idle): the next visitor starts in Chinese.
        tap(qtbot, v.findChild(type(v.staff_btn), "done"))
        assert not v.texts.english and not v.lang_btn.isChecked()
        assert v.findChild(type(v.staff_btn), "lookup").text() == "查询排队进度"
    finally:
        for ticket_id in issued:
            _cancel(kserver, ticket_id)  # the shared hall keeps no waiting ticket
        visitor.close()


def test_each_village_tile_counts_its_own_service(
    qtbot: Any, themed_qapp: Any, kserver: Any, tmp_path: Path
) -> None:
    cfg = village_config(kserver, tmp_path / "vs")
    station = Role(qtbot, cfg)
    issued: list[int] = []
    headers = {"Authorization": f"Bearer {kserver.kiosk_token}"}
    try:
        qtbot.waitUntil(lambda: station.widget.is_ready, timeout=20000)
        v = station.widget.visitor
        qtbot.waitUntil(lambda: v.ctx.events.online, timeout=20000)
        base = requests.get(f"{kserver.url}/api/v1/halls/{HALL}/snapshot", headers=headers, timeout=30).json()
        before = base["waiting_by_service"]
        # T-001 and T-002 share queue A: two tickets for the one, one for the other.
        for code in ("T-001", "T-001", "T-002"):
            r = requests.post(
                f"{kserver.url}/api/v1/halls/{HALL}/tickets",
                json={"service_code": code},
                headers=headers,
                timeout=30,
            )
            assert r.status_code == 201, r.text
            issued.append(r.json()["id"])
        want = {
            "T-001": before.get("T-001", 0) + 2,
            "T-002": before.get("T-002", 0) + 1,
            "T-003": before.get("T-003", 0),
        }
        for code, n in want.items():
            qtbot.waitUntil(
                lambda c=code, n=n: v.service_buttons[c].text().endswith(f"等候 {n} 人"), timeout=SEEN_MS
            )
    finally:
        for ticket_id in issued:
            _cancel(kserver, ticket_id)
        station.close()
