"""The station's link as the kiosk reads and shows it, without a server: HallClient.link() on a canned
transport, the banner's wording for each state, and the watcher keeping the poll off the Qt thread.

The same screens against a real station and city are in test_station_link.py.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kiosk import const
from kiosk.api import HallClient
from kiosk.errors import UnexpectedAnswer
from kiosk.ui.link import clock_text, link_lines, synced_text
from tests.kiosk.test_client_transport import BASE, CannedTransport, error
from wire.sync import LinkOut

NOW = datetime.now(UTC)


def station(state: str, **over: Any) -> dict[str, Any]:
    """A canned GET /sync/link answer of a station, built through the wire model."""
    fields: dict[str, Any] = {
        "mode": "station",
        "parent": "city.example",
        "station_id": "st-village",
        "state": state,
        "last_ok_at": (NOW - timedelta(minutes=3)).isoformat(),
        "waiting": 12,
        "lag_s": 180.0,
        "config_version": "v1",
        "error_code": None if state == "ok" else f"sync.{state}",
        "message": None,
        "message_en": None,
        **over,
    }
    return LinkOut(**fields).model_dump(mode="json")


def client(*script: Any) -> tuple[HallClient, CannedTransport]:
    transport = CannedTransport(*script)
    return HallClient(BASE, "kiosk-token", transport=transport, retries=0), transport


def test_link_reads_the_station_state_as_the_wire_model() -> None:
    c, t = client((200, station("down")))
    link = c.link()
    assert isinstance(link, LinkOut) and link.state == "down" and link.waiting == 12
    sent = t.sent[0]
    assert sent.method == "GET" and sent.url == f"{BASE}/api/v1/sync/link"
    assert sent.headers["Authorization"] == "Bearer kiosk-token"


def test_standalone_and_an_older_server_without_the_route_show_nothing() -> None:
    c, _ = client((200, {"mode": "standalone"}))
    assert c.link().mode == "standalone"
    old, _ = client((404, error("not_found", "Not Found")))
    link = old.link()
    assert link.mode == "standalone" and link_lines(link) is None and synced_text(link) is None


def test_an_answer_of_another_shape_is_unexpected() -> None:
    c, _ = client((200, {"mode": "station", "state": "sideways"}))
    with pytest.raises(UnexpectedAnswer):
        c.link()


@pytest.mark.parametrize(
    ("state", "zh", "en"),
    [
        ("down", "与市中心的连接已中断（上次同步 ", "The link to the city is down (last synced "),
        ("refused", "市中心拒绝接收本站数据，请联系管理员", "The city refuses this station's records"),
        ("revoked", "本站授权已被市中心撤销，请联系管理员", "The city revoked this station's authorisation"),
        ("rewound", "本站数据与市中心不一致，请联系管理员", "This station's data disagree with the city's"),
        ("epoch_conflict", "本站数据与市中心不一致，请联系管理员", "disagree with the city's"),
    ],
)
def test_each_state_has_its_plain_words_chinese_first(state: str, zh: str, en: str) -> None:
    c, _ = client((200, station(state)))
    lines = link_lines(c.link())
    assert lines is not None
    assert zh in lines[0] and en in lines[1]
    assert lines[0].endswith("本站业务照常办理") and lines[1].endswith("this station keeps serving")
    if state in ("down", "refused"):
        assert "12 条记录等待上传" in lines[0] and "12 records waiting to upload" in lines[1]
    else:  # these do not mend themselves: the records are not on their way
        assert "12 条记录未上传" in lines[0] and "12 records not uploaded" in lines[1]


def test_down_without_a_backlog_or_a_first_sync_says_only_what_is_known() -> None:
    lines = link_lines(LinkOut.model_validate(station("down", waiting=0, last_ok_at=None)))
    assert lines == (
        "与市中心的连接已中断 · 本站业务照常办理",
        "The link to the city is down · this station keeps serving",
    )
    one = link_lines(LinkOut.model_validate(station("down", waiting=1, last_ok_at=None)))
    assert one is not None and "1 record waiting" in one[1]


def test_ok_shows_no_banner_only_the_clerks_synced_time() -> None:
    ok = LinkOut.model_validate(station("ok", waiting=0))
    assert link_lines(ok) is None
    text = synced_text(ok)
    assert (
        text is not None and text.startswith("✓ 已同步 ") and text.endswith(clock_text(ok.last_ok_at) or "?")
    )


def test_clock_text_is_the_halls_local_time_with_the_date_when_not_today() -> None:
    now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # 18:00 in Beijing
    assert clock_text("2026-12-07T06:05:00+00:00", now=now) == "14:05"
    assert clock_text("2026-12-06T06:05:00+00:00", now=now) == "12月6日 14:05"
    assert clock_text(None) is None and clock_text("not a time") is None


def test_the_watcher_polls_in_the_pool_one_at_a_time_and_the_banner_follows(
    qtbot: Any, themed_qapp: Any, tmp_path: Path
) -> None:
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    from kiosk.app import build_context, close_context
    from kiosk.config import KioskConfig
    from kiosk.ui.link import LinkBanner, LinkWatcher

    main = threading.get_ident()
    threads: list[int] = []
    answers = [
        station("down", waiting=3),
        station("revoked"),
        station("ok", waiting=0),
        {"mode": "standalone"},
    ]
    gate = threading.Event()

    def answer(_request: Any) -> tuple[int, Any]:
        threads.append(threading.get_ident())
        gate.wait(10)  # a slow server: the Qt thread must not wait for it
        return 200, answers[min(len(threads) - 1, len(answers) - 1)]

    transport = CannedTransport(answer)
    cfg = KioskConfig(role="village", hall="t-hall", server=BASE, data_dir=str(tmp_path), link_poll_s=0.2)
    ctx = build_context(cfg, client=HallClient(BASE, "kiosk-token", transport=transport))
    try:
        screen = QWidget()
        qtbot.addWidget(screen)
        banner = LinkBanner(ctx)
        QVBoxLayout(screen).addWidget(banner)
        screen.resize(1920, 300)
        screen.show()
        watcher = LinkWatcher.of(ctx)
        qtbot.waitUntil(lambda: len(threads) == 1, timeout=5000)
        qtbot.wait(600)  # three more ticks pass while the first poll hangs: no second poll starts
        assert len(threads) == 1 and threads[0] != main and not banner.isVisible()
        gate.set()
        qtbot.waitUntil(lambda: "3 条记录等待上传" in banner.text(), timeout=5000)
        assert banner.property("role") == "warn"
        qtbot.waitUntil(lambda: "本站授权已被市中心撤销" in banner.text(), timeout=5000)
        assert banner.property("role") == "serious"
        qtbot.waitUntil(lambda: not banner.isVisible(), timeout=5000)
        qtbot.waitUntil(lambda: watcher.last is not None and watcher.last.mode == "standalone", timeout=5000)
        assert not banner.isVisible()
        assert watcher._timer.interval() == const.LINK_STANDALONE_POLL_S * 1000  # a standalone server: seldom
        assert all(t != main for t in threads)
    finally:
        gate.set()
        close_context(ctx)


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768), (1920, 1080)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_longest_notice_fits_each_screen_size(
    qtbot: Any, qapp: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    from kiosk.app import build_context, close_context
    from kiosk.config import KioskConfig
    from kiosk.ui.link import LinkBanner
    from kiosk.ui.theme import apply_theme, fit_scale

    apply_theme(qapp, fit_scale(*size))
    yesterday = (NOW - timedelta(days=1)).isoformat()
    longest = [
        station("down", waiting=99999, last_ok_at=yesterday),
        station("refused", waiting=99999),
        station("revoked", waiting=99999),
        station("epoch_conflict", waiting=99999),
    ]
    cfg = KioskConfig(role="village", hall="t-hall", server=BASE, data_dir=str(tmp_path))
    ctx = build_context(cfg, client=HallClient(BASE, None, transport=CannedTransport((200, longest[0]))))
    try:
        screen = QWidget()
        qtbot.addWidget(screen)
        banner = LinkBanner(ctx)
        QVBoxLayout(screen).addWidget(banner)
        screen.resize(*size)
        screen.show()
        for answer in longest:
            banner.show_link(LinkOut.model_validate(answer))
            qtbot.wait(50)
            for lab in (banner.zh, banner.en):
                need = lab.fontMetrics().horizontalAdvance(lab.text())
                assert need <= lab.contentsRect().width(), f"{lab.text()!r} needs {need} px of {lab.width()}"
                assert lab.fontMetrics().height() <= lab.contentsRect().height()
    finally:
        close_context(ctx)
        apply_theme(qapp, 1.0)
