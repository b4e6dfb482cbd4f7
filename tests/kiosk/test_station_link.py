"""The village station's screen against a real station server and a real city server.

The city (`hall-server serve`, SQLite) registers the station (`hall-server station add`); the
station (`hall-server serve` with HALL_PARENT_URL, its own SQLite) reaches the city through a real
TCP fault proxy. With the link refused the station keeps serving: a ticket issued at the village
screen is called at its clerk tab, and the notice above the tabs says the link is down with the
records waiting; with the link back the records go up and the notice goes away. No mocks.

HALL_SCREENSHOTS_DIR=docs/screenshots refreshes docs/screenshots/village-link-down.png.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from PySide6 import QtGui
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from tests.fixtures.postgres import sqlite_url
from tests.fixtures.server import SMALL_SEED, HallServer, hall_servers, prepare_database, run_cli
from tests.kiosk.helpers import HALL, Role, make_config
from tests.support.netfault import FaultProxy
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

STATION = "st-xinqiao"
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
SIZE = (1920, 1080)  # the village station's screen (const.DESIGN_WIDTH x DESIGN_HEIGHT)


def village_seed(path: Path) -> Path:
    """The small test hall as a village station's hall under a city hall."""
    data = json.loads(SMALL_SEED.read_text(encoding="utf-8"))
    hall = data["halls"][0]
    city = {
        **{k: v for k, v in hall.items() if k not in ("groups", "windows", "clerks", "notices")},
        "id": "t-city",
        "name": "测试市政务服务中心",
        "short_name": "市中心",
        "level": "city",
        "parent": None,
        "groups": [],
        "windows": [],
        "clerks": [],
    }
    hall.update({"name": "新桥村便民服务站", "short_name": "新桥村", "level": "village", "parent": "t-city"})
    data["halls"] = [city, hall]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@dataclass
class Pair:
    city: HallServer
    station: HallServer
    proxy: FaultProxy
    kiosk_token: str
    rating_token: str
    window_id: int

    def link(self) -> dict[str, Any]:
        r = requests.get(
            self.station.api + "/sync/link",
            headers={"Authorization": f"Bearer {self.kiosk_token}"},
            timeout=10,
        )
        r.raise_for_status()
        return r.json()

    def city_stations(self) -> list[dict[str, Any]]:
        r = requests.get(
            self.city.api + "/stations",
            headers={"Authorization": f"Bearer {self.city.login('manager', 'test-pass-m')['token']}"},
            timeout=10,
        )
        r.raise_for_status()
        return r.json()["stations"]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    """A city server, a station registered there, and the station's server reaching it by the proxy."""
    env = {"HALL_DATA_KEY": KEY, "HALL_WORKER_SECONDS": "0", "HALL_AUDIT_VERIFY_SECONDS": "0"}
    with hall_servers() as factory:
        city_db = sqlite_url(tmp_path / "city")
        prepare_database(city_db, tmp_path / "city", village_seed(tmp_path / "seed.json"), env)
        forget_seed_events(tmp_path / "city" / "hall.db", HALL)
        bundle = tmp_path / "bundle.json"
        run_cli(
            *("station", "add", STATION, "--halls", HALL, "--name", "新桥村", "--out", str(bundle)),
            db_url=city_db,
            data_dir=tmp_path / "city",
            env=env,
        )
        city = factory(city_db, tmp_path / "city", env=env, prepare=False)
        kiosk = city.create_token("kiosk", HALL)
        window = next(w for w in city.hall(HALL, kiosk)["windows"] if w["number"] == 2)
        rating = city.create_token("rating", HALL, window["id"])
        with FaultProxy(("127.0.0.1", city.port)) as proxy:
            station_env = {
                **env,
                "HALL_PARENT_URL": proxy.url,
                "HALL_STATION_ID": STATION,
                "HALL_STATION_CREDENTIAL_FILE": str(bundle),
                "HALL_SYNC_SECONDS": "0.3",
                "HALL_SYNC_TIMEOUT_S": "2",
            }
            station = factory(
                sqlite_url(tmp_path / "station"), tmp_path / "station", env=station_env, prepare=True
            )
            p = Pair(city, station, proxy, kiosk, rating, int(window["id"]))
            # The first round brings the hall, its staff and the device tokens down.
            wait_until(lambda: _ok(p), 60, 0.2, "the station's first sync")
            yield p


def forget_seed_events(db: Path, hall: str) -> None:
    """Drop the hall.updated record the seed wrote for the station's hall: `station add` of the sync
    core (c0d0581) takes only a hall without events at the city (the station starts its log at 1)."""
    with sqlite3.connect(db) as conn:
        streams = (hall, f"audit:{hall}")
        conn.execute("DELETE FROM events WHERE hall_id IN (?, ?)", streams)
        conn.execute("DELETE FROM hall_seq WHERE hall_id IN (?, ?)", streams)


def _op(qtbot: Any, term: Any, op: str, body: dict[str, Any] | None = None) -> Any:
    with qtbot.waitSignal(term.op_finished, timeout=20000) as sig:
        term.do_op(op, body)
    return sig.args[1]


def _ok(p: Pair) -> bool:
    try:
        link = p.link()
    except requests.RequestException:
        return False
    return link["state"] == "ok" and link["waiting"] == 0


def labels_that_do_not_fit(root: QWidget) -> tuple[list[QLabel], list[str]]:
    """(the visible labels looked at, those whose text is wider or taller than their rectangle)."""
    seen, bad = [], []
    for lab in root.findChildren(QLabel):
        if not lab.isVisible() or not lab.text() or not lab.pixmap().isNull():
            continue
        seen.append(lab)
        if (
            lab.wordWrap()
            or lab.textFormat() == Qt.TextFormat.RichText
            or QtGui.Qt.mightBeRichText(lab.text())
        ):
            # Qt lays these out itself: they fit when their rectangle is as tall as their text needs.
            if lab.heightForWidth(lab.width()) > lab.height():
                bad.append(f"{lab.objectName() or type(lab).__name__} {lab.text()!r}: wrapped, cut off")
            continue
        fm = lab.fontMetrics()
        rect = lab.contentsRect()
        lines = lab.text().split("\n")
        wide = max(fm.horizontalAdvance(line) for line in lines)
        tall = fm.height() * len(lines)
        if wide > rect.width() or tall > rect.height() + 1:
            bad.append(f"{lab.objectName() or type(lab).__name__} {lab.text()!r}: {wide}x{tall} in {rect}")
    return seen, bad


def test_village_station_shows_the_city_link_down_keeps_serving_and_clears_when_back(
    qtbot: Any, themed_qapp: Any, pair: Pair, tmp_path: Path
) -> None:
    cfg = make_config(
        "village",
        pair.station.base_url,
        tmp_path / "village",
        token=pair.kiosk_token,
        tokens={"rating": pair.rating_token},
        window_id=pair.window_id,
        username="clerk2",
        password="test-pass-2",
        link_poll_s=0.5,
    )
    station = Role(qtbot, cfg, size=SIZE)
    try:
        s = station.widget
        station.wait_ready(qtbot)
        qtbot.waitUntil(lambda: s.clerk.pages.currentWidget() is s.clerk.work_page, timeout=20000)
        # All well: no notice; the clerk's header says when the station last synced.
        qtbot.waitUntil(lambda: s.clerk.synced.text().startswith("✓ 已同步"), timeout=10000)
        assert not s.link_banner.isVisible()

        pair.proxy.refuse()  # the city can no longer be reached
        qtbot.waitUntil(lambda: "与市中心的连接已中断" in s.link_banner.text(), timeout=30000)
        assert "本站业务照常办理" in s.link_banner.text()
        assert not s.clerk.synced.isVisible()

        # The station keeps serving: a ticket at the kiosk tab ...
        s.show_tab("visitor")
        qtbot.waitUntil(lambda: "T-001" in s.visitor.service_buttons, timeout=20000)
        issued: list[dict[str, Any]] = []
        s.visitor.ticket_issued.connect(issued.append)
        s.visitor.choose_service(next(x for x in s.visitor.services if x.code == "T-001"))
        s.visitor.issue_anonymous()
        qtbot.waitUntil(lambda: len(issued) == 1, timeout=20000)
        # ... the notice counts it among the records waiting for the city.
        waiting = re.compile(r"(\d+) 条记录等待上传")
        qtbot.waitUntil(lambda: bool(waiting.search(s.link_banner.zh.text())), timeout=20000)
        count = int(waiting.search(s.link_banner.zh.text()).group(1))  # type: ignore[union-attr]
        assert count >= 1 and f"{count} record" in s.link_banner.en.text()
        # ... and the clerk tab (unlocked by the clerk's password) opens its window and calls it.
        s.show_tab("clerk")
        assert s.unlock(s.ctx.config.password or "")
        if s.clerk.window is None or s.clerk.window.status != "open":
            assert _op(qtbot, s.clerk, "open")["status"] == "open"
        called = _op(qtbot, s.clerk, "call_chosen", {"ticket_id": issued[0].id})
        assert getattr(called, "id", None) == issued[0].id, called
        s.show_tab("visitor")
        qtbot.wait(1500)  # the call is counted too
        # Every label of the screen, the notice's two lines among them, fits its rectangle.
        QWidget.repaint(s)
        seen, bad = labels_that_do_not_fit(s)
        assert bad == [] and s.link_banner.zh in seen and s.link_banner.en in seen
        shots = os.environ.get("HALL_SCREENSHOTS_DIR")
        if shots:
            s.grab().save(str(Path(shots) / "village-link-down.png"))
        assert pair.link()["waiting"] >= count

        pair.proxy.pass_through()  # the link is back: the records go up, the notice goes away
        qtbot.waitUntil(lambda: not s.link_banner.isVisible(), timeout=90000)
        assert pair.link()["state"] == "ok"
        qtbot.waitUntil(lambda: s.clerk.synced.text().startswith("✓ 已同步"), timeout=10000)
        (row,) = [r for r in pair.city_stations() if r["id"] == STATION]
        assert row["applied"][HALL] >= 2 and not row["silent"]
    finally:
        station.close()
