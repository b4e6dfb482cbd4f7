"""Touch input for the kiosk tests: taps and drags as QTouchEvents from a touchscreen device."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from PySide6.QtCore import QPoint
from PySide6.QtGui import QFontMetrics, QPointingDevice
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QPushButton, QStyle, QStyleOptionButton, QWidget


@lru_cache(maxsize=1)
def touchscreen() -> QPointingDevice:
    """One registered touchscreen for the whole test run (Qt keeps devices for the application's life)."""
    return QTest.createTouchDevice()


def tap(qtbot: Any, widget: QWidget) -> None:
    """A finger's tap in the middle of a widget (Qt turns the unhandled touch into a click)."""
    # A widget just added to a shown layout shows on the next turn of the event loop.
    qtbot.waitUntil(lambda: widget.isVisible() and widget.isEnabled(), timeout=3000)
    top = widget.window()
    at = widget.mapTo(top, widget.rect().center())
    QTest.touchEvent(top, touchscreen()).press(0, at, top).commit()
    qtbot.wait(20)
    QTest.touchEvent(top, touchscreen()).release(0, at, top).commit()
    qtbot.wait(50)


def drag(qtbot: Any, widget: QWidget, dy: int, steps: int = 12) -> None:
    """A finger's swipe over a widget, dy pixels vertically (negative: upwards, to see more below)."""
    top = widget.window()
    start = widget.mapTo(top, widget.rect().center())
    QTest.touchEvent(top, touchscreen()).press(0, start, top).commit()
    for i in range(1, steps + 1):
        qtbot.wait(16)
        QTest.touchEvent(top, touchscreen()).move(0, start + QPoint(0, dy * i // steps), top).commit()
    QTest.touchEvent(top, touchscreen()).release(0, start + QPoint(0, dy), top).commit()


def clipped_text(root: QWidget) -> list[str]:
    """Visible labels and buttons whose text does not fit their rectangle (each line, whole)."""
    out = []
    for w in root.findChildren(QWidget):
        if not w.isVisible() or not isinstance(w, QLabel | QPushButton):
            continue
        text = w.text()
        if not text or (isinstance(w, QLabel) and not w.pixmap().isNull()):
            continue
        fm = QFontMetrics(w.font())
        rect = w.contentsRect()
        if isinstance(w, QPushButton):
            opt = QStyleOptionButton()
            w.initStyleOption(opt)  # the room inside the button's border and padding
            rect = w.style().subElementRect(QStyle.SubElement.SE_PushButtonContents, opt, w)
        if isinstance(w, QLabel) and w.wordWrap():
            need_w, need_h = 0, w.heightForWidth(w.width())
            if need_h < 0:
                need_h = w.sizeHint().height()
            box = w.height()  # heightForWidth counts the label's margins (its padding) too
        else:
            lines = text.split("\n")
            need_w = max(fm.horizontalAdvance(line) for line in lines)
            need_h = fm.height() * len(lines)
            box = rect.height()
        if need_w > rect.width() or need_h > box + 1:
            out.append(
                f"{type(w).__name__} {w.objectName()!r} {text!r}: needs {need_w}x{need_h}, has {rect.width()}x{box}"
            )
    return out
