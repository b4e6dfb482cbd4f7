"""The hall display of a city hall (市民之家: 60 windows in four zones, 16 queues) at 1080p and 720p:
text at the size read across the hall, every label whole, the clock clear of the badge; the windows
that are serving grouped by zone (no pages of 空闲); a call at window 37 in sight at once and while
its call is shown; 请 X 号准备 names the next ticket after a call. Waiting counts page (第1/3页)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QLabel, QWidget

from kiosk import const
from kiosk.config import DisplaySettings, KioskConfig, VoiceSettings, load_config
from kiosk.errors import ConfigError, KioskError
from tests.fixtures.postgres import sqlite_url
from tests.fixtures.server import SMALL_SEED, HallServer, hall_servers
from tests.kiosk.helpers import Role
from tests.kiosk.test_screen_fit import assert_fits

pytestmark = [pytest.mark.timeout(180)]

HALL = "big-hall"
WINDOWS = 60
# 16 queues of a city hall; I and O are not used as prefixes (they read as 1 and 0).
GROUPS = [
    ("A", "综合受理"),
    ("B", "不动产登记"),
    ("C", "企业开办"),
    ("D", "社保医保"),
    ("E", "出入境"),
    ("F", "户籍"),
    ("G", "税务"),
    ("H", "车驾管"),
    ("J", "水电气"),
    ("K", "公积金"),
    ("L", "婚姻登记"),
    ("M", "住房保障"),
    ("N", "民政残联"),
    ("P", "工程建设"),
    ("Q", "交通运输"),
    ("R", "市场监管"),
]
ZONES = ("A区", "B区", "C区", "D区")  # 15 windows each, in number order
CLERKS = [(f"clerk{i}", f"test-pass-{i}") for i in range(1, 15)]
# Windows with a ticket in hand while the tests run (three or four per zone), and the one called last.
SERVING = (1, 2, 3, 8, 16, 17, 20, 31, 33, 46, 50, 59)
CALLED = 37
SIZE = (1280, 720)
SIZES = [SIZE, (1920, 1080)]
SIZE_IDS = ["1280x720", "1920x1080"]


def group_of(window_number: int) -> str:
    """The prefix a window serves: the 16 queues round-robin over the 60 windows."""
    return GROUPS[(window_number - 1) % len(GROUPS)][0]


def zone_of(window_number: int) -> str:
    return ZONES[(window_number - 1) // 15]


def write_big_seed(path: Path) -> Path:
    """A seed file with one hall of 60 windows in 4 zones and 16 groups (one service each)."""
    base = json.loads(SMALL_SEED.read_text(encoding="utf-8"))
    template = base["services"][0]
    services = [
        {**template, "code": f"BIG-{prefix}", "name": f"{name}业务办理", "category": name}
        for prefix, name in GROUPS
    ]
    hall = dict(base["halls"][0])
    hall.update(
        id=HALL,
        name="测试市民之家",
        short_name="市民之家",
        groups=[{"prefix": p, "name": n, "services": [f"BIG-{p}"]} for p, n in GROUPS],
        windows=[
            {
                "number": i,
                "name": f"{dict(GROUPS)[group_of(i)]}窗口",
                "kind": "specialised",
                "zone": zone_of(i),
                "groups": {group_of(i): 1},
            }
            for i in range(1, WINDOWS + 1)
        ],
        clerks=[{"username": u, "name": f"窗口人员{u[5:]}", "password": pw} for u, pw in CLERKS],
    )
    seed = {**base, "services": services, "halls": [hall], "managers": [], "admins": base["admins"]}
    path.write_text(json.dumps(seed, ensure_ascii=False), encoding="utf-8")
    return path


@dataclass
class BigHall:
    """The running server of the large hall with its device tokens, windows by number, and the
    clerks logged in at the serving windows (window number -> client)."""

    server: HallServer
    display_token: str
    kiosk_token: str
    windows: dict[int, dict[str, Any]]
    clerks: dict[int, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.base_url

    def config(self, data_dir: Path, page_seconds: float = const.DISPLAY_PAGE_S) -> KioskConfig:
        return KioskConfig(
            role="display",
            hall=HALL,
            server=self.url,
            token=self.display_token,
            data_dir=str(data_dir),
            voice=VoiceSettings(repeats=1, chime=False, speaker="none"),
            display=DisplaySettings(page_seconds=page_seconds),
        )

    def clerk(self, number: int) -> Any:
        """A clerk logged in at the window (the next free clerk account)."""
        from kiosk.api import HallClient

        if number not in self.clerks:
            user, pw = CLERKS[len(self.clerks)]
            c = HallClient(self.url)
            c.login(user, pw, self.windows[number]["id"])
            self.clerks[number] = c
        return self.clerks[number]

    def call(self, number: int, tickets: int = 1) -> Any:
        """Issue `tickets` of the window's queue and call the first there; the called ticket."""
        from kiosk.api import HallClient

        kiosk = HallClient(self.url, self.kiosk_token)
        try:
            for _ in range(tickets):
                kiosk.issue_ticket(HALL, f"BIG-{group_of(number)}")
        finally:
            kiosk.close()
        return self.clerk(number).call_next(self.windows[number]["id"])


def serve(hall: BigHall) -> Iterator[BigHall]:
    """The SERVING windows each with a ticket in hand; afterwards every ticket is marked no-show."""
    try:
        for n in SERVING:
            hall.call(n)
        yield hall
    finally:
        for n, c in hall.clerks.items():
            with contextlib.suppress(KioskError):  # no ticket in hand any more
                c.window_op(hall.windows[n]["id"], "no-show")
            c.close()
        hall.clerks.clear()


@pytest.fixture(scope="module")
def big_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigHall]:
    data = tmp_path_factory.mktemp("big-hall")
    seed = write_big_seed(data / "seed.json")
    with hall_servers() as factory:
        srv = factory(sqlite_url(data), data / "data", seed_file=seed)
        display = srv.create_token("display", HALL)
        kiosk = srv.create_token("kiosk", HALL)
        windows = {w["number"]: w for w in srv.hall(HALL, kiosk)["windows"]}
        yield from serve(BigHall(srv, display, kiosk, windows))


@pytest.fixture
def screen(request: pytest.FixtureRequest, qapp: Any) -> Iterator[tuple[int, int]]:
    """Theme the application for the screen size (1280x720 unless parametrized) as the CLI would;
    back to the 1080p scale afterwards."""
    from kiosk.ui.theme import apply_theme, fit_scale

    size: tuple[int, int] = getattr(request, "param", SIZE)
    apply_theme(qapp, fit_scale(*size))
    yield size
    apply_theme(qapp, 1.0)


def open_display(
    qtbot: Any,
    hall: BigHall,
    tmp_path: Path,
    speaker: Any = None,
    page_seconds: float = 120,
    size: tuple[int, int] = SIZE,
) -> Role:
    """The display; pages turn every page_seconds (long by default: the tests turn them)."""
    role = Role(qtbot, hall.config(tmp_path / "display", page_seconds), speaker, size=size)
    role.wait_ready(qtbot)
    d = role.widget
    qtbot.waitUntil(lambda: len(d.windows) == WINDOWS and len(d.groups) == len(GROUPS), timeout=20000)
    return role


def tile_numbers(labels: list[QLabel]) -> list[int]:
    """Window numbers of the tiles shown, top to bottom and left to right ("12号  A001" -> 12)."""
    ordered = sorted(labels, key=lambda lab: (lab.y(), lab.x()))
    return [int(lab.text().split("号", 1)[0]) for lab in ordered]


def assert_readable(labels: list[QLabel], where: str) -> None:
    """Tiles at the readable size, none cut (Chinese text needs its full width and height)."""
    assert labels, f"{where}: nothing shown"
    for lab in labels:
        assert lab.font().pixelSize() >= const.DISPLAY_MIN_TILE_PX, f"{where}: {lab.text()!r} too small"
    assert_labels_fit(labels, where)


def assert_labels_fit(labels: list[QLabel], where: str) -> None:
    """Each label's text fits its rectangle (a wrapped one: its height for its width)."""
    for lab in labels:
        hint = lab.sizeHint()
        need_h = lab.heightForWidth(lab.width()) if lab.wordWrap() else hint.height()
        fits = (lab.wordWrap() or lab.width() >= hint.width()) and lab.height() >= need_h
        assert fits, f"{where}: {lab.text()!r} cut to {lab.width()}x{lab.height()} < {hint.width()}x{need_h}"


def text_labels(root: QWidget) -> list[QLabel]:
    """Every visible label of the screen that shows text."""
    return [lab for lab in root.findChildren(QLabel) if lab.isVisible() and lab.text()]


def box(widget: QWidget, root: QWidget) -> QRect:
    return QRect(widget.mapTo(root, QPoint(0, 0)), widget.size())


def zone_layout(d: Any) -> dict[str, list[int]]:
    """The windows on screen under each zone heading, top to bottom."""
    grid = d.win_grid
    heads = grid.headings()
    out: dict[str, list[int]] = {h.text(): [] for h in heads}
    for lab in sorted(grid.labels(), key=lambda lab: (lab.y(), lab.x())):
        above = [h for h in heads if h.y() < lab.y()]
        assert above, f"{lab.text()!r} shown above every zone heading"
        out[above[-1].text()].append(int(lab.text().split("号", 1)[0]))
    return out


@pytest.mark.parametrize("screen", SIZES, ids=SIZE_IDS, indirect=True)
def test_serving_windows_show_grouped_by_zone_readable_and_whole(
    qtbot: Any, screen: tuple[int, int], big_hall: BigHall, tmp_path: Path
) -> None:
    role = open_display(qtbot, big_hall, tmp_path, size=screen)
    d = role.widget
    grid = d.win_grid
    try:
        qtbot.waitUntil(
            lambda: sum(1 for w in d.windows.values() if w.current) >= len(SERVING), timeout=20000
        )
        # Not every window fits: the idle ones (空闲) are left out, not paged through.
        assert grid.idle_left_out and d.win_title.text() == const.DISPLAY_WINDOWS_SERVING
        seen: list[int] = []
        for page in range(grid.pages):
            assert grid.page == page
            qtbot.wait(50)
            assert_fits(d, *screen, f"windows page {page + 1}")
            assert_readable(grid.labels(), f"windows page {page + 1}")
            assert_labels_fit(text_labels(d), f"every label, windows page {page + 1}")
            assert all("空闲" not in lab.text() for lab in grid.labels())
            # Under each zone heading only that zone's windows, in number order.
            for zone, numbers in zone_layout(d).items():
                assert numbers and all(zone_of(n) == zone for n in numbers), (zone, numbers)
                assert numbers == sorted(numbers)
            seen += tile_numbers(grid.labels())
            grid.turn_page()
        serving = sorted(w.number for w in d.windows.values() if w.current)
        assert sorted(set(seen)) == serving and set(SERVING) <= set(serving)
        # Only the window of the call on screen is on more than one page (on every one).
        pinned = next(w.number for w in d.windows.values() if w.id == grid.pinned)
        assert {n for n in seen if seen.count(n) > 1} <= {pinned}
        # Every zone's serving windows together, zones in order (A区 first).
        by_zone = [zone_of(n) for n in seen if n != pinned]
        assert by_zone == sorted(by_zone)
        # The text is the size read across the hall, at this screen's scale.
        tile_px = grid.labels()[0].font().pixelSize()
        assert tile_px == max(round(const.DISPLAY_TILE_PX * screen[1] / 1080), const.DISPLAY_MIN_TILE_PX)
        assert d.recent_cells[0][0].font().pixelSize() == tile_px
    finally:
        role.close()


@pytest.mark.parametrize("screen", SIZES, ids=SIZE_IDS, indirect=True)
def test_the_clock_stays_clear_of_the_badge_and_every_label_fits(
    qtbot: Any, screen: tuple[int, int], big_hall: BigHall, tmp_path: Path
) -> None:
    role = open_display(qtbot, big_hall, tmp_path, size=screen)
    d = role.widget
    try:
        # The link drops: the badge (only shown for a problem) comes up beside the clock. (The live
        # channel would say "online" again at its next message: it is held silent meanwhile.)
        role.ctx.events.blockSignals(True)
        qtbot.wait(100)  # what the channel said before is delivered first
        role.ctx.events.blockSignals(False)
        role.ctx.events.online_changed.emit(False)
        role.ctx.events.blockSignals(True)
        # A long hall name and an error line take their room too.
        d.title.set_full_text("巴中市巴州区政务服务中心（市民之家）东区综合大厅 · 叫号信息")
        d.message.show_error(
            KioskError("网络中断，正在重新连接服务器，请稍候再试", "reconnecting"), seconds=0
        )
        qtbot.waitUntil(lambda: d.badge.isVisible())
        qtbot.wait(100)  # the event loop lays the line out again with the badge in it
        assert_fits(d, *screen, "offline")
        assert d.badge.isVisible() and d.badge.text().startswith("⚠")
        clock, badge, title = box(d.clock, d), box(d.badge, d), box(d.title, d)
        assert not clock.intersects(badge), f"clock {clock} overlaps badge {badge}"
        assert not title.intersects(clock), f"title {title} overlaps clock {clock}"
        assert d.badge.isVisible() and clock.right() < badge.left() and d.rect().contains(badge)
        assert d.title.text().endswith("…") and d.title.toolTip().startswith("巴中市")
        assert_labels_fit(text_labels(d), "offline, long hall name")
        for grid in (d.group_grid, d.win_grid):
            for _ in range(grid.pages):
                assert_labels_fit(text_labels(d), f"{grid.objectName()} page {grid.page + 1}")
                grid.turn_page()
        role.ctx.events.blockSignals(False)
        role.ctx.events.online_changed.emit(True)
        d.message.clear_message()
        qtbot.waitUntil(lambda: not d.badge.isVisible())
    finally:
        role.close()


def test_a_call_at_window_37_is_in_sight_at_once_and_while_its_call_is_shown(
    qtbot: Any, screen: tuple[int, int], big_hall: BigHall, tmp_path: Path, speaker: Any
) -> None:
    role = open_display(qtbot, big_hall, tmp_path, speaker)
    d = role.widget
    announcer = role.ctx.extras["announcer"]
    grid = d.win_grid
    win = big_hall.windows[CALLED]
    try:
        qtbot.waitUntil(
            lambda: sum(1 for w in d.windows.values() if w.current) >= len(SERVING), timeout=20000
        )
        assert grid.pages > 1, "the serving windows fit one page: the test needs more"
        assert not grid.is_visible_key(win["id"])  # idle: not shown at all before its call
        ticket = big_hall.call(CALLED)
        qtbot.waitUntil(lambda: ticket.number in d.shown_calls, timeout=20000)
        # At once, on the page shown now, under its zone, with the new number.
        assert ticket.number in d.call_label.text() and f"{CALLED} 号窗口" in d.call_label.text()
        texts = [lab.text() for lab in grid.labels()]
        assert f"{CALLED}号  {ticket.number}" in texts, texts
        assert CALLED in zone_layout(d)[zone_of(CALLED)]
        # Pages turn; the window stays in sight on every one while its call is the one shown.
        for page in range(grid.pages):
            assert f"{CALLED}号  {ticket.number}" in [lab.text() for lab in grid.labels()], f"page {page + 1}"
            assert_fits(d, *SIZE, f"page {page + 1} with the call")
            for zone, numbers in zone_layout(d).items():
                assert all(zone_of(n) == zone for n in numbers) and numbers == sorted(numbers)
            grid.turn_page()
        # The snapshot after the call keeps it pinned; 最近叫号 does not repeat the call on top.
        qtbot.wait(800)
        assert grid.is_visible_key(win["id"])
        assert ticket.number not in [num.text() for num, _ in d.recent_cells]
        assert announcer.wait_idle(60)
        assert [a.text for a in announcer.spoken].count(f"请{ticket.number}号到{CALLED}号窗口办理") == 1
    finally:
        role.close()


def test_the_next_ticket_in_line_is_named_after_a_call(
    qtbot: Any, screen: tuple[int, int], big_hall: BigHall, tmp_path: Path
) -> None:
    role = open_display(qtbot, big_hall, tmp_path)
    d = role.widget
    number = 5  # queue E, nobody waiting in any queue before
    try:
        qtbot.waitUntil(lambda: d.next_label.text() == "", timeout=20000)
        called = big_hall.call(number, tickets=2)
        prefix = group_of(number)
        waiting = [t for t in big_hall.clerk(number).tickets(HALL, status="waiting") if t.group == prefix]
        assert len(waiting) == 1 and waiting[0].number != called.number
        qtbot.waitUntil(lambda: d.next_label.text() == f"请 {waiting[0].number} 号准备", timeout=20000)
        assert called.number in d.call_label.text()
        qtbot.wait(50)  # the line is laid out again for its new text
        assert_labels_fit([d.next_label], "next line")
        assert d.next_label.font().pixelSize() >= const.DISPLAY_MIN_TILE_PX
        # Its turn: called in its turn, the line empties (nobody else waits).
        big_hall.clerk(number).window_op(big_hall.windows[number]["id"], "no-show")
        big_hall.clerk(number).call_next(big_hall.windows[number]["id"])
        qtbot.waitUntil(lambda: d.next_label.text() == "", timeout=20000)
    finally:
        role.close()


def test_group_pages_turn_by_themselves_on_the_configured_interval(
    qtbot: Any, screen: tuple[int, int], big_hall: BigHall, tmp_path: Path
) -> None:
    role = open_display(qtbot, big_hall, tmp_path, page_seconds=2)
    d = role.widget
    try:
        grid = d.group_grid
        assert grid.timer.interval() == 2000 and grid.pages > 1
        first = [lab.text() for lab in grid.labels()]
        with qtbot.waitSignal(grid.page_changed, timeout=6000) as sig:
            pass
        assert sig.args == [1, grid.pages]
        assert set(first).isdisjoint(lab.text() for lab in grid.labels() if lab.property("role") == "tile")
        assert grid.indicator.text() == f"第2/{grid.pages}页"
        # Every queue on some page, in order, each page readable.
        seen: list[str] = []
        grid.page = grid.pages - 1
        grid.turn_page()
        for page in range(grid.pages):
            labels = grid.labels()
            assert_readable(labels, f"groups page {page + 1}")
            seen += [lab.text().split(" ", 1)[0] for lab in labels if lab.property("role") == "tile"]
            grid.turn_page()
        assert seen == [p for p, _ in GROUPS]
    finally:
        role.close()


def test_display_page_seconds_in_the_config_file_and_flags(tmp_path: Path) -> None:
    f = tmp_path / "display.toml"
    f.write_text('role = "display"\n[display]\npage_seconds = 12\n', encoding="utf-8")
    assert load_config(f).display.page_seconds == 12
    assert load_config(f, {"display_page_seconds": 5}).display.page_seconds == 5
    assert load_config(None).display.page_seconds == const.DISPLAY_PAGE_S


@pytest.mark.parametrize("content", ["[display]\npage_seconds = 0.5\n", '[display]\npage_seconds = "8"\n'])
def test_a_bad_page_interval_is_a_clear_chinese_error(tmp_path: Path, content: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert "翻页间隔" in err.value.message_zh


@pytest.fixture
def small_grid(qtbot: Any, themed_qapp: Any) -> Any:
    """A bare PagedGrid sized for two rows of two items: ten items make three pages (4, 4, 2)."""
    from kiosk.ui.paging import GridItem, PagedGrid

    grid = PagedGrid(60_000, col_gap=10, row_gap=4, part_gap=6)
    qtbot.addWidget(grid)
    items = [GridItem(i, ((f"{i + 1}号", "tile"), ("空闲", "tile"))) for i in range(10)]
    grid.set_items(items)
    cell = grid.cell_size()
    grid.resize(2 * cell.width() + 10, 2 * cell.height() + 4)
    grid.show()
    qtbot.waitUntil(lambda: grid.pages == 3)
    return grid


def shown_keys(grid: Any) -> list[int]:
    return [item.key for item in grid.visible_items()]


def test_grid_pages_in_order_and_wraps_round(small_grid: Any) -> None:
    g = small_grid
    assert (g.cols, g.per_page) == (2, 4) and shown_keys(g) == [0, 1, 2, 3]
    assert g.indicator.text() == "第1/3页" and not g.indicator.isHidden() and g.timer.isActive()
    for expected in ([4, 5, 6, 7], [8, 9], [0, 1, 2, 3]):
        g.turn_page()
        assert shown_keys(g) == expected
    # Nothing outside the grid; the hidden labels of a short page are hidden, not left over.
    rect = g.rect()
    assert all(rect.contains(lab.geometry()) for lab in g.labels())
    g.turn_page()
    g.turn_page()
    assert len(g.labels()) == 4 and [lab.text() for lab in g.labels()] == ["9号", "空闲", "10号", "空闲"]


def test_grid_shows_the_pages_of_changed_items_next_in_their_order(small_grid: Any) -> None:
    g = small_grid
    g.want(9)  # on the last page
    g.want(5)  # on the middle page
    g.want(1)  # on screen now: nothing to do
    g.turn_page()
    assert g.page == 2 and 9 in shown_keys(g)
    g.turn_page()
    assert g.page == 1 and 5 in shown_keys(g)
    g.turn_page()
    assert g.page == 2  # back to plain rotation
    # A wanted item that is gone by the turn is dropped; the page stays through a refresh of the items.
    g.want(0)
    g.set_items([it for it in g.items if it.key != 0])
    assert g.page == 2
    g.turn_page()
    assert g.page == 0 and shown_keys(g)[0] == 1


def test_grid_on_one_page_hides_the_indicator_and_stops_turning(small_grid: Any) -> None:
    g = small_grid
    items = list(g.items)
    g.turn_page()
    g.set_items(items[:4])
    assert (g.pages, g.page) == (1, 0) and g.indicator.isHidden() and not g.timer.isActive()
    g.want(3)
    g.turn_page()
    assert shown_keys(g) == [0, 1, 2, 3]
    g.set_items(items)
    assert g.pages == 3 and g.timer.isActive() and not g.indicator.isHidden()
    # More room (a larger screen): all ten on one page, in rows of two as before.
    g.resize(g.width(), g.height() * 3)
    assert (g.pages, g.cols) == (1, 2) and shown_keys(g) == list(range(10)) and g.indicator.isHidden()


def _screenshots(out_dir: Path) -> None:
    """Render the 60-window hall display (four zones, the serving windows, window 37 called last,
    people waiting) at 1080p and 720p to out_dir."""
    import tempfile

    from kiosk.api import HallClient

    with tempfile.TemporaryDirectory() as tmp, hall_servers() as factory:
        data = Path(tmp)
        srv = factory(sqlite_url(data), data / "data", seed_file=write_big_seed(data / "seed.json"))
        display, kiosk = srv.create_token("display", HALL), srv.create_token("kiosk", HALL)
        windows = {w["number"]: w for w in srv.hall(HALL, kiosk)["windows"]}
        hall = BigHall(srv, display, kiosk, windows)
        k = HallClient(srv.base_url, kiosk)
        for i in range(40):
            k.issue_ticket(HALL, f"BIG-{GROUPS[i * 7 % len(GROUPS)][0]}")
        for number in (*SERVING, CALLED):
            hall.call(number)
        for name, size in (("display-big-hall.png", "1920x1080"), ("display-big-hall-720p.png", "1280x720")):
            cmd = [sys.executable, "-m", "kiosk.cli", "--role", "display", "--hall", HALL, "--server"]
            cmd += [srv.base_url, "--token", display, "--speaker", "none", "--size", size]
            cmd += ["--data-dir", str(data / "kiosk"), "--screenshot", str(out_dir / name)]
            subprocess.run(cmd, check=True, timeout=120)


if __name__ == "__main__":
    _screenshots(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
