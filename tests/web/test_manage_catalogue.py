"""The managers' catalogue, rules and calendar pages and the big screen in a real browser (issue 12).

A city manager edits a service guide on the catalogue page; the kiosk's own code (its HallClient
and TicketPrinter) then prints the guide slip on a virtual ESC/POS printer, and the slip carries
the new text. A county manager sets the county hall's own place and phone, which only the county's
slip shows. The calendar editor stores a verified year; the rules page changes the display's
notices. On SQLite and on PostgreSQL (one real hall-server process each).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kiosk.api import HallClient
from kiosk.config import PrinterSettings
from kiosk.hardware import TicketPrinter
from printers.virtual import VirtualPrinter
from tests.fixtures.server import HallServer, hall_servers
from tests.hall_server.clock_app import PASSWORD, SEED
from tests.printers.conftest import decode_qr
from tests.web.support import PHONE, SHOTS, Api, login, new_page, window_id

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WALL = {"width": 1920, "height": 1080}
LEGAL = "《社会保险法》第五十八条；《社会保障卡管理办法》"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HallServer]:
    """One real hall-server process with the test city, on SQLite or on PostgreSQL."""
    tmp = tmp_path_factory.mktemp(f"manage-{request.param}")
    seed = tmp / "city.json"
    seed.write_text(json.dumps(SEED, ensure_ascii=False), encoding="utf-8")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp}/hall.sqlite3"
        cluster = None
    else:
        cluster = request.getfixturevalue("pg_server")
        url = cluster.url(cluster.create_database())
    with hall_servers() as factory:
        yield factory(url, tmp / "data", seed_file=seed, env={"HALL_EXT_WORKER_SECONDS": "60"})


@pytest.fixture
def slip_printer(tmp_path: Path) -> Iterator[VirtualPrinter]:
    vp = VirtualPrinter(port=0, out_dir=tmp_path / "vp", width_mm=80).start()
    try:
        yield vp
    finally:
        vp.stop()


def print_slip(server: HallServer, vp: VirtualPrinter, hall: str, hall_name: str) -> tuple[str, Path]:
    """The guide slip of S-001 as the kiosk of `hall` prints it: (its text, its page)."""
    client = HallClient(server.base_url, server.create_token("kiosk", hall))
    service = client.service("S-001", hall)
    settings = PrinterSettings(kind="network", target=f"127.0.0.1:{vp.port}", mode="text", width_mm=80)
    before = len(vp.documents)
    TicketPrinter(settings).print_guide(service, hall_name)
    pages = vp.wait_for_pages(before + 1)
    text = "\n".join(line.strip() for line in vp.documents[before].text_lines)
    return text, pages[before]


def shoot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / name), full_page=False)


def test_a_guide_edited_on_the_page_is_what_the_kiosk_prints(
    server: HallServer, browser: Any, slip_printer: VirtualPrinter, request: pytest.FixtureRequest
) -> None:
    before, _ = print_slip(server, slip_printer, "x-city", "测试市政务服务中心")
    assert LEGAL not in before
    page = new_page(browser, viewport=WALL)
    login(page, server, "m-city")
    page.goto(server.base_url + "/manage/catalogue?hall=x-city")
    page.click("tr[data-code='S-001'] button.edit")
    page.wait_for_selector("#editor:not([hidden])")
    assert page.locator("#owner-note").is_hidden()
    page.fill("#g-legal", LEGAL)
    page.fill("#g-conditions", "本市参保人员")
    page.fill("#g-department", "市人力资源和社会保障局")
    page.fill("#g-time-limit", "20")
    page.fill("#g-promise", "3")
    page.fill("#g-fee", "不收费")
    page.fill("#g-steps", "取号\n窗口受理\n制卡\n领卡")
    page.fill("#g-forms", "社会保障卡申领登记表")
    page.fill("#g-consult", "0827-12333")
    page.fill("#g-complaint", "0827-12345")
    page.fill("#g-online", "https://zwfw.example.gov.cn/sbk")
    page.click("#add-material")
    row = page.locator("#materials .material").last
    row.locator(".m-name").fill("居民身份证")
    row.locator(".m-orig").fill("1")
    row.locator(".m-copies").fill("2")
    page.click("#guide-save")
    page.wait_for_selector("#guide-msg.saved")
    assert "第 2 版" in page.inner_text("#guide-msg")
    assert page.locator("#versions li").count() == 2
    if request.node.callspec.params["server"] == "sqlite":
        shoot(page, "manage-catalogue.png")
        phone = new_page(browser, viewport=PHONE)
        login(phone, server, "m-city")
        phone.goto(server.base_url + "/manage/catalogue?hall=x-city")
        phone.click("tr[data-code='S-001'] button.edit")
        phone.wait_for_selector("#editor:not([hidden])")
        phone.locator("#editor").scroll_into_view_if_needed()
        shoot(phone, "manage-catalogue-390.png")
        phone.close()

    text, png = print_slip(server, slip_printer, "x-city", "测试市政务服务中心")
    flat = text.replace("\n", "")
    assert "居民身份证（原件1份、复印件2份）" in flat
    for shown in (
        LEGAL,
        "本市参保人员",
        "市人力资源和社会保障局",
        "社会保障卡申领登记表",
        "0827-12333",
        "0827-12345",
    ):
        assert shown in flat, shown
    bare = "".join(flat.split())  # the time-limit row is padded and wrapped on the slip
    assert "法定时限20个工作日，承诺3个工作日" in bare and "指南第2版" in flat
    assert decode_qr(png) == f"{server.base_url}/guide/S-001?hall=x-city"

    # The QR's page shows the same guide; the version of last month shows the old one.
    page.goto(f"{server.base_url}/guide/S-001?hall=x-city")
    page.wait_for_selector("#g-facts dd")
    assert LEGAL in page.inner_text("#g-facts") and "原件1份、复印件2份" in page.inner_text("#g-materials")
    page.goto(f"{server.base_url}/guide/S-001?at=2026-01-01")
    page.wait_for_selector("#g-version")
    page.wait_for_function("document.getElementById('g-title').textContent !== '正在加载… / Loading…'")
    assert LEGAL not in page.inner_text("body")
    page.close()


def test_a_county_sets_its_own_place_and_only_its_slip_shows_it(
    server: HallServer, browser: Any, slip_printer: VirtualPrinter
) -> None:
    page = new_page(browser)
    login(page, server, "m-county")
    page.goto(server.base_url + "/manage/catalogue?hall=x-county")
    page.click("tr[data-code='S-001'] button.edit")
    page.wait_for_selector("#editor:not([hidden])")
    assert page.locator("#owner-note").is_visible() and page.locator("#guide-save").is_disabled()
    assert (
        page.locator("#hall-pick option").all_inner_texts()[0].strip() == "测试县政务服务中心"
    )  # names, not ids
    page.fill("#h-location", "县政务服务中心一楼3号窗口")
    page.fill("#h-consult", "0827-5550000")
    page.click("#hall-save")
    page.wait_for_selector("#hall-msg.saved")
    assert "测试县政务服务中心" in page.inner_text("#hall-msg")
    county, _ = print_slip(server, slip_printer, "x-county", "测试县政务服务中心")
    city, _ = print_slip(server, slip_printer, "x-city", "测试市政务服务中心")
    assert "县政务服务中心一楼3号窗口" in county.replace("\n", "") and "0827-5550000" in county
    assert "县政务服务中心一楼3号窗口" not in city.replace("\n", "")
    page.close()


def test_the_calendar_editor_stores_a_verified_year(
    server: HallServer, browser: Any, request: pytest.FixtureRequest
) -> None:
    year = date.today().year + 1
    page = new_page(browser, viewport=WALL)
    login(page, server, "m-city")
    page.wait_for_selector("#cal-flag:not([hidden])")  # the dashboard flags the unverified years
    assert f"{year}年" in page.inner_text("#cal-flag")
    page.click("#cal-flag a")
    page.wait_for_selector("#holidays .holiday")
    page.select_option("#year", str(year))
    page.wait_for_function(
        "y => (document.querySelector('#holidays .h-days') || {}).value?.startsWith(y)", arg=str(year)
    )
    page.click("#add-holiday")
    row = page.locator("#holidays .holiday").last
    row.locator(".h-name").fill("本市解放纪念日")
    row.locator(".h-days").fill(f"{year}-03-10")
    page.fill("#source", "国办发明电〔2026〕号，已核对")
    page.check("#verified")
    page.click("#cal-save")
    page.wait_for_selector("#cal-msg.saved")
    assert "已核对" in page.inner_text("#cal-msg")
    stored = Api(server, server.login("m-city", PASSWORD)["token"]).get(f"/calendars/{year}")
    assert stored["verified"] and stored["origin"] == "database"
    assert any(h["name"] == "本市解放纪念日" and h["days"] == [f"{year}-03-10"] for h in stored["holidays"])
    if request.node.callspec.params["server"] == "sqlite":
        shoot(page, "manage-calendar.png")
        phone = new_page(browser, viewport=PHONE)
        login(phone, server, "m-city")
        phone.goto(server.base_url + "/manage/calendar")
        phone.wait_for_selector("#holidays .holiday")
        shoot(phone, "manage-calendar-390.png")
        phone.close()
    page.close()


def test_the_rules_page_changes_the_notices_live(
    server: HallServer, browser: Any, request: pytest.FixtureRequest
) -> None:
    page = new_page(browser, viewport=WALL)
    login(page, server, "m-county")
    page.goto(server.base_url + "/manage/rules?hall=x-county")
    page.wait_for_function("document.getElementById('am-start').value !== ''")
    page.fill("#notices", "本周六上午正常办公\n不动产业务请提前预约")
    page.fill("#recall-cap", "3")
    page.click("#rules-save")
    page.wait_for_selector("#rules-msg.saved")
    assert "测试县政务服务中心" in page.inner_text("#rules-msg")
    hall = server.hall("x-county")
    assert (
        hall["notices"] == ["本周六上午正常办公", "不动产业务请提前预约"]
        and hall["policy"]["recall_cap"] == 3
    )
    if request.node.callspec.params["server"] == "sqlite":
        shoot(page, "manage-rules.png")
        phone = new_page(browser, viewport=PHONE)
        login(phone, server, "m-county")
        phone.goto(server.base_url + "/manage/rules?hall=x-county")
        phone.wait_for_function("document.getElementById('am-start').value !== ''")
        shoot(phone, "manage-rules-390.png")
        phone.close()
    page.close()


def test_the_big_screen_shows_the_live_figures(
    server: HallServer, browser: Any, request: pytest.FixtureRequest
) -> None:
    kiosk = Api(
        server, server.create_token("kiosk", "x-city")
    )  # open all day (the county's hours were edited)
    for _ in range(3):
        kiosk.post("/halls/x-city/tickets", {"service_code": "S-001", "channel": "kiosk"})
    page = new_page(browser, viewport=WALL)
    login(page, server, "m-city")
    page.goto(server.base_url + "/bigscreen?hall=x-city")
    page.wait_for_function("document.getElementById('f-waiting').textContent !== '—'")
    assert int(page.inner_text("#f-waiting")) >= 3
    # The map of the halls below: city → county → township as a tree, each hall with its state in words.
    page.wait_for_selector("#bs-map li[data-hall=x-city] li[data-hall=x-county] li[data-hall=x-town] .node")
    city = page.locator("#bs-map li[data-hall=x-city] > .node")
    waiting = re.search(r"等候 (\d+) 人", city.inner_text())
    assert "测试市政务服务中心" in city.inner_text() and waiting and int(waiting.group(1)) >= 3
    assert "测试县政务服务中心" in page.inner_text("#bs-map li[data-hall=x-county] > .node")
    for node in page.locator("#bs-map .node").all():
        state = node.get_attribute("data-state")
        words = {"calm": "正常", "busy": "繁忙", "alert": "条告警"}[state]
        assert words in node.inner_text() and state in (node.get_attribute("class") or "")
    # Readable across a room: a hall's name is drawn at least 28 px high, and the tree fits the wall.
    assert page.eval_on_selector("#bs-map .node .name", "e => parseFloat(getComputedStyle(e).fontSize)") >= 28
    box = page.locator("#bs-map").bounding_box()
    assert (
        box is not None
        and box["x"] + box["width"] <= WALL["width"]
        and box["y"] + box["height"] <= WALL["height"]
    )
    assert page.inner_text("#bs-hall") == "测试市政务服务中心"
    if request.node.callspec.params["server"] == "sqlite":
        shoot(page, "bigscreen.png")
    page.close()


def test_the_dashboard_lists_the_priorities_clerks_removed(server: HallServer, browser: Any) -> None:
    kiosk = Api(server, server.create_token("kiosk", "x-city"))
    ticket = kiosk.post(
        "/halls/x-city/tickets", {"service_code": "S-003", "channel": "kiosk", "green_reason": "serviceman"}
    )
    clerk = Api(server, server.login("x-city-c2", PASSWORD, window_id(server, "x-city", 2))["token"])
    clerk.post(f"/tickets/{ticket['id']}/priority/remove", {"reason": "未能出示军官证"})
    page = new_page(browser)
    login(page, server, "m-city")
    page.click("#tree a[data-hall=x-city]")
    page.wait_for_selector("#removals td:has-text('未能出示军官证')")
    row = page.inner_text("#removals")
    assert ticket["number"] in row and "军人" in row and "综合窗口" in row and "李娜" in row
    assert "测试市政务服务中心" in row
    page.close()
