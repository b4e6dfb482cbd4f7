"""The hall display of a city hall (市民之家: 60 windows, 16 queues) at 1280x720: windows and waiting
counts page (第1/3页) at a readable size, every one appears on some page, pages turn on their timer,
and a call at a window on a hidden page is shown and spoken at once and its page comes next."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QLabel

from kiosk import const
from kiosk.config import DisplaySettings, KioskConfig, VoiceSettings, load_config
from kiosk.errors import ConfigError, KioskError
from tests.fixtures.postgres import sqlite_url
from tests.fixtures.server import SMALL_SEED, HallServer, hall_servers
from tests.kiosk.helpers import Role
from tests.kiosk.test_screen_fit import assert_fits

pytestmark = [pytest.mark.timeout(120)]

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
CLERKS = [("clerk1", "test-pass-1"), ("clerk2", "test-pass-2"), ("clerk3", "test-pass-3")]
SIZE = (1280, 720)


def group_of(window_number: int) -> str:
    """The prefix a window serves: the 16 queues round-robin over the 60 windows."""
    return GROUPS[(window_number - 1) % len(GROUPS)][0]


def write_big_seed(path: Path) -> Path:
    """A seed file with one hall of 60 windows and 16 groups (one service each), from the small seed."""
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
                "groups": {group_of(i): 1},
            }
            for i in range(1, WINDOWS + 1)
        ],
        clerks=[{"username": u, "name": f"窗口人员{u[-1]}", "password": pw} for u, pw in CLERKS],
    )
    seed = {**base, "services": services, "halls": [hall], "managers": [], "admins": base["admins"]}
    path.write_text(json.dumps(seed, ensure_ascii=False), encoding="utf-8")
    return path


@dataclass
class BigHall:
    """The running server of the large hall with its device tokens and windows by number."""

    server: HallServer
    display_token: str
    kiosk_token: str
    windows: dict[int, dict[str, Any]]

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


@pytest.fixture(scope="module")
def big_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigHall]:
    data = tmp_path_factory.mktemp("big-hall")
    seed = write_big_seed(data / "seed.json")
    with hall_servers() as factory:
        srv = factory(sqlite_url(data), data / "data", seed_file=seed)
        display = srv.create_token("display", HALL)
        kiosk = srv.create_token("kiosk", HALL)
        windows = {w["number"]: w for w in srv.hall(HALL, kiosk)["windows"]}
        yield BigHall(srv, display, kiosk, windows)


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


def tile_numbers(labels: list[QLabel]) -> set[int]:
    """Window numbers of the tiles shown ("12号  A001" -> 12)."""
    return {int(lab.text().split("号", 1)[0]) for lab in labels}


def assert_readable(labels: list[QLabel], where: str) -> None:
    """Tiles at the readable size, none cut (Chinese text needs its full width and height)."""
    assert labels, f"{where}: nothing shown"
    for lab in labels:
        hint = lab.sizeHint()
        assert lab.font().pixelSize() >= const.DISPLAY_MIN_TILE_PX, f"{where}: {lab.text()!r} too small"
        assert lab.width() >= hint.width() and lab.height() >= hint.height(), (
            f"{where}: {lab.text()!r} cut to {lab.width()}x{lab.height()} < {hint.width()}x{hint.height()}"
        )


@pytest.mark.parametrize("screen", [SIZE, (1920, 1080)], ids=["1280x720", "1920x1080"], indirect=True)
def test_every_window_and_group_is_on_some_page_and_each_page_fits_the_screen(
    qtbot: Any, screen: tuple[int, int], big_hall: BigHall, tmp_path: Path
) -> None:
    role = open_display(qtbot, big_hall, tmp_path, size=screen)
    d = role.widget
    try:
        grids = ((d.win_grid, "windows"), (d.group_grid, "groups"))
        for grid, what in grids if screen == SIZE else grids[:1]:
            assert grid.pages > 1, f"{what}: {len(grid.items)} fit one page? per page {grid.per_page}"
            assert grid.timer.isActive() and grid.timer.interval() == 120_000
        seen_windows: list[int] = []
        for page in range(d.win_grid.pages):
            assert d.win_grid.page == page
            assert d.win_grid.indicator.isVisible()
            assert d.win_grid.indicator.text() == f"第{page + 1}/{d.win_grid.pages}页"
            assert_fits(d, *screen, f"windows page {page + 1}")
            assert_readable(d.win_grid.labels(), f"windows page {page + 1}")
            seen_windows += sorted(tile_numbers(d.win_grid.labels()))
            d.win_grid.turn_page()
        # Every window exactly once, in number order across the pages; then back to the first page.
        assert seen_windows == list(range(1, WINDOWS + 1))
        assert d.win_grid.page == 0
        # A refresh of the data (every event brings one) keeps the page on screen.
        d.win_grid.turn_page()
        d.refresh()
        qtbot.waitUntil(lambda: not d._snap_timer.isActive(), timeout=5000)
        qtbot.wait(300)
        per = d.win_grid.per_page
        assert d.win_grid.page == 1
        assert sorted(tile_numbers(d.win_grid.labels())) == list(range(per + 1, min(2 * per, WINDOWS) + 1))
        d.win_grid.turn_page()
        # The tallest message line takes room from the grids: fewer rows, maybe more pages, never overflow.
        d.message.show_error(
            KioskError("网络中断，正在重新连接服务器，请稍候再试", "reconnecting"), seconds=0
        )
        qtbot.wait(50)
        seen_groups: list[str] = []
        for page in range(d.group_grid.pages):
            if d.group_grid.pages > 1:
                assert d.group_grid.indicator.text() == f"第{page + 1}/{d.group_grid.pages}页"
            else:
                assert d.group_grid.indicator.isHidden()
            assert_fits(d, *screen, f"groups page {page + 1}")
            labels = d.group_grid.labels()
            assert_readable(labels, f"groups page {page + 1}")
            names = [lab.text() for lab in labels if lab.property("role") == "tile"]
            counts = [lab.text() for lab in labels if lab.property("role") == "tilebusy"]
            assert len(names) == len(counts) and all(c.endswith(("人", "分")) for c in counts)
            seen_groups += [n.split(" ", 1)[0] for n in names]
            d.group_grid.turn_page()
        assert seen_groups == [p for p, _ in GROUPS]
        d.message.clear_message()
    finally:
        role.close()


def test_pages_turn_by_themselves_on_the_configured_interval(
    qtbot: Any, screen: tuple[int, int], big_hall: BigHall, tmp_path: Path
) -> None:
    role = open_display(qtbot, big_hall, tmp_path, page_seconds=2)
    d = role.widget
    try:
        assert d.win_grid.timer.interval() == 2000 and d.group_grid.timer.interval() == 2000
        first = tile_numbers(d.win_grid.labels())
        with qtbot.waitSignal(d.win_grid.page_changed, timeout=6000) as sig:
            pass
        assert sig.args == [1, d.win_grid.pages]
        assert tile_numbers(d.win_grid.labels()).isdisjoint(first)
        assert d.win_grid.indicator.text() == f"第2/{d.win_grid.pages}页"
        qtbot.waitUntil(lambda: d.group_grid.page == 1, timeout=6000)
    finally:
        role.close()


def test_a_call_on_a_hidden_page_is_shown_and_spoken_at_once_and_its_page_comes_next(
    qtbot: Any, screen: tuple[int, int], big_hall: BigHall, tmp_path: Path, speaker: Any
) -> None:
    from kiosk.api import HallClient

    role = open_display(qtbot, big_hall, tmp_path, speaker)
    d = role.widget
    announcer = role.ctx.extras["announcer"]
    grid = d.win_grid
    kiosk = HallClient(big_hall.url, big_hall.kiosk_token)
    # The first window of the second page, a window on the page shown now, the last window.
    numbers = [grid.per_page + 1, 1, WINDOWS]
    wins = [big_hall.windows[n] for n in numbers]
    assert [grid.is_visible_key(w["id"]) for w in wins] == [False, True, False]
    clerks = []
    try:
        tickets = []
        for (user, pw), w in zip(CLERKS, wins, strict=True):
            c = HallClient(big_hall.url)
            c.login(user, pw, w["id"])
            clerks.append(c)
            kiosk.issue_ticket(HALL, f"BIG-{group_of(w['number'])}")
        for c, w in zip(clerks, wins, strict=True):
            tickets.append(c.call_next(w["id"]))
        nums = [t.number for t in tickets]
        qtbot.waitUntil(lambda: all(n in d.shown_calls for n in nums), timeout=20000)
        # At once: the latest call is large on screen, the two before it in 最近叫号 (not the current one
        # again), while the first page still shows (and the tile of the window on it shows its new number).
        last, last_win = nums[-1], numbers[-1]
        assert grid.page == 0
        assert last in d.call_label.text() and f"{last_win} 号窗口" in d.call_label.text()
        recent = [num.text() for num, _ in d.recent_cells]
        assert recent[:2] == nums[::-1][1:] and last not in recent
        assert f"1号  {nums[1]}" in [lab.text() for lab in grid.labels()]
        assert d.shown_calls.count(last) == 1
        # Spoken once each, even after the snapshot that follows the calls has been applied.
        assert announcer.wait_idle(60)
        qtbot.wait(800)
        assert announcer.wait_idle(30)
        spoken = [a.text for a in announcer.spoken]
        for n, wn in zip(nums, numbers, strict=True):
            assert spoken.count(f"请{n}号到{wn}号窗口办理") == 1, spoken
        assert len(speaker.played) == len(nums)
        # The pages holding the called windows come next, in the order of the calls, with the new numbers.
        hidden: list[int] = []
        for w in wins:
            page = grid.page_of(w["id"])
            if page not in (0, *hidden):
                hidden.append(page)
        assert hidden and hidden[0] == 1
        for page in hidden:
            grid.turn_page()
            assert grid.page == page
            texts = [lab.text() for lab in grid.labels()]
            for n, w in zip(nums, wins, strict=True):
                if grid.is_visible_key(w["id"]):
                    assert f"{w['number']}号  {n}" in texts
            assert_fits(d, *SIZE, f"page {page + 1} after the calls")
        for c, w in zip(clerks, wins, strict=True):
            c.window_op(w["id"], "no-show")
    finally:
        role.close()
        for c in clerks:
            c.close()


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
    """Render the 60-window hall display at 1080p and 720p, with a few windows calling, to out_dir."""
    import tempfile

    from kiosk.api import HallClient

    with tempfile.TemporaryDirectory() as tmp, hall_servers() as factory:
        data = Path(tmp)
        srv = factory(sqlite_url(data), data / "data", seed_file=write_big_seed(data / "seed.json"))
        display, kiosk = srv.create_token("display", HALL), srv.create_token("kiosk", HALL)
        windows = {w["number"]: w for w in srv.hall(HALL, kiosk)["windows"]}
        k = HallClient(srv.base_url, kiosk)
        for i in range(40):
            k.issue_ticket(HALL, f"BIG-{GROUPS[i * 7 % len(GROUPS)][0]}")
        for (user, pw), number in zip(CLERKS, (2, 11, 37), strict=True):
            c = HallClient(srv.base_url)
            c.login(user, pw, windows[number]["id"])
            c.call_next(windows[number]["id"])
        for name, size in (
            ("display-60-windows.png", "1920x1080"),
            ("display-60-windows-720p.png", "1280x720"),
        ):
            cmd = [sys.executable, "-m", "kiosk.cli", "--role", "display", "--hall", HALL, "--server"]
            cmd += [srv.base_url, "--token", display, "--speaker", "none", "--size", size]
            cmd += ["--data-dir", str(data / "kiosk"), "--screenshot", str(out_dir / name)]
            subprocess.run(cmd, check=True, timeout=120)


if __name__ == "__main__":
    _screenshots(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
