"""Every role fits 1280x720, 1366x768 and 1920x1080 at the scale the CLI picks: nothing grows or is clipped.

The screens run against the demo city (22 windows, 9 queues, live calls) so the hall display and the
clerk terminal show a realistic amount of data, and each screen also shows a two-line error message,
the tallest state of the message line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QLabel, QSizePolicy, QWidget

from kiosk import const
from kiosk.app import build_context, close_context, create_screen
from kiosk.config import load_config
from kiosk.errors import KioskError

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

SIZES = [(1280, 720), (1366, 768), (1920, 1080)]
# The sub-pages a screen can show (kiosk.demo_server.show_page names); None = the first screen.
PAGES: dict[str, list[str | None]] = {
    "visitor": [None, "keyboard", "identify", "ticket", "guide", "lookup", "elderly"],
    "clerk": [None],
    "display": [None],
    "rating": [None, "rate", "reasons", "thanks"],
    "village": ["visitor", "clerk", "locked", "rating"],
}
ERROR = KioskError(
    "网络中断，正在重新连接服务器，请稍候再试", "The network is down, reconnecting; please try again"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The demo hall server (a subprocess) with some tickets issued and called."""
    from kiosk.demo_server import DemoServer

    srv = DemoServer.start_temporary(tmp_path_factory.mktemp("demo"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def scaled(qapp: Any) -> Iterator[Any]:
    """Theme the application per test; back to the 1080p scale afterwards for the other tests."""
    from kiosk.ui.theme import apply_theme

    yield lambda w, h: apply_theme(qapp, _fit_scale(w, h))
    apply_theme(qapp, 1.0)


def _fit_scale(w: int, h: int) -> float:
    from kiosk.ui.theme import fit_scale

    return fit_scale(w, h)


def _inside_scroll_area(child: QWidget, top: QWidget) -> bool:
    p = child.parentWidget()
    while p is not None and p is not top:
        if isinstance(p, QAbstractScrollArea):
            return True  # scrolled content: clipping is its job
        p = p.parentWidget()
    return False


def _screens_of(widget: QWidget, role: str) -> list[Any]:
    if role == "village":
        return [widget.visitor, widget.clerk, widget.rating]  # type: ignore[attr-defined]
    return [widget]


def _min_height(child: QWidget) -> int:
    """What a widget needs: a word-wrapped label its height at its width, others their minimum."""
    if isinstance(child, QLabel) and child.wordWrap():
        return child.heightForWidth(child.width())
    return child.minimumSizeHint().height()


def assert_fits(widget: QWidget, w: int, h: int, where: str) -> None:
    """The window keeps the screen's size (Qt grows a window whose layout needs more), every visible
    widget lies on the screen, and none is squeezed below what it needs."""
    QApplication.processEvents()
    need = widget.minimumSizeHint()
    assert need.width() <= w, f"{where}: needs {need.width()} px of width"
    widget.resize(w, h)
    QApplication.processEvents()
    assert (widget.width(), widget.height()) == (w, h), (
        f"{where}: grew to {widget.width()}x{widget.height()} (layout minimum {need.width()}x{need.height()})"
    )
    screen = widget.rect()
    for child in widget.findChildren(QWidget):
        if not child.isVisible() or _inside_scroll_area(child, widget):
            continue
        name = f"{type(child).__name__} {child.objectName()!r}"
        box = QRect(child.mapTo(widget, QPoint(0, 0)), child.size())
        assert screen.contains(box), f"{where}: {name} at {box} is cut off"
        if child.sizePolicy().verticalPolicy() != QSizePolicy.Policy.Ignored:
            wanted = _min_height(child)
            assert child.height() >= wanted, f"{where}: {name} squeezed to {child.height()} < {wanted} px"


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("role", const.ROLES)
def test_every_role_fits_the_screen(
    qtbot: Any, scaled: Any, demo: Any, tmp_path: Path, role: str, size: tuple[int, int]
) -> None:
    from kiosk.demo_server import show_page

    w, h = size
    scaled(w, h)
    overrides = demo.overrides_for(role)
    demo.populate(overrides["hall"])
    cfg = load_config(None, {**overrides, "data_dir": str(tmp_path / role)})
    ctx = build_context(cfg)
    widget = create_screen(ctx)
    qtbot.addWidget(widget)
    try:
        widget.resize(w, h)
        widget.show()
        qtbot.waitUntil(lambda: bool(widget.is_ready), timeout=20000)
        if role == "clerk":
            qtbot.waitUntil(lambda: widget.pages.currentWidget() is widget.work_page, timeout=20000)
            qtbot.waitUntil(lambda: len(widget.waiting) > 0, timeout=20000)
            # As with a ticket in hand: the material list for the next photo shows, with a long name.
            widget.material_box.clear()
            widget.material_box.addItems(["不动产权证书或不动产登记证明（原件）", "其他材料"])
            widget.material_box.setVisible(True)
        if role == "display":
            qtbot.waitUntil(lambda: len(widget.windows) >= 20 and bool(widget.recent), timeout=20000)
        for page in PAGES[role]:
            show_page(widget, role, page)
            qtbot.wait(300)  # the page's data arrives from the server
            for screen in _screens_of(widget, role):
                screen.message.show_error(ERROR, seconds=0)
            assert_fits(widget, w, h, f"{role}/{page or 'home'} at {w}x{h}")
            for screen in _screens_of(widget, role):
                screen.message.clear_message()
    finally:
        widget.close()
        close_context(ctx)
