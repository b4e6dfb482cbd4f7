"""The dashboard, the phone ticket page and the booking page in a real browser against a real server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine
from sqlalchemy import text as sa_text

from tests.fixtures.server import HallServer
from tests.hall_server.clock_app import ID_A, ID_B, PASSWORD
from tests.web.support import PHONE, SHOTS, TIMEOUT_MS, Api, login, window_id

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_dashboard_live_call_alerts_and_exports(server: HallServer, browser: Any, tmp_path: Path) -> None:
    kiosk = Api(server, server.create_token("kiosk", "x-city"))
    w1 = window_id(server, "x-city", 1)
    clerk = Api(server, server.login("x-city-c1", "test-pass-1", w1)["token"])
    for _ in range(3):
        kiosk.post("/halls/x-city/tickets", {"service_code": "S-001", "channel": "kiosk"})
    kiosk.post(
        "/devices/heartbeat",
        {
            "device_id": "kiosk-01",
            "kind": "kiosk",
            "status": "fault",
            "faults": [{"code": "paper_out", "message": "打印机缺纸"}],
        },
    )
    page = browser.new_page(
        viewport={"width": 1400, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page.set_default_timeout(TIMEOUT_MS)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    login(page, server, "m-city")
    # The city manager's tree: the city, the county and the township; never the other city.
    halls = page.eval_on_selector_all("#tree a", "els => els.map(e => e.dataset.hall)")
    assert halls == ["x-city", "x-county", "x-town"]
    page.click("#tree a[data-hall=x-city]")
    page.wait_for_selector("#groups tr[data-group=A] .waiting")
    assert page.inner_text("#groups tr[data-group=A] .waiting") == "3"
    page.wait_for_selector("#alerts .alert[data-code='device.fault']")
    assert "打印机缺纸" in page.inner_text("#alerts")
    page.wait_for_function("document.getElementById('live').textContent.includes('实时')")
    # The socket was opened with a one-time ticket: the session token is never in its URL.
    token = page.evaluate("sessionStorage.getItem('hall_token')")
    assert sockets and all("ticket=" in u and "token=" not in u and token not in u for u in sockets)
    # A call made through the API appears without a reload.
    called = clerk.post(f"/windows/{w1}/call-next")
    page.wait_for_function(
        "t => document.getElementById('last-call').textContent.includes(t)", arg=called["number"]
    )
    assert page.inner_text("#last-call") == f"请{called['number']}号到1号窗口办理"
    page.wait_for_function("document.querySelector('#groups tr[data-group=A] .waiting').textContent === '2'")
    assert page.inner_text(f"#windows tr[data-window='{w1}'] .current") == called["number"]
    assert page.locator("#feed li[data-type='ticket.called']").count() >= 1
    # Charts of the day.
    page.click("#reload-stats")
    page.wait_for_function(
        "[...document.querySelectorAll('#chart-hour svg rect')].some(r => +r.getAttribute('height') > 0)"
    )
    assert "取号 3" in page.inner_text("#stats-summary")
    # Exports download as files.
    with page.expect_download() as dl:
        page.click("#export-xlsx")
    path = tmp_path / "stats.xlsx"
    dl.value.save_as(path)
    from openpyxl import load_workbook

    wb = load_workbook(path)
    summary = {row[0]: row[1] for row in wb["汇总"].iter_rows(values_only=True)}
    assert summary["取号数"] == 3
    with page.expect_download() as dl:
        page.click("#export-csv")
    text = Path(dl.value.path()).read_bytes().decode("utf-8-sig")
    assert text.splitlines()[0].startswith("分组,名称,取号数")
    # A bad rating shows up as a follow-up case; the manager records the next step from the page.
    clerk.post(f"/windows/{w1}/start")
    clerk.post(f"/windows/{w1}/finish")
    rating = Api(server, server.create_token("rating", "x-city", w1))
    rating.post(
        "/ratings",
        {
            "ticket_id": called["id"],
            "level": 1,
            "channel": "device",
            "prompted": True,
            "reasons": ["服务态度"],
        },
    )
    page.wait_for_selector("#followups tr[data-case] .next-step")
    page.click("#followups tr[data-case] .next-step")
    page.wait_for_selector("#case-dialog[open]")
    page.fill("#case-note", "已电话核实")
    page.click("#case-submit")
    page.wait_for_function(
        "document.querySelector('#followups tr[data-case] .step').textContent === '已核实'"
    )
    page.wait_for_function("document.getElementById('followups-msg').textContent.includes('已核实')")
    page.screenshot(path=str(SHOTS / "web-dashboard.png"), full_page=True)
    # Window assignment: pause window 2 from the page; the change is live for everyone.
    w2 = window_id(server, "x-city", 2)
    page.click(f"#windows tr[data-window='{w2}'] button:has-text('暂停')")
    page.wait_for_function(
        f"document.querySelector(\"#windows tr[data-window='{w2}'] .status-paused\") !== null"
    )
    assert server.hall("x-city")  # still healthy
    page.close()


def weights_of(groups: Any) -> dict[str, int]:
    """A window's {prefix: weight} from either wire shape ({A: 2} or [{prefix, weight}])."""
    if isinstance(groups, list):
        return {g["prefix"]: g["weight"] for g in groups}
    return dict(groups)


def window_weights(server: HallServer, hall: str, wid: int) -> dict[str, int]:
    return weights_of(next(w for w in server.hall(hall)["windows"] if w["id"] == wid)["groups"])


def test_manager_changes_window_groups_in_page_form(server: HallServer, browser: Any) -> None:
    """The in-page form (no browser prompt) changes a window's queues and weights on the server,
    and the window's clerk terminal gets the window.updated event with the new weights."""
    from kiosk.api import HallClient

    w2 = window_id(server, "x-town", 2)
    clerk = HallClient(server.base_url, server.login("x-town-c2", PASSWORD, w2)["token"])
    since = max([0, *(e.seq for e in clerk.events("x-town"))])
    page = browser.new_page(
        viewport={"width": 1400, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page.set_default_timeout(TIMEOUT_MS)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, server, "m-city")
    page.click("#tree a[data-hall=x-town]")
    row = f"#windows tr[data-window='{w2}']"
    page.wait_for_selector(f"{row} button.edit-groups")
    assert "A×1 B×1" in page.inner_text(row)
    page.click(f"{row} button.edit-groups")
    form = page.locator("#groups-form")
    form.wait_for(state="visible")
    assert "2号窗口" in page.inner_text("#groups-form-title")
    assert page.eval_on_selector_all(
        "#groups-form-rows tr[data-group]", "rs => rs.map(r => r.dataset.group)"
    ) == [
        "A",
        "B",
    ]
    assert "社保医保" in page.inner_text("#groups-form-rows tr[data-group=A]")
    # A bad weight is refused in the form, in Chinese first, and nothing reaches the server.
    page.fill("#groups-form-rows tr[data-group=A] input.weight", "0")
    page.click("#groups-form-save")
    assert page.inner_text("#groups-form-msg").startswith("队列A的权重须为1–99的整数")
    assert window_weights(server, "x-town", w2) == {"A": 1, "B": 1}
    # No queue at all is refused too.
    page.uncheck("#groups-form-rows tr[data-group=A] input.serve")
    page.uncheck("#groups-form-rows tr[data-group=B] input.serve")
    page.click("#groups-form-save")
    assert page.inner_text("#groups-form-msg").startswith("请至少选择一个队列")
    # Serve A only, with weight 3: saved, the form closes and the table shows the new weights.
    page.check("#groups-form-rows tr[data-group=A] input.serve")
    page.fill("#groups-form-rows tr[data-group=A] input.weight", "3")
    page.click("#groups-form-save")
    form.wait_for(state="hidden")
    # The save is confirmed in a live region, as on the /manage pages.
    saved = page.locator("#groups-saved[role=status]")
    saved.wait_for(state="visible")
    assert saved.inner_text().startswith("✓ 已保存") and "2号窗口" in saved.inner_text()
    page.wait_for_function(f"document.querySelector(\"{row}\").textContent.includes('A×3')")
    assert "B×" not in page.inner_text(row)
    assert dialogs == []  # no prompt(), alert() or confirm() on the way
    assert window_weights(server, "x-town", w2) == {"A": 3}
    # The clerk terminal of that window sees the change as an event.
    updated = [e for e in clerk.events("x-town", since=since) if e.type == "window.updated"]
    assert updated, "no window.updated event"
    payload = updated[-1].payload
    assert payload["window"]["id"] == w2 and payload["change"] == "groups"
    assert weights_of(payload["window"]["groups"]) == {"A": 3}
    # Cancel leaves the window as it is.
    page.click(f"{row} button.edit-groups")
    page.fill("#groups-form-rows tr[data-group=A] input.weight", "7")
    page.screenshot(path=str(SHOTS / "web-window-groups-form.png"))
    page.click("#groups-form-cancel")
    form.wait_for(state="hidden")
    assert window_weights(server, "x-town", w2) == {"A": 3}
    page.close()
    clerk.close()


def test_county_manager_cannot_open_the_city(server: HallServer, browser: Any) -> None:
    page = browser.new_page(locale="zh-CN", timezone_id="Asia/Shanghai")
    page.set_default_timeout(TIMEOUT_MS)
    login(page, server, "m-county")
    assert page.eval_on_selector_all("#tree a", "els => els.map(e => e.dataset.hall)") == [
        "x-county",
        "x-town",
    ]
    token = page.evaluate("sessionStorage.getItem('hall_token')")
    r = requests.get(
        f"{server.api}/halls/x-city/stats", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert r.status_code == 403
    page.close()


def phone_page(browser: Any) -> Any:
    """A 390 px wide phone in zh_CN."""
    page = browser.new_page(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page.set_default_timeout(TIMEOUT_MS)
    return page


def test_phone_ticket_page_follows_the_call(server: HallServer, browser: Any) -> None:
    kiosk = Api(server, server.create_token("kiosk", "x-county"))
    w1 = window_id(server, "x-county", 1)
    clerk = Api(server, server.login("x-county-c1", "test-pass-1", w1)["token"])
    first = kiosk.post("/halls/x-county/tickets", {"service_code": "S-001", "channel": "kiosk"})
    mine = kiosk.post("/halls/x-county/tickets", {"service_code": "S-002", "channel": "kiosk"})
    page = phone_page(browser)
    page.goto(f"{server.base_url}/t/{mine['track_token']}")
    page.wait_for_function("t => document.getElementById('number').textContent === t", arg=mine["number"])
    page.wait_for_function("document.getElementById('ahead').textContent === '1 人'")
    assert "等候中" in page.inner_text("#status-line")
    # Where to go: queue A is served at windows 1 and 2 of the county hall.
    assert page.inner_text("#go-to").startswith("办理窗口：1–2号窗口")
    assert page.inner_text("#now-serving") == "—"
    assert not page.is_visible("#loading")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(SHOTS / "web-ticket-waiting.png"))
    clerk.post(f"/windows/{w1}/call-next")
    page.wait_for_function("document.getElementById('ahead').textContent === '0 人'")
    assert page.inner_text("#now-serving") == first["number"]
    page.screenshot(path=str(SHOTS / "track-ticket-390.png"), full_page=True)
    clerk.post(f"/windows/{w1}/no-show")
    clerk.post(f"/windows/{w1}/call-next")  # now this ticket: the page says where to go
    page.wait_for_function("document.getElementById('status-line').textContent.includes('请到1号窗口办理')")
    assert page.inner_text("#now-serving") == mine["number"]
    assert not page.is_visible("#cancel-ticket")  # called: no longer the visitor's to cancel
    page.screenshot(path=str(SHOTS / "web-ticket-called.png"))
    # An unknown link says only that the ticket is not found, not that it is still looking.
    page.goto(f"{server.base_url}/t/no-such-token")
    page.wait_for_selector("#not-found:not([hidden])")
    text = page.inner_text("main")
    assert "未找到该号票" in text and "正在查询" not in text and "本页自动刷新" not in text
    assert not page.is_visible("#ticket-card")
    page.screenshot(path=str(SHOTS / "track-unknown-390.png"), full_page=True)
    page.close()


def test_visitor_cancels_the_ticket_from_the_phone(server: HallServer, browser: Any) -> None:
    """The holder cancels (asked once more first); the ticket leaves the queue the dashboard shows."""
    kiosk = Api(server, server.create_token("kiosk", "x-county"))
    kiosk.post("/halls/x-county/tickets", {"service_code": "S-003", "channel": "kiosk"})
    mine = kiosk.post("/halls/x-county/tickets", {"service_code": "S-003", "channel": "kiosk"})
    board = browser.new_page(
        viewport={"width": 1400, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    board.set_default_timeout(TIMEOUT_MS)
    login(board, server, "m-county")
    board.click("#tree a[data-hall=x-county]")
    board.wait_for_selector("#groups tr[data-group=B] .waiting")
    waiting = int(board.inner_text("#groups tr[data-group=B] .waiting"))
    page = phone_page(browser)
    page.goto(f"{server.base_url}/t/{mine['track_token']}")
    page.wait_for_selector("#cancel-ticket:not([hidden])")
    assert page.inner_text("#go-to").startswith("办理窗口：2号窗口")
    # Keeping the place leaves everything as it was.
    page.click("#cancel-ticket")
    assert page.evaluate("document.activeElement.id") == "cancel-ticket-keep"
    page.click("#cancel-ticket-keep")
    assert (
        page.is_hidden("#cancel-confirm-box")
        and page.evaluate("document.activeElement.id") == "cancel-ticket"
    )
    page.click("#cancel-ticket")
    page.click("#cancel-ticket-confirm")
    page.wait_for_function("document.getElementById('status-line').textContent.includes('已取消')")
    assert page.evaluate("document.activeElement.id") == "status-line"
    assert page.is_hidden("#cancel-ticket") and page.inner_text("#go-to") == ""
    # The manager's dashboard sees the queue shorten without a reload; a second cancel is harmless.
    board.wait_for_function(
        "n => document.querySelector('#groups tr[data-group=B] .waiting').textContent === String(n)",
        arg=waiting - 1,
    )
    again = requests.post(f"{server.api}/track/{mine['track_token']}/cancel", timeout=30)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    page.close()
    board.close()


def qr_text(png: bytes) -> str:
    """The text of the QR code in a PNG (OpenCV's detector)."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return str(text)


def test_booking_errors_name_the_field_and_the_picker_says_what_is_pressed(
    server: HallServer, browser: Any
) -> None:
    page = phone_page(browser)
    page.goto(f"{server.base_url}/book/x-county")
    page.wait_for_selector("#days button:not([disabled])")
    assert page.get_attribute("#days", "role") == "group"
    assert page.evaluate("document.getElementById('days').getAttribute('aria-labelledby')") == "days-label"
    # Nothing chosen: the error names the day and the focus goes to the first free day.
    page.click("#submit")
    assert page.inner_text("#error").startswith("预约日期：请选择预约日期")
    assert page.evaluate("document.activeElement.dataset.day") is not None
    page.click("#days button:not([disabled]) >> nth=0")
    day = page.locator("#days button:not([disabled])").nth(0)
    assert day.get_attribute("aria-pressed") == "true"
    assert page.locator("#days button[aria-pressed=true]").count() == 1
    page.click("#submit")
    assert page.inner_text("#error").startswith("预约时段：")
    page.click("#slots button:not([disabled]) >> nth=0")
    assert page.locator("#slots button[aria-pressed=true]").count() == 1
    # A short ID number: named, marked invalid, focused; the booking is not sent.
    page.fill("#id_number", "1101011990")
    page.fill("#phone", "13800138000")
    page.click("#submit")
    assert page.inner_text("#error").startswith("身份证号码：应为18位")
    assert page.evaluate("document.activeElement.id") == "id_number"
    assert page.get_attribute("#id_number", "aria-invalid") == "true"
    # The server's refusal of a bad check digit is named the same way.
    page.fill("#id_number", ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1"))
    page.click("#submit")
    page.wait_for_function(
        "(t => t.startsWith('身份证号码：') && t.includes('校验'))(document.getElementById('error').textContent)"
    )
    page.fill("#id_number", ID_A)
    page.fill("#phone", "1380013")
    page.click("#submit")
    assert page.inner_text("#error").startswith("手机号码：应为11位手机号码")
    assert page.evaluate("document.activeElement.id") == "phone"
    assert page.get_attribute("#id_number", "aria-invalid") is None
    page.close()


def test_booking_page_at_phone_width(server: HallServer, browser: Any) -> None:
    page = browser.new_page(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{server.base_url}/book/x-city")
    page.wait_for_selector("#days button:not([disabled])")
    assert "测试市政务服务中心" in page.inner_text("#hall-name")
    page.click("#days button:not([disabled]) >> nth=0")
    page.click("#slots button:not([disabled]) >> nth=0")
    page.fill("#id_number", ID_A)
    page.fill("#name", "张三")
    page.fill("#phone", "13800138000")
    page.screenshot(path=str(SHOTS / "web-book-form.png"), full_page=True)
    page.click("#submit")
    page.wait_for_selector("#done:not([hidden])")
    code = page.inner_text("#code")
    assert len(code) == 8 and "1101**********4514" in page.inner_text("#summary")
    assert ID_A not in page.inner_text("#summary")
    # The confirmation stands alone: the picker does not reset into "choose a day" under it,
    # and the focus is on its heading (not dropped to the page body).
    assert "请先选择日期" not in page.inner_text("main") and not page.is_visible("#book-form")
    assert page.evaluate("document.activeElement.id") == "done-title"
    # Its QR carries the booking code, as a phone camera or the kiosk's scanner reads it.
    page.wait_for_function("document.getElementById('checkin-qr').complete")
    assert qr_text(page.locator("#checkin-qr").screenshot()) == code
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(SHOTS / "web-book-done.png"), full_page=True)
    page.screenshot(path=str(SHOTS / "book-confirmation-390.png"), full_page=True)
    # Booking twice on the same day is refused with the zh message.
    page.goto(f"{server.base_url}/book/x-city")
    page.wait_for_selector("#days button:not([disabled])")
    page.click("#days button:not([disabled]) >> nth=0")
    page.click("#slots button:not([disabled]) >> nth=1")
    page.fill("#id_number", ID_A)
    page.fill("#phone", "13800138000")
    page.click("#submit")
    page.wait_for_function("document.getElementById('error').textContent.includes('同一人每天只能预约一次')")
    # The error names the field it is about and the focus goes there.
    assert page.inner_text("#error").startswith("身份证号码：")
    assert page.evaluate("document.activeElement.id") == "id_number"
    assert page.get_attribute("#id_number", "aria-invalid") == "true"
    # The first booking is there for the portal API.
    r = requests.post(f"{server.api}/appointments/lookup", json={"code": code, "id_number": ID_A}, timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "booked"
    page.close()


def test_booking_page_cancels_with_the_code_texted_to_the_phone(server: HallServer, browser: Any) -> None:
    page = browser.new_page(viewport=PHONE, is_mobile=True, locale="zh-CN", timezone_id="Asia/Shanghai")
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{server.base_url}/book/x-city")
    page.wait_for_selector("#days button:not([disabled])")
    page.click("#days button:not([disabled]) >> nth=-1")
    page.click("#slots button:not([disabled]) >> nth=0")
    page.fill("#id_number", ID_B)
    page.fill("#phone", "13900139000")
    page.click("#submit")
    page.wait_for_selector("#done:not([hidden])")
    code = page.inner_text("#code")
    page.click("#cancel")
    page.wait_for_selector("#cancel-proof:not([hidden])")
    assert "139****9000" in page.inner_text("#cancel-msg")
    # A wrong code is refused with the zh message; the booking stays.
    page.fill("#cancel-code", "000000")
    page.click("#cancel-confirm")
    page.wait_for_function("document.getElementById('cancel-msg').textContent.includes('验证码')")
    # The phone receives the SMS (the outbox row the notifier sends); with that code it is cancelled.
    engine = create_engine(server.db_url)
    try:
        with engine.connect() as conn:
            text = conn.execute(
                sa_text(
                    "SELECT text FROM notify_outbox WHERE kind = 'appointment.cancel_code' ORDER BY id DESC"
                )
            ).scalar()
    finally:
        engine.dispose()
    texted = re.search(r"验证码(\d{6})", text or "")
    assert texted, text
    page.fill("#cancel-code", texted.group(1))
    page.click("#cancel-confirm")
    page.wait_for_function("document.getElementById('cancel-msg').textContent.includes('已取消')")
    r = requests.post(f"{server.api}/appointments/lookup", json={"code": code, "id_number": ID_B}, timeout=30)
    assert r.json()["status"] == "cancelled"
    page.close()


def test_an_ended_session_sends_the_manager_back_to_log_in(server: HallServer, browser: Any) -> None:
    page = browser.new_page(locale="zh-CN", timezone_id="Asia/Shanghai")
    page.set_default_timeout(TIMEOUT_MS)
    login(page, server, "m-county")
    page.click("#tree a[data-hall=x-county]")
    page.wait_for_function("document.getElementById('live').textContent.includes('实时')")
    # The session ends elsewhere (here: revoked, as at a password change or an expiry).
    token = page.evaluate("sessionStorage.getItem('hall_token')")
    r = requests.post(f"{server.api}/auth/logout", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 204
    page.click("#reload-stats")
    page.wait_for_selector("#login:not([hidden])")
    assert "令牌无效或已注销" in page.inner_text("#login-error")
    assert page.evaluate("sessionStorage.getItem('hall_token')") is None
    page.close()
