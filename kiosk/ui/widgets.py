"""Small shared widgets: labels with a style role, big buttons, the offline banner, message line, QR."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from kiosk.errors import KioskError
from kiosk.ui.theme import sc

logger = logging.getLogger(__name__)


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
    btn.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    if on_click:
        btn.clicked.connect(lambda _checked=False: on_click())
    return btn


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
        """Show a Chinese error (with the English line below)."""
        if isinstance(exc, str):
            text = exc
        elif isinstance(exc, KioskError):
            text = f"{exc.message_zh}\n{exc.message_en}"
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
