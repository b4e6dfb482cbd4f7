"""The managers' pages in headless Chromium against a real server, on SQLite and PostgreSQL (issue 12):
create a clerk, roster them, give their window a zone (B区), they log in at their window and are
refused at another, a manager hands the window over; a device is registered, enrols by its code,
and is revoked; a county manager sees only their subtree. Screenshots of each page at 1920x1080 and at 390 px."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.fixtures.server import HallServer, hall_servers
from tests.hall_server.clock_app import SEED
from tests.web.support import SHOTS, login, new_page, window_id

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HALL = "x-county"
NEW_PW = "Strong-Pass-2026"
FULL_HD = {"width": 1920, "height": 1080}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HallServer]:
    """One real hall-server process with the test city, on each database."""
    tmp = tmp_path_factory.mktemp("web-manage")
    seed = tmp / "city.json"
    seed.write_text(json.dumps(SEED, ensure_ascii=False), encoding="utf-8")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp}/hall.sqlite3"
    else:
        pg = request.getfixturevalue("pg_server")
        url = pg.url(pg.create_database())
    with hall_servers() as factory:
        srv = factory(url, tmp / "data", seed_file=seed, env={"HALL_EXT_WORKER_SECONDS": "0"})
        srv.db_kind = request.param  # type: ignore[attr-defined]
        yield srv


def _clerk_login(server: HallServer, username: str, window: int, password: str = NEW_PW) -> requests.Response:
    body = {"username": username, "password": password, "window_id": window_id(server, HALL, window)}
    return requests.post(server.api + "/auth/login", json=body, timeout=30)


def _shots(page: Any, server: HallServer, name: str) -> None:
    """The page at 1920x1080 and its forms at 390 px (committed once, from the SQLite run)."""
    if server.db_kind != "sqlite":  # type: ignore[attr-defined]
        return
    page.set_viewport_size(FULL_HD)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SHOTS / f"{name}-390.png"), full_page=True)
    # Nothing sticks out sideways at a phone's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    page.set_viewport_size(FULL_HD)


def _flash(page: Any, text: str) -> str:
    page.wait_for_selector(f"#flash:has-text('{text}')")
    return page.inner_text("#flash")


def test_a_manager_runs_staff_roster_and_devices(server: HallServer, browser: Any) -> None:
    page = new_page(browser, viewport=FULL_HD)
    login(page, server, "m-county")
    # -- staff: create a clerk of the county; the city's staff are out of sight.
    page.click("#manage-nav a[href='/manage/staff']")
    page.wait_for_selector("#staff tr[data-username='x-county-c1']")
    page.select_option("#hall", HALL)
    assert page.locator("#staff tr[data-username='x-city-c1']").count() == 0
    page.fill("#s-name", "周九")
    page.fill("#s-username", "x-county-c9")
    page.select_option("#s-role", "clerk")
    page.select_option("#s-hall", HALL)
    page.fill("#s-password", NEW_PW)
    page.click("#s-save")
    assert "已新增：周九" in _flash(page, "已新增")
    page.wait_for_selector("#staff tr[data-username='x-county-c9']")
    body = page.inner_text("main")
    assert "测试县政务服务中心" in body and "x-county" not in body.replace("x-county-c", "")
    _shots(page, server, "manage-staff")
    # -- roster: 周九 at window 1 all day today.
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    if local.strftime("%H:%M") >= "23:58":  # the roster line below ends at 23:59
        time.sleep(180)
    page.click("#manage-nav a[href='/manage/roster']")
    page.select_option("#hall", HALL)
    page.wait_for_selector("#r-clerk option:has-text('周九')", state="attached")
    page.select_option("#r-clerk", label="周九（x-county-c9）")
    page.select_option("#r-window", label="1号窗口 社保窗口")
    page.fill("#r-starts", "00:00")
    page.fill("#r-ends", "23:59")
    page.click("#r-save")
    saved = _flash(page, "已保存排班")
    assert "周九" in saved and "测试县政务服务中心 · 1号窗口 社保窗口" in saved
    page.wait_for_selector("#roster td:has-text('周九')")
    # The window's zone: typed in its row and saved; the hall's windows carry it from then on.
    page.fill("#zone-1", "B区")
    page.click("#zones tr[data-window='1'] button:has-text('保存分区')")
    assert "已保存分区：1号窗口 社保窗口 · B区" in _flash(page, "已保存分区")
    hall = requests.get(f"{server.api}/halls/{HALL}", timeout=30).json()
    assert {w["number"]: w["zone"] for w in hall["windows"]}[1] == "B区"
    # The clerk logs in at their window, and is refused at another; another clerk is refused at theirs.
    r = _clerk_login(server, "x-county-c9", 1)
    assert r.status_code == 200, r.text
    clerk_token = {"Authorization": f"Bearer {r.json()['token']}"}
    r = _clerk_login(server, "x-county-c9", 2)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.not_rostered"
    assert "社保窗口" in r.json()["error"]["message"]
    r = _clerk_login(server, "x-county-c1", 1, password="test-pass-1")
    assert r.status_code == 409 and r.json()["error"]["code"] == "auth.window_occupied"
    assert "周九" in r.json()["error"]["message"]
    # The manager sees who sits where and hands the window over.
    page.reload()
    page.select_option("#hall", HALL)
    page.wait_for_selector("#sitting td:has-text('周九')")
    _shots(page, server, "manage-roster")
    page.click("#sitting button:has-text('交接窗口')")
    assert "已交接" in _flash(page, "已交接")
    assert requests.get(server.api + "/auth/me", headers=clerk_token, timeout=30).status_code == 401
    # -- devices: register a kiosk, the machine enrols by its code, the manager revokes it.
    page.click("#manage-nav a[href='/manage/devices']")
    page.select_option("#hall", HALL)
    page.select_option("#e-role", "kiosk")
    page.fill("#e-label", "一楼取号机")
    page.click("#e-save")
    _flash(page, "已登记")
    code = page.inner_text("#e-code").strip()
    assert len(code) == 9 and code[4] == "-"
    r = requests.post(server.api + "/devices/enrol", json={"code": code, "device_id": "kiosk-1f"}, timeout=30)
    assert r.status_code == 201, r.text
    device = {"Authorization": f"Bearer {r.json()['token']}"}
    issued = requests.post(
        f"{server.api}/halls/{HALL}/tickets", json={"service_code": "S-001"}, headers=device, timeout=30
    )
    assert issued.status_code == 201, issued.text
    page.reload()
    page.select_option("#hall", HALL)
    row = page.locator("#tokens tr[data-label='一楼取号机']")
    row.wait_for()
    assert "在用" in row.inner_text()
    _shots(page, server, "manage-devices")
    row.locator("button:has-text('注销')").click()
    assert "已注销：一楼取号机" in _flash(page, "已注销")
    page.wait_for_selector("#tokens tr[data-label='一楼取号机']:has-text('已注销')")
    again = requests.post(
        f"{server.api}/halls/{HALL}/tickets", json={"service_code": "S-001"}, headers=device, timeout=30
    )
    assert again.status_code == 401
    # No database ids and no event numbers on the managers' screens.
    text = page.inner_text("main")
    assert "token_id" not in text and "seq" not in text
    page.close()


def test_a_county_manager_cannot_reach_the_citys_staff(server: HallServer, browser: Any) -> None:
    page = new_page(browser)
    login(page, server, "m-county")
    page.goto(server.base_url + "/manage/staff")
    page.wait_for_selector("#staff tr[data-username='x-county-c1']")
    options = page.eval_on_selector_all("#hall option", "els => els.map(e => e.value)")
    assert set(options) == {"x-county", "x-town"}
    m_city = requests.post(
        server.api + "/auth/login", json={"username": "m-city", "password": "test-pass-1"}, timeout=30
    ).json()["token"]
    city = requests.get(
        server.api + "/staff", headers={"Authorization": f"Bearer {m_city}"}, timeout=30
    ).json()
    c1 = next(s for s in city if s["username"] == "x-city-c1")
    token = page.evaluate("sessionStorage.getItem('hall_token')")
    r = requests.patch(
        f"{server.api}/staff/{c1['id']}",
        json={"active": False},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "staff.unknown"
    page.close()
