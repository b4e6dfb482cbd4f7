"""Small shared widgets: labels with a style role, big buttons, the offline banner, message line, QR."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScroller,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk import const
from kiosk.errors import KioskError
from kiosk.ui.theme import sc

logger = logging.getLogger(__name__)

# English words after the Chinese on one line ("登录 Log in", "改取普通号 Take a normal ticket").
EN_TAIL = re.compile(r"\s+/?\s*[A-Za-z][A-Za-z .,'’/()-]*$")


def label(
    text: str = "", role: str | None = None, *, wrap: bool = False, align: Qt.AlignmentFlag | None = None
) -> QLabel:
    """A QLabel with a style role."""
    lab = QLabel(text)
    if role:
        lab.setProperty("role", role)
    lab.setWordWrap(wrap)
    if align is not None:
        lab.setAlignment(align)
    return lab


def button(
    text: str, on_click: Callable[[], None] | None = None, role: str | None = None, *, name: str | None = None
) -> QPushButton:
    """A big touch button."""
    btn = QPushButton(text)
    if role:
        btn.setProperty("role", role)
    if name:
        btn.setObjectName(name)
    btn.setCursor(Qt.CursorShape.PointingHandCursor)
    # Tab reaches it and Enter or Space presses it (kiosk.ui.focus); a touch gives it no focus, so
    # a visitor who only touches never sees a focus frame.
    btn.setFocusPolicy(Qt.FocusPolicy.TabFocus)
    name_zh = zh_name(text)
    if name_zh != text:
        btn.setAccessibleName(name_zh)
    if on_click:
        btn.clicked.connect(lambda _checked=False: on_click())
    return btn


def zh_name(text: str) -> str:
    """The Chinese of a bilingual text ("返回首页\nBack", "登录 Log in" -> "返回首页", "登录"): what a
    screen reader says. A key name after the words (下一位  F1) stays."""
    lines = [EN_TAIL.sub("", line) for line in text.split("\n") if not line.isascii()]
    return "\n".join(lines) if lines else text


def restyle(widget: QWidget, role: str) -> None:
    """Change a widget's style role at runtime."""
    widget.setProperty("role", role)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def card() -> QFrame:
    """A white rounded panel."""
    frame = QFrame()
    frame.setObjectName("card")
    return frame


class ConnectionBadge(QLabel):
    """Shows 已连接 / 网络中断 in the header; the screen keeps working either way."""

    def __init__(self) -> None:
        super().__init__()
        self.set_online(False, first=True)

    def set_online(self, online: bool, first: bool = False) -> None:
        """Update text and colour."""
        self.online = online
        if online:
            self.setText("● 已连接")
            restyle(self, "online")
        else:
            self.setText("正在连接服务器…" if first else "⚠ 网络中断，正在重连")
            restyle(self, "offline")
        # A working connection is no news to a visitor: the badge shows only when there is a problem.
        # (Unparented, show() would open it as a window of its own.)
        if online or self.parentWidget() is not None:
            self.setVisible(not online)


class MessageLine(QLabel):
    """An inline message (error or success) that hides itself after a while."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("message-line")
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.clear_message)
        # The visitor screens' language (kiosk.ui.lang.Texts.pick): one language per line then;
        # the staff screens keep the Chinese line with the English below.
        self.pick: Callable[[str, str], str] | None = None
        self.hide()

    def minimumSizeHint(self) -> QSize:
        """Two lines need two lines of height: Qt sizes a word-wrapped label for a narrow width, and
        the wrapped English line then asked for a screen taller than the display."""
        hint = super().minimumSizeHint()
        window = self.window()
        width = window.width() if window is not self else self.width()
        if not self.text() or width <= hint.width():
            return hint
        return QSize(hint.width(), max(self.heightForWidth(width), 1))

    def show_error(self, exc: BaseException | str, seconds: float = 12) -> None:
        """Show an error: in the chosen language (`pick`), else Chinese with the English line below."""
        if isinstance(exc, str):
            text = exc
        elif isinstance(exc, KioskError):
            zh, en = exc.message_zh, exc.message_en
            text = self.pick(zh, en) if self.pick else f"{zh}\n{en}"
        else:
            zh = getattr(exc, "message_zh", None)
            text = zh or "操作失败，请稍后再试"
        self._show(text, "error", seconds)

    def show_ok(self, text: str, seconds: float = 6) -> None:
        """Show a success line."""
        self._show(text, "ok", seconds)

    def _show(self, text: str, role: str, seconds: float) -> None:
        self.setText(text)
        restyle(self, role)
        self.show()
        if seconds:
            self._timer.start(int(seconds * 1000))

    def clear_message(self) -> None:
        """Hide."""
        self.setText("")
        self.hide()


def qr_pixmap(data: str, size: int) -> QPixmap:
    """A QR code as a pixmap (qrcode + Pillow)."""
    import qrcode

    img = qrcode.make(data, border=2).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    qimg = QImage.fromData(buf.getvalue(), "PNG")
    return QPixmap.fromImage(qimg).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
    )


def header_bar(title: str, subtitle: str = "", compact: bool = False) -> tuple[QFrame, QHBoxLayout, QLabel]:
    """The blue header: title on the left, room on the right; returns (frame, right layout, title label)."""
    frame = QFrame()
    frame.setObjectName("header")
    lay = QHBoxLayout(frame)
    lay.setContentsMargins(sc(28), sc(4 if compact else 14), sc(28), sc(4 if compact else 14))
    if compact:
        subtitle = ""
    col = QVBoxLayout()
    title_lab = label(title, "title")
    # A long hall name may shrink (clip) rather than push the screen wider than the kiosk.
    title_lab.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    title_lab.setMinimumWidth(sc(200))
    col.addWidget(title_lab)
    if subtitle:
        col.addWidget(label(subtitle, "en"))
    lay.addLayout(col, 1)
    right = QHBoxLayout()
    right.setSpacing(sc(16))
    lay.addLayout(right)
    return frame, right, title_lab


def touch_scroll(area: QAbstractScrollArea) -> QAbstractScrollArea:
    """Kinetic scrolling by a finger's drag and no scrollbars (touch glass has no mouse wheel).

    The left-button gesture serves touch too: Qt turns an unhandled touch into mouse events."""
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes to the controls in it, not the list itself
    QScroller.grabGesture(area.viewport(), QScroller.ScrollerGestureType.LeftMouseButtonGesture)
    return area


def scroll_page(area: QAbstractScrollArea, pages: int) -> None:
    """Scroll a touch list by whole screens (上一页 -1 / 下一页 +1), kinetically like a swipe."""
    bar = area.verticalScrollBar()
    step = max(1, area.viewport().height() - bar.singleStep())
    target = max(bar.minimum(), min(bar.maximum(), bar.value() + pages * step))
    QScroller.scroller(area.viewport()).scrollTo(QPointF(0, target), const.PAGE_SCROLL_MS)


class PageButtons(QWidget):
    """Big 上一页 / 下一页 buttons beside a touch list, enabled only where there is more to see."""

    def __init__(self, area: QAbstractScrollArea, name: str, texts: Any = None) -> None:
        super().__init__()
        self.area = area
        lay = QHBoxLayout(self)  # side by side in a row of buttons: they cost the screen no height
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(sc(16))
        self.up = button("▲ 上一页", lambda: scroll_page(area, -1), "page", name=f"{name}-up")
        self.down = button("▼ 下一页", lambda: scroll_page(area, 1), "page", name=f"{name}-down")
        self.up.setAccessibleName("上一页")
        self.down.setAccessibleName("下一页")
        if texts is not None:  # a visitor screen's kiosk.ui.lang.Texts: the words follow 中/EN
            texts.bind(self.up, "▲ 上一页", "▲ Previous")
            texts.bind(self.down, "▼ 下一页", "▼ Next")
        for b in (self.up, self.down):
            lay.addWidget(b)
        bar = area.verticalScrollBar()
        bar.valueChanged.connect(lambda _v: self.update_state())
        bar.rangeChanged.connect(lambda _lo, _hi: self.update_state())
        self.update_state()

    def update_state(self) -> None:
        """上一页 only when not at the top, 下一页 only when not at the bottom."""
        bar = self.area.verticalScrollBar()
        self.up.setEnabled(bar.value() > bar.minimum())
        self.down.setEnabled(bar.value() < bar.maximum())


class OnScreenKeyboard(QWidget):
    """Letter keys for pinyin initials ("bdc" → 不动产…) and one-tap words visitors use (社保, 营业执照)."""

    typed = Signal(str)  # the whole text after each key

    def __init__(self, target: QLineEdit, quick_words: list[str]) -> None:
        super().__init__()
        self.setObjectName("keyboard")
        self.setAccessibleName("屏幕键盘")
        self.target = target
        self.keys: dict[str, QPushButton] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(sc(8))
        if quick_words:
            words = QHBoxLayout()
            words.setSpacing(sc(8))
            for word in quick_words:
                b = button(word, lambda w=word: self._set(w), "kbd", name=f"word-{word}")
                b.setAccessibleName(word)
                self.keys[word] = b
                words.addWidget(b)
            lay.addLayout(words)
        for i, letters in enumerate(const.KEYBOARD_ROWS):
            row = QHBoxLayout()
            row.setSpacing(sc(8))
            row.addSpacing(sc(30) * i)  # staggered like a phone's keyboard
            for ch in letters:
                b = button(ch.upper(), lambda ch=ch: self._type(ch), "kbd", name=f"key-{ch}")
                b.setAccessibleName(f"字母 {ch.upper()}")
                self.keys[ch] = b
                row.addWidget(b)
            if i == len(const.KEYBOARD_ROWS) - 1:
                back = button("⌫ 删除", self._backspace, "kbd", name="key-back")
                back.setAccessibleName("删除")
                self.keys["back"] = back
                row.addWidget(back)
            row.addStretch(1)
            lay.addLayout(row)

    def _type(self, ch: str) -> None:
        self.target.insert(ch)
        self.typed.emit(self.target.text())

    def _set(self, word: str) -> None:
        self.target.setText(word)
        self.typed.emit(word)

    def _backspace(self) -> None:
        self.target.backspace()
        self.typed.emit(self.target.text())
