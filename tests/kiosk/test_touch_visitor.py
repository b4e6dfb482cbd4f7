"""The visitor kiosk by touch alone, against the demo city's server (41 services, queues A–J, 22 windows):
a swipe scrolls the services, the on-screen keyboard finds them by pinyin initials and by the words
people use, the lookup keypad has the hall's own letters, the ticket page says where to go and goes
home by itself, and elderly mode clips no text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from kiosk.app import build_context, close_context, create_screen
from kiosk.config import load_config
from tests.kiosk.touch import clipped_text, drag, tap

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

SIZE = (1920, 1080)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The demo hall server (a subprocess) with the demo city."""
    from kiosk.demo_server import DemoServer

    srv = DemoServer.start_temporary(tmp_path_factory.mktemp("demo"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def visitor(qtbot: Any, themed_qapp: Any, demo: Any, tmp_path: Path) -> Iterator[Any]:
    """The visitor kiosk of the demo city's hall at 1920×1080, loaded; its ticket page returns in 3 s."""
    overrides = demo.overrides_for("visitor")
    cfg = load_config(None, {**overrides, "data_dir": str(tmp_path / "v"), "ticket_return_s": 3})
    ctx = build_context(cfg)
    widget = create_screen(ctx)
    qtbot.addWidget(widget)
    widget.resize(*SIZE)
    widget.show()
    try:
        qtbot.waitUntil(lambda: bool(widget.is_ready) and len(widget.service_buttons) > 30, timeout=30000)
        qtbot.waitUntil(lambda: ctx.events.online, timeout=30000)
        yield widget
    finally:
        widget.close()
        close_context(ctx)


def test_the_connection_badge_shows_only_a_problem_and_moves_no_button(qtbot: Any, visitor: Any) -> None:
    v = visitor
    before = v.elderly_btn.mapTo(v, v.elderly_btn.rect().topLeft())
    v.badge.set_online(False)
    assert v.badge.isVisible() and "网络中断" in v.badge.text()
    v.badge.set_online(True)
    qtbot.wait(50)
    assert not v.badge.isVisible()  # 已连接 is no news to a visitor
    assert v.elderly_btn.mapTo(v, v.elderly_btn.rect().topLeft()) == before


def names(v: Any) -> list[str]:
    """The service names the visitor sees as tiles."""
    return [s.name for s in v.visible_services() if s.code in v.service_buttons]


def test_a_swipe_scrolls_the_services_and_page_buttons_reach_the_end(qtbot: Any, visitor: Any) -> None:
    v = visitor
    area = v.svc_scroll
    bar = area.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=5000)  # 41 services do not fit one screen
    assert area.verticalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    last = v.service_buttons[v.visible_services()[-1].code]
    assert not last.visibleRegion().boundingRect().isValid() or last.visibleRegion().isEmpty()
    assert not v.svc_pages.up.isEnabled()

    drag(qtbot, area.viewport(), -400)
    qtbot.waitUntil(lambda: bar.value() > 0, timeout=5000)
    assert v.svc_pages.up.isEnabled()

    for _ in range(20):
        if not v.svc_pages.down.isEnabled():
            break
        tap(qtbot, v.svc_pages.down)
        qtbot.wait(400)
    assert bar.value() == bar.maximum()
    assert not last.visibleRegion().isEmpty(), "the last service is on screen at the end of the list"
    tap(qtbot, v.svc_pages.up)
    qtbot.waitUntil(lambda: bar.value() < bar.maximum(), timeout=5000)


def test_the_keyboard_finds_services_by_pinyin_initials_and_by_common_words(qtbot: Any, visitor: Any) -> None:
    v = visitor
    assert not v.keyboard.isVisible()
    tap(qtbot, v.keyboard_btn)
    assert v.keyboard.isVisible()
    for ch in "bdc":
        tap(qtbot, v.keyboard.keys[ch])
    assert v.search.text() == "bdc"
    found = {s.name for s in v.visible_services() if s.code in v.service_buttons}
    assert {"不动产首次登记", "不动产转移登记", "不动产登记资料查询", "不动产权证书补证、换证"} <= found
    # ... and those whose second line says 不动产 (抵押权登记: 不动产抵押权登记), nothing else.
    assert all("不动产" in f"{s.name}{s.sub_name}" for s in v.visible_services()), found

    tap(qtbot, v.keyboard.keys["back"])
    tap(qtbot, v.keyboard.keys["back"])
    tap(qtbot, v.keyboard.keys["back"])
    assert v.search.text() == ""
    assert len(names(v)) == len(v.services)

    tap(qtbot, v.keyboard.keys["社保"])
    assert {"社会保障卡申领", "失业保险金申领"} <= set(names(v))
    assert not any(n.startswith("不动产") for n in names(v))
    tap(qtbot, v.keyboard.keys["营业执照"])
    assert {"企业设立登记", "个体工商户设立登记"} <= set(names(v))

    # A tap on a found service goes on to the ID card, from a tile of the touch list.
    tap(qtbot, v.service_buttons[v.visible_services()[0].code])
    assert v.pages.currentWidget() is v.identify
    tap(qtbot, v.findChild(type(v.keyboard_btn), "back"))
    assert v.pages.currentWidget() is v.home
    assert not v.keyboard.isVisible() and v.search.text() == ""


def test_the_lookup_keypad_has_the_halls_letters_and_finds_a_j_ticket(
    qtbot: Any, visitor: Any, demo: Any
) -> None:
    from kiosk.api import HallClient

    v = visitor
    hall = v.ctx.hall_id
    svc = next(s for s in v.services if s.prefix == "J")
    ticket = HallClient(demo.url, demo.hall_tokens(hall)["kiosk"]).issue_ticket(hall, svc.code)
    assert ticket.number.startswith("J")

    tap(qtbot, v.findChild(type(v.keyboard_btn), "lookup"))
    page = v.lookup_page
    assert v.pages.currentWidget() is page
    letters = {k for k in page.keys if k.isalpha()}
    assert letters == {g.prefix for g in v.ctx.hall.groups}  # A–H and J: no I, nothing invented
    for ch in ticket.number:
        tap(qtbot, page.keys[ch])
    assert page.edit.text() == ticket.number
    tap(qtbot, page.findChild(type(v.keyboard_btn), "do-lookup"))
    qtbot.waitUntil(lambda: ticket.number in page.result.text(), timeout=10000)
    text = page.result.text()
    assert "等候" in text and "前面还有" in text
    assert "请到3、5、20–22号窗口" in text  # the demo city's J windows


def test_the_ticket_page_says_where_to_go_and_counts_down_home(qtbot: Any, visitor: Any) -> None:
    v = visitor
    svc = next(s for s in v.services if s.prefix == "B")
    tap(qtbot, v.keyboard_btn)
    v.search.setText(svc.name)  # the one tile of that service, tapped below
    tap(qtbot, v.service_buttons[svc.code])
    assert v.pages.currentWidget() is v.identify
    assert v.anon_btn.property("role") != "primary"  # the ID card is the main way, no card the second
    tap(qtbot, v.anon_btn)
    qtbot.waitUntil(lambda: v.pages.currentWidget() is v.ticket_page, timeout=10000)
    assert v.t_where.text() == "请到3–4、7–9、21–22号窗口"
    assert v.t_countdown.text() == "3秒后返回首页"
    qtbot.waitUntil(lambda: v.t_countdown.text() == "2秒后返回首页", timeout=3000)
    qtbot.waitUntil(lambda: v.pages.currentWidget() is v.home, timeout=5000)
    assert v.search.text() == ""

    # 返回首页 at once, without waiting for the countdown.
    tap(qtbot, v.service_buttons[svc.code])
    tap(qtbot, v.anon_btn)
    qtbot.waitUntil(lambda: v.pages.currentWidget() is v.ticket_page, timeout=10000)
    tap(qtbot, v.findChild(type(v.keyboard_btn), "done"))
    assert v.pages.currentWidget() is v.home


def test_elderly_mode_clips_no_text(qtbot: Any, visitor: Any) -> None:
    v = visitor
    tap(qtbot, v.elderly_btn)
    assert v.elderly
    qtbot.wait(200)
    assert clipped_text(v) == []
    tap(qtbot, v.keyboard_btn)
    qtbot.wait(200)
    assert clipped_text(v) == []
    # Bigger type, fewer and bigger tiles: two columns, and a page holds fewer of them.
    tiles = list(v.service_buttons.values())
    assert len({b.x() for b in tiles}) == 2
    assert tiles[0].height() >= 220
    # The header grew with the rest.
    assert v.header_title.font().pixelSize() > 44
    # The other pages of a visit in elderly type: nothing clipped there either.
    tap(qtbot, v.keyboard_btn)
    # The longest name (broken at word boundaries) of a service that a visitor without a card may take.
    svc = max((s for s in v.services if s.guide.get("id_required") is not True), key=lambda s: len(s.name))
    v.search.setText(svc.name)
    tap(qtbot, v.service_buttons[svc.code])
    qtbot.waitUntil(lambda: v.pages.currentWidget() is v.identify, timeout=5000)
    qtbot.wait(200)
    assert clipped_text(v) == []
    tap(qtbot, v.anon_btn)
    qtbot.waitUntil(lambda: v.pages.currentWidget() is v.ticket_page, timeout=10000)
    qtbot.wait(200)
    assert clipped_text(v) == []
    assert v.elderly  # still on: the visit has not ended yet


def test_idle_is_announced_and_a_touch_keeps_the_visitor(qtbot: Any, visitor: Any) -> None:
    v = visitor
    tap(qtbot, v.service_buttons[v.visible_services()[0].code])
    assert v.pages.currentWidget() is v.identify
    tap(qtbot, v.elderly_btn)
    v.idle_grace.setInterval(300)  # the seconds of the countdown, shortened
    v.idle_timer.setInterval(300)
    v.idle_timer.start()
    qtbot.waitUntil(lambda: "秒后返回首页" in v.message.text(), timeout=5000)
    assert "长者模式将关闭" in v.message.text() and v.message.isVisible()
    tap(qtbot, v.id_service)  # anywhere: the visitor is still there
    assert not v.message.isVisible()
    assert v.pages.currentWidget() is v.identify and v.elderly
    qtbot.waitUntil(lambda: "秒后返回首页" in v.message.text(), timeout=5000)
    qtbot.waitUntil(lambda: v.pages.currentWidget() is v.home, timeout=10000)
    assert not v.elderly


def test_an_elderly_id_card_turns_elderly_mode_on(
    qtbot: Any, themed_qapp: Any, demo: Any, id_sim: Any, tmp_path: Path
) -> None:
    from devices.sim.cards import sample_card

    overrides = demo.overrides_for("visitor")
    cfg = load_config(
        None, {**overrides, "data_dir": str(tmp_path / "v"), "id_reader": f"serial://{id_sim.port}"}
    )
    ctx = build_context(cfg)
    v = create_screen(ctx)
    qtbot.addWidget(v)
    v.resize(*SIZE)
    v.show()
    try:
        qtbot.waitUntil(lambda: bool(v.is_ready) and len(v.service_buttons) > 30, timeout=30000)
        qtbot.waitUntil(lambda: ctx.events.online, timeout=30000)
        tap(qtbot, v.service_buttons[v.visible_services()[0].code])
        qtbot.waitUntil(lambda: v.pages.currentWidget() is v.identify, timeout=5000)
        assert not v.elderly
        try:
            with qtbot.waitSignal(v.ticket_issued, timeout=20000) as issued:
                id_sim.place(sample_card("elderly"))
        except Exception:
            pytest.fail(f"no ticket for the card: {v.id_status.text()!r} {v.message.text()!r}")
        assert issued.args[0].green_reason == "elderly"
        assert v.elderly and v.elderly_btn.isChecked()
        assert clipped_text(v) == []
    finally:
        v.close()
        close_context(ctx)


def test_the_english_screens_clip_no_text_and_home_is_chinese_again(qtbot: Any, visitor: Any) -> None:
    v = visitor
    assert v.header_title.text().endswith("· 自助取号") and "Self" not in v.header_title.text()
    tap(qtbot, v.lang_btn)
    assert v.header_title.text().endswith("· Self-service")
    qtbot.wait(100)
    assert clipped_text(v) == []
    tap(qtbot, v.service_buttons[v.visible_services()[0].code])
    qtbot.waitUntil(lambda: v.pages.currentWidget() is v.identify, timeout=5000)
    assert v.anon_btn.text() == "Continue without ID card"
    assert clipped_text(v) == []
    tap(qtbot, v.findChild(type(v.anon_btn), "back"))
    assert not v.texts.english and v.header_title.text().endswith("· 自助取号")


def test_page_buttons_lookup_answers_and_errors_follow_the_language_switch(
    qtbot: Any, visitor: Any, demo: Any
) -> None:
    from kiosk.api import HallClient
    from kiosk.errors import ServerUnreachable

    v = visitor
    hall = v.ctx.hall_id
    svc = next(s for s in v.services if s.prefix == "J")
    ticket = HallClient(demo.url, demo.hall_tokens(hall)["kiosk"]).issue_ticket(hall, svc.code)
    page = v.lookup_page
    lookup_btn = v.findChild(type(v.keyboard_btn), "lookup")
    do_lookup = page.findChild(type(v.keyboard_btn), "do-lookup")

    tap(qtbot, v.lang_btn)
    assert v.texts.english
    assert v.svc_pages.up.text() == "▲ Previous" and v.svc_pages.down.text() == "▼ Next"
    # An error on the shared line: English only, no Chinese line above it.
    v.message.show_error(ServerUnreachable())
    assert v.message.text() == ServerUnreachable().message_en
    qtbot.wait(100)  # the layout makes room for the line
    assert clipped_text(v) == []

    tap(qtbot, lookup_btn)
    assert v.pages.currentWidget() is page and v.texts.english
    for ch in ticket.number:
        tap(qtbot, page.keys[ch])
    tap(qtbot, do_lookup)
    qtbot.waitUntil(lambda: ticket.number in page.result.text(), timeout=10000)
    text = page.result.text()
    assert "Status: waiting" in text and "people ahead" in text
    assert "Please go to windows" in text and "等候" not in text and "请到" not in text
    assert clipped_text(v) == []

    # Back to 中 with the answer on screen: it is said again, in Chinese only.
    tap(qtbot, v.lang_btn)
    assert not v.texts.english
    text = page.result.text()
    assert "状态：等候中" in text and "请到3、5、20–22号窗口" in text and "Status" not in text
    # A number nobody holds: the refusal in Chinese only, and in English after the switch.
    tap(qtbot, page.findChild(type(v.keyboard_btn), "lookup-back"))  # keypad back
    page.edit.setText("J999")
    tap(qtbot, do_lookup)
    qtbot.waitUntil(lambda: page.result.text() not in ("", text), timeout=10000)
    missing_zh = page.result.text()
    assert "J999" in missing_zh
    assert not any(c.isascii() and c.isalpha() for c in missing_zh.replace("J999", "")), missing_zh
    tap(qtbot, v.lang_btn)
    tap(qtbot, do_lookup)
    qtbot.waitUntil(lambda: page.result.text() != missing_zh, timeout=10000)
    assert page.result.text().isascii()
    tap(qtbot, v.lang_btn)

    v.go_home()
    assert v.svc_pages.up.text() == "▲ 上一页" and v.svc_pages.down.text() == "▼ 下一页"
    v.message.show_error(ServerUnreachable())
    assert v.message.text() == ServerUnreachable().message_zh
    qtbot.wait(100)
    assert clipped_text(v) == []
    # No waiting ticket left behind: cancelled as its holder would (the phone page's cancel).
    import requests

    r = requests.post(f"{HallClient(demo.url).api_url}/track/{ticket.track_token}/cancel", timeout=30)
    assert r.status_code == 200, r.text
