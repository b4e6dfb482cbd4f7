"""QR codes held up to the kiosk's camera, end to end against a real hall server.

The simulated camera (`present:FILE`) shows whatever picture is held in front of it: the tests
render the very QR images the server hands out (the managers' enrolment QR, the booking
confirmation's QR) and hold them up; the kiosk grabs frames and decodes them in its task pool.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from devices.camera.qr import qr_frame
from kiosk.config import PrinterSettings
from kiosk.ui.enrol import FirstStart
from kiosk.ui.visitor import VisitorKiosk
from tests.fixtures.postgres import sqlite_url
from tests.fixtures.server import SMALL_SEED, HallServer, hall_servers
from tests.kiosk.helpers import HALL, Role, make_config

pytestmark = pytest.mark.timeout(300)

LEFT = Qt.MouseButton.LeftButton
ZONE = ZoneInfo("Asia/Shanghai")
ID_NUMBER = "110101199003074514"
PHONE = "13800138000"


def hold_up(where: Path, svg: str | bytes) -> None:
    """Hold an SVG QR (as the server renders it) in front of the simulated camera: a 640×480 frame
    of a grey wall with the code on white paper, written whole (the camera never sees half a file)."""
    data = svg if isinstance(svg, bytes) else svg.encode("utf-8")
    renderer = QSvgRenderer(QByteArray(data))
    assert renderer.isValid()
    frame = QImage(640, 480, QImage.Format.Format_RGB888)
    frame.fill(QColor(90, 90, 90))
    painter = QPainter(frame)
    painter.fillRect(QRectF(130, 50, 380, 380), QColor("white"))
    painter.setClipRect(QRectF(140, 60, 360, 360))  # the SVG's own background may spill over
    renderer.render(painter, QRectF(140, 60, 360, 360))
    painter.end()
    _write(where, frame)


def hold_up_text(where: Path, text: str) -> None:
    """Hold up a QR code of any text (a ticket's link, a shop's code …)."""
    import cv2

    part = where.with_suffix(".part.png")
    cv2.imwrite(str(part), qr_frame(text))
    os.replace(part, where)


def _write(where: Path, frame: QImage) -> None:
    part = where.with_suffix(".part.png")
    assert frame.save(str(part), "PNG")
    os.replace(part, where)


def shoot_held(qtbot: Any, scanner: Any, widget: Any, held: Path, svg: str | bytes, name: str) -> None:
    """Hold the QR up, and with HALL_SCREENSHOTS_DIR set, save the screen showing it in the preview
    first (the scanner holds back meanwhile: the code is acted on only after the picture)."""
    shots = os.environ.get("HALL_SCREENSHOTS_DIR")
    if shots:
        scanner.hold(True)
    hold_up(held, svg)
    if shots:
        seen = scanner.frames_shown
        qtbot.waitUntil(lambda: scanner.frames_shown > seen + 3, timeout=20000)
        assert widget.grab().save(str(Path(shots) / name), "PNG")
        scanner.hold(False)


def svg_of_data_uri(uri: str) -> bytes:
    head, _, body = uri.partition(",")
    assert head == "data:image/svg+xml;base64"
    return base64.b64decode(body)


def manager_headers(server: HallServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.login('manager', 'test-pass-m')['token']}"}


def new_enrolment(server: HallServer, label: str) -> dict[str, Any]:
    r = requests.post(
        f"{server.api}/halls/{HALL}/enrolments",
        json={"role": "kiosk", "label": label},
        headers=manager_headers(server),
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def clock_server(tmp_path: Path) -> Iterator[HallServer]:
    """A hall server of its own (its clock gets moved), on SQLite with the small seed hall."""
    with hall_servers() as factory:
        yield factory(sqlite_url(tmp_path / "db"), tmp_path / "data", seed_file=SMALL_SEED)


def move_clock(server: HallServer, to: datetime) -> None:
    """Restart the server with its clock at `to` (and running on from there)."""
    server.env["HALL_CLOCK_OFFSET_S"] = str((to - datetime.now(UTC)).total_seconds())
    server.restart()


def test_first_start_enrols_by_scanning_the_managers_qr(qtbot, themed_qapp, kserver, tmp_path):
    enrolment = new_enrolment(kserver.server, "扫码登记的取号机")
    held = tmp_path / "held.png"
    cfg = make_config("visitor", kserver.url, tmp_path / "k", camera=f"present:{held}")
    machine = Role(qtbot, cfg)
    try:
        first = machine.widget
        assert isinstance(first, FirstStart)
        scanner = first.enrol.scanner
        assert "请将设备登记二维码对准摄像头" in scanner.prompt.text()
        assert first.enrol.keys["A"].isVisible()  # the typed code stays at hand
        qtbot.waitUntil(lambda: scanner.frames_shown > 2, timeout=20000)  # live preview of the wall
        assert not scanner.preview.pixmap().isNull()
        # The manage page's own QR image.
        shoot_held(qtbot, scanner, first, held, enrolment["qr_svg"], "kiosk-enrol-scan.png")
        qtbot.waitUntil(lambda: first.screen is not None, timeout=30000)
        visitor = first.screen
        assert isinstance(visitor, VisitorKiosk)
        qtbot.waitUntil(lambda: visitor.is_ready and "T-001" in visitor.service_buttons, timeout=30000)
        assert visitor.pages.currentWidget() is visitor.home
        kept = json.loads((tmp_path / "k" / "enrolled.json").read_text(encoding="utf-8"))
        assert kept["hall"] == HALL and kept["role"] == "visitor" and kept["token"]
        assert (tmp_path / "k" / "enrolled.json").stat().st_mode & 0o077 == 0
        reg = requests.get(
            f"{kserver.server.api}/halls/{HALL}/device-registry",
            headers=manager_headers(kserver.server),
            timeout=30,
        ).json()
        assert any(t["label"] == "扫码登记的取号机" and not t["revoked"] for t in reg["tokens"])
    finally:
        machine.close()


def test_a_wrong_qr_is_named_and_the_typed_code_still_enrols(qtbot, themed_qapp, kserver, tmp_path):
    enrolment = new_enrolment(kserver.server, "键入登记码的评价器")
    held = tmp_path / "held.png"
    machine = Role(qtbot, make_config("visitor", kserver.url, tmp_path / "k", camera=f"present:{held}"))
    try:
        first = machine.widget
        enrol = first.enrol
        qtbot.waitUntil(lambda: enrol.scanner.frames_shown > 0, timeout=20000)
        hold_up_text(held, "http://hall.example/t/not-an-enrolment")  # a ticket's phone link
        qtbot.waitUntil(lambda: "不是设备登记二维码" in enrol.status.text(), timeout=20000)
        assert first.screen is None and not (tmp_path / "k" / "enrolled.json").exists()
        # Typed on the big keys, with the dash people copy from the page.
        for ch in enrolment["code"].replace("-", ""):
            qtbot.mouseClick(enrol.keys[ch], LEFT)
        assert enrol.code.text() == enrolment["code"].replace("-", "")
        qtbot.mouseClick(enrol.submit_btn, LEFT)
        qtbot.waitUntil(lambda: first.screen is not None, timeout=30000)
        qtbot.waitUntil(lambda: first.screen.is_ready, timeout=30000)
        assert isinstance(first.screen, VisitorKiosk)
    finally:
        machine.close()


def test_an_expired_code_and_a_server_down_leave_the_screen_usable(
    qtbot, themed_qapp, clock_server, tmp_path
):
    stale = new_enrolment(clock_server, "过期的登记码")
    move_clock(clock_server, datetime.now(UTC) + timedelta(hours=25))  # codes last 24 hours
    fresh = new_enrolment(clock_server, "新的登记码")
    held = tmp_path / "held.png"
    cfg = make_config("visitor", clock_server.base_url, tmp_path / "k", camera=f"present:{held}")
    machine = Role(qtbot, cfg)
    try:
        first = machine.widget
        enrol = first.enrol
        qtbot.waitUntil(lambda: enrol.scanner.frames_shown > 0, timeout=20000)
        hold_up(held, stale["qr_svg"])
        qtbot.waitUntil(lambda: "已过期" in enrol.status.text(), timeout=30000)
        assert "重新生成登记码" in enrol.status.text() and first.screen is None
        # The server goes away: the scan is answered in words, and the code is not used up.
        held.unlink()
        clock_server.stop()
        hold_up(held, fresh["qr_svg"])
        qtbot.waitUntil(lambda: "无法连接" in enrol.status.text(), timeout=90000)
        assert first.screen is None and enrol.scanner.active
        clock_server.restart()
        # Still held up: the scanner tries again by itself and the machine enrols.
        qtbot.waitUntil(lambda: first.screen is not None, timeout=90000)
        qtbot.waitUntil(lambda: first.screen.is_ready, timeout=30000)
        assert isinstance(first.screen, VisitorKiosk)
    finally:
        machine.close()


def test_booking_qr_check_in_prints_the_ticket(qtbot, themed_qapp, clock_server, vprinter, tmp_path):
    api = clock_server.api
    slots = requests.get(
        f"{api}/halls/{HALL}/appointment-slots", params={"service_code": "T-001"}, timeout=30
    )
    assert slots.status_code == 200, slots.text
    day = date.fromisoformat(slots.json()["days"][0]["day"])
    body = {
        "service_code": "T-001",
        "day": day.isoformat(),
        "start": "10:00",
        "id_number": ID_NUMBER,
        "phone": PHONE,
        "name": "张三",
        "channel": "web",
    }
    booked = requests.post(f"{api}/halls/{HALL}/appointments", json=body, timeout=30)
    assert booked.status_code == 201, booked.text
    booking = booked.json()
    # The morning of the booking, five minutes after its slot began.
    move_clock(clock_server, datetime.combine(day, time(10, 5), tzinfo=ZONE).astimezone(UTC))
    kiosk_token = clock_server.create_token("kiosk", HALL)
    held = tmp_path / "held.png"
    cfg = make_config(
        "visitor",
        clock_server.base_url,
        tmp_path / "v",
        token=kiosk_token,
        camera=f"present:{held}",
        printer=PrinterSettings("network", f"127.0.0.1:{vprinter.port}", "text", 80),
    )
    visitor = Role(qtbot, cfg)
    try:
        visitor.wait_ready(qtbot)
        v = visitor.widget
        qtbot.mouseClick(v.findChild(type(v.anon_btn), "checkin-scan"), LEFT)
        page = v.scan_page
        assert v.pages.currentWidget() is page and page.scanner.active
        assert "二维码对准摄像头" in page.scanner.prompt.text()
        qtbot.waitUntil(lambda: page.scanner.frames_shown > 0, timeout=20000)
        with qtbot.waitSignal(v.ticket_issued, timeout=30000) as issued:
            # The booking page's QR.
            shoot_held(
                qtbot,
                page.scanner,
                v,
                held,
                svg_of_data_uri(booking["checkin_qr"]),
                "visitor-checkin-scan.png",
            )
        ticket = issued.args[0]
        assert ticket.checkin.status == "ok" and ticket.checkin.appointment_code == booking["code"]
        assert ticket.appointment_id == str(booking["id"])
        assert v.pages.currentWidget() is v.ticket_page and v.t_number.text() == ticket.number
        assert not page.scanner.active  # the camera is let go once the ticket is out
        vprinter.wait_for_pages(1, timeout=30)
        printed = "\n".join(vprinter.documents[-1].text_lines)
        assert ticket.number in printed
        listed = requests.get(
            f"{api}/halls/{HALL}/appointments",
            params={"day": day.isoformat()},
            headers=manager_headers(clock_server),
            timeout=30,
        ).json()
        assert [a["status"] for a in listed if a["code"] == booking["code"]] == ["checked_in"]
        # Another visitor holds up something else: said in words, and nothing is printed.
        held.unlink()
        v.go_home()
        qtbot.mouseClick(v.findChild(type(v.anon_btn), "checkin-scan"), LEFT)
        assert page.scanner.active and not page.status.isVisible()
        hold_up_text(held, "hall-enrol:http://x#ABCD-EFGH")  # the managers' enrolment QR
        qtbot.waitUntil(lambda: "不是预约确认二维码" in page.status.text(), timeout=20000)
        # The page's own words are Chinese only, in English after 中/EN like the other visitor pages.
        assert "QR code" not in page.status.text()
        v.toggle_english()
        assert page.status.text().startswith("This is not a booking QR code")
        assert v.findChild(type(v.anon_btn), "scan-back").text() == "Back"
        v.toggle_english()
        assert "不是预约确认二维码" in page.status.text()
        assert v.findChild(type(v.anon_btn), "scan-back").text() == "返回首页"
        assert v.pages.currentWidget() is page and len(vprinter.pages) == 1
        # The booking's QR again (a second scan): the same ticket, not a second one.
        held.unlink()
        with qtbot.waitSignal(v.ticket_issued, timeout=30000) as again:
            hold_up(held, svg_of_data_uri(booking["checkin_qr"]))
        assert again.args[0].id == ticket.id and again.args[0].number == ticket.number
    finally:
        visitor.close()
