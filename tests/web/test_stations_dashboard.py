"""The city's dashboard shows its stations (issue 11): a badge in the hall tree for a station with a
problem (in words), the 站点同步 panel, and the station.silent alert. A real hall-server process and
Debian's chromium; the stations talk to it over the real sync protocol (pull, push with their
credentials), one is revoked with `hall-server station revoke`, one never calls.

HALL_SCREENSHOTS_DIR=docs/screenshots refreshes docs/screenshots/web-dashboard-stations.png.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from hall_server.db.engine import Database
from hall_server.db.models import Appointment, AppointmentAttendance, AppointmentSlot, Ticket
from hall_server.events import append_event, last_seq
from tests.fixtures.server import HallServer, hall_servers, prepare_database, run_cli
from tests.hall_server.clock_app import SEED, _hall
from tests.web.support import SHOTS, login, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# (hall id, hall name, station id, station name)
VILLAGES = [
    ("x-vil-1", "新桥村便民服务站", "st-xinqiao", "新桥村"),  # registered, never synced
    ("x-vil-2", "石桥村便民服务站", "st-shiqiao", "石桥村"),  # behind: 37 records waiting, 7 min
    ("x-vil-3", "柳湾村便民服务站", "st-liuwan", "柳湾村"),  # revoked
    ("x-vil-4", "清水村便民服务站", "st-qingshui", "清水村"),  # all well
]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HallServer, dict[str, str]]]:
    """The test city with four village halls under its township, each owned by a station."""
    tmp = tmp_path_factory.mktemp("web-stations")
    data = json.loads(json.dumps(SEED))
    data["halls"] += [_hall(hid, name, "village", "x-town") for hid, name, _, _ in VILLAGES]
    seed = tmp / "city.json"
    seed.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    db_url, data_dir = f"sqlite:///{tmp}/hall.sqlite3", tmp / "data"
    prepare_database(db_url, data_dir, seed)
    with sqlite3.connect(tmp / "hall.sqlite3") as conn:
        # The seed's record of each village hall: the sync core adopts only a hall without events.
        for hid, *_ in VILLAGES:
            conn.execute("DELETE FROM events WHERE hall_id IN (?, ?)", (hid, f"audit:{hid}"))
            conn.execute("DELETE FROM hall_seq WHERE hall_id IN (?, ?)", (hid, f"audit:{hid}"))
    credentials = {}
    for hid, _, sid, sname in VILLAGES:
        out = run_cli(
            "station", "add", sid, "--halls", hid, "--name", sname, db_url=db_url, data_dir=data_dir
        )
        credentials[sid] = json.loads(out.stdout.strip().splitlines()[-1])["credential"]
    run_cli("station", "revoke", "st-liuwan", db_url=db_url, data_dir=data_dir)
    with hall_servers() as factory:
        yield factory(db_url, data_dir, prepare=False), credentials


def report(server: HallServer, credential: str, station_id: str, waiting: int, lag_s: float) -> None:
    """One sync round of a station: pull the configuration, push (no records) with its backlog."""
    h = {"Authorization": f"Bearer {credential}"}
    pulled = requests.get(server.api + "/sync/pull", headers=h, timeout=30)
    assert pulled.status_code == 200, pulled.text
    body = {
        "station_id": station_id,
        "epoch": f"epoch-{station_id}",
        "waiting": waiting,
        "lag_s": lag_s,
        "config_version": pulled.json()["config_version"],
    }
    pushed = requests.post(server.api + "/sync/push", json=body, headers=h, timeout=30)
    assert pushed.status_code == 200, pushed.text


def test_dashboard_marks_station_halls_lists_stations_and_alerts_on_silence(
    city: tuple[HallServer, dict[str, str]], browser: Any
) -> None:
    server, credentials = city
    report(server, credentials["st-shiqiao"], "st-shiqiao", waiting=37, lag_s=420)
    report(server, credentials["st-qingshui"], "st-qingshui", waiting=0, lag_s=0)
    page = new_page(browser)
    try:
        login(page, server, "m-city")
        # The tree: a badge in words after each hall whose station has a problem.
        badge = lambda hall: page.locator(f'#tree a[data-hall="{hall}"] .station-badge')  # noqa: E731
        badge("x-vil-1").filter(has_text="从未同步").wait_for()
        assert badge("x-vil-2").inner_text() == "同步滞后"
        assert badge("x-vil-3").inner_text() == "授权已撤销"
        assert badge("x-vil-4").count() == 0 and badge("x-town").count() == 0
        assert "error" in (badge("x-vil-1").get_attribute("class") or "")
        assert "新桥村" in (badge("x-vil-1").get_attribute("title") or "")

        # The panel: every station with last contact, records waiting, lag, config version, state.
        row = lambda sid: page.locator(f'#stations tr[data-station="{sid}"]')  # noqa: E731
        assert page.locator("#stations-card").is_visible()
        assert page.locator("#stations tr[data-station]").count() == len(VILLAGES)
        never = row("st-xinqiao")
        assert never.locator(".last-contact").inner_text().startswith("从未")
        assert never.locator(".station-state").inner_text() == "从未同步 / never synced"
        behind = row("st-shiqiao")
        assert behind.locator(".last-contact").inner_text().startswith("刚刚")
        assert behind.locator(".waiting").inner_text() == "37"
        assert behind.locator(".lag").inner_text() == "7 分钟"
        assert behind.locator(".station-state").inner_text() == "同步滞后 / behind"
        assert "石桥村便民服务站" in behind.inner_text()
        assert row("st-liuwan").locator(".station-state").inner_text() == "授权已撤销 / revoked"
        well = row("st-qingshui")
        assert well.locator(".station-state").inner_text() == "正常 / ok"
        assert well.locator("td").nth(5).inner_text() not in ("", "—")  # the configuration it applied

        # The alert: on the city's hall (the stations are below it) and on the village's own.
        page.click('#tree a[data-hall="x-city"]')
        silent = page.locator('#alerts .alert[data-code="station.silent"]')
        silent.filter(has_text="站点新桥村（st-xinqiao）从未联系").wait_for()
        assert silent.count() == 1  # the revoked one is not watched, the others called just now
        assert "critical" in (silent.get_attribute("class") or "")
        page.screenshot(path=str(SHOTS / "web-dashboard-stations.png"), full_page=False)

        page.click('#tree a[data-hall="x-vil-1"]')
        page.locator('#alerts .alert[data-code="station.silent"]', has_text="新桥村").wait_for()
        assert "从未同步" in page.locator("#hall-station").inner_text()
    finally:
        page.close()


def test_live_view_of_a_station_hall_shows_the_citys_own_events(
    city: tuple[HallServer, dict[str, str]], browser: Any
) -> None:
    """A station's hall open on the city's dashboard: an event the city records about it (on its
    stream "<hall>@city", here written by another process of the city) appears in the live feed."""
    server, _ = city
    page = new_page(browser)
    try:
        login(page, server, "m-city")
        page.click('#tree a[data-hall="x-vil-4"]')
        page.locator('#live[data-city-stream="open"]').wait_for()
        assert page.locator('#feed li[data-type="followup.step"]').count() == 0
        db = Database(server.db_url, pool_size=1)
        try:
            with db.write() as s:
                append_event(
                    s, "x-vil-4", "followup.step", {"case_id": 1, "step": "verified", "text": "已核实"}
                )
            with db.read() as s:
                assert last_seq(s, "x-vil-4@city") >= 1  # the city's stream, not the station's log
        finally:
            db.dispose()
        step = page.locator('#feed li[data-type="followup.step"]')
        step.wait_for()
        assert "整改进度" in step.inner_text() and "已核实" in step.inner_text()
        # Another hall (no station) opens no city stream.
        page.click('#tree a[data-hall="x-town"]')
        page.wait_for_function("() => !document.querySelector('#live').dataset.cityStream")
    finally:
        page.close()


# Counts the tones the page starts through the Web Audio API (the page's own AudioContext).
AUDIO_SPY = """
window.__tones = 0;
const RealAudioContext = window.AudioContext;
window.AudioContext = class extends RealAudioContext {
  createOscillator() {
    const osc = super.createOscillator();
    const start = osc.start.bind(osc);
    osc.start = (...args) => { window.__tones += 1; return start(...args); };
    return osc;
  }
};
"""


def push_rows(
    server: HallServer, credential: str, station_id: str, rows: dict[str, list[dict[str, Any]]]
) -> None:
    """A station's push of row images only (as its sync loop sends them)."""
    body = {"station_id": station_id, "epoch": f"epoch-{station_id}", "rows": rows}
    r = requests.post(
        server.api + "/sync/push", json=body, headers={"Authorization": f"Bearer {credential}"}, timeout=30
    )
    assert r.status_code == 200, r.text


def test_a_stations_staff_call_is_a_city_alert_that_flashes_and_sounds_once(
    city: tuple[HallServer, dict[str, str]], browser: Any
) -> None:
    """呼叫工作人员 at a village's kiosk comes up with the station's records: the city's dashboard
    lists it among the hall's alerts, flashing, with two tones played once; it is answered at the
    station (no 已处理 here), and the station's acknowledgement takes it away."""
    server, credentials = city
    cred = credentials["st-qingshui"]
    page = new_page(browser)
    page.add_init_script(AUDIO_SPY)
    try:
        login(page, server, "m-city")
        page.click('#tree a[data-hall="x-vil-4"]')
        page.locator("#alerts").filter(has_text="无告警").wait_for()
        assert page.evaluate("window.__tones") == 0

        call_id = uuid.uuid4().hex
        row = {"id": call_id, "hall_id": "x-vil-4", "token_id": 1, "device_name": "大厅入口取号机",
               "requested_at": datetime.now(UTC).isoformat()}  # fmt: skip
        push_rows(server, cred, "st-qingshui", {"staff_calls": [row]})
        alert = page.locator(f'#alerts .staff-call[data-call="{call_id}"]')
        alert.wait_for()  # the dashboard reads the alerts again within seconds
        assert "大厅入口取号机：群众呼叫工作人员" in alert.inner_text()
        assert alert.locator(".at-station").inner_text().startswith("由站点工作人员处理")
        assert alert.locator("button").count() == 0
        assert "ringing" in (alert.get_attribute("class") or "")
        assert page.evaluate("window.__tones") == 2  # the chime: two tones

        # Answered at the station: its acknowledgement comes up and the alert goes, without
        # another sound on the readings in between.
        acked = {**row, "acknowledged_at": datetime.now(UTC).isoformat(), "acknowledged_by": "x-vil-4-c1"}
        push_rows(server, cred, "st-qingshui", {"staff_calls": [acked]})
        page.locator("#alerts").filter(has_text="无告警").wait_for()
        assert page.evaluate("window.__tones") == 2
    finally:
        page.close()


def test_booking_conflicts_table_shows_a_cancelled_booking_the_station_checked_in(
    city: tuple[HallServer, dict[str, str]], browser: Any
) -> None:
    """预约冲突: a booking the city cancelled that the village's station checked in meanwhile
    (its link was down) is listed in the 站点同步 panel in Chinese, the visitor masked, with the
    station's ticket; the page offers no action on it (the manager settles it with the visitor)."""
    server, _ = city
    now = datetime.now(UTC)
    day = now.date()
    station_no = 4  # st-qingshui, the fourth station added
    ticket_id = station_no * 10**10 + 7
    db = Database(server.db_url, pool_size=1)
    try:
        with db.write() as s:
            slot = AppointmentSlot(hall_id="x-vil-4", service_code="S-001", day=day, start="09:00", end="09:30",
                                   capacity=5, booked=0)  # fmt: skip
            s.add(slot)
            s.flush()
            booking = Appointment(
                code="CONF0001", hall_id="x-vil-4", service_code="S-001", slot_id=slot.id, day=day,
                start_at=now.replace(hour=1, minute=0), end_at=now.replace(hour=1, minute=30),
                status="cancelled", channel="web", id_hmac="f" * 64, id_enc=b"\x00", id_masked="3301**********1234",
                name_masked="张*", created_at=now, cancelled_at=now.replace(hour=0, minute=40),
            )  # fmt: skip
            s.add(booking)
            s.add(
                Ticket(
                    id=ticket_id,
                    hall_id="x-vil-4",
                    business_day=day,
                    prefix="A",
                    seq=7,
                    number="A007",
                    group_prefix="A",
                    service_code="S-001",
                    status="finished",
                    priority=True,
                    channel="kiosk",
                    issued_at=now.replace(hour=1, minute=2),
                    track_token="conflict-ticket-7",
                )
            )
            s.flush()
            s.add(AppointmentAttendance(appointment_id=booking.id, hall_id="x-vil-4", status="checked_in",
                                        ticket_id=ticket_id, at=now.replace(hour=1, minute=2)))  # fmt: skip
            booking_id = booking.id
    finally:
        db.dispose()
    page = new_page(browser)
    try:
        login(page, server, "m-city")
        box = page.locator("#conflicts-box")
        box.wait_for()
        assert box.is_visible()
        assert box.locator("h3").inner_text().startswith("预约冲突")
        heads = [h.split(" ")[0] for h in page.locator("#conflicts th").all_inner_texts()]
        assert heads == ["大厅", "日期", "群众", "取消于", "站点签到", "站点号票"]
        row = page.locator(f'#conflicts tr[data-appointment="{booking_id}"]')
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == "清水村便民服务站"
        assert cells[1].startswith(day.isoformat()) and cells[1].endswith("09:00")
        assert cells[2] == "张* 3301**********1234"  # masked, never the ID number
        assert cells[3] == "08:40" and cells[4] == "09:02"  # Beijing time
        assert cells[5] == "A007"
        assert row.locator("button, a, input").count() == 0  # nothing to press: settled with the visitor
    finally:
        page.close()
