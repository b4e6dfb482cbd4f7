"""Rating terminal beside one window: the clerk on duty (photo, name, 工号), five faces, tappable
reasons on a bad rating, and an outbox for ratings the link could not take yet."""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from kiosk import const
from kiosk.errors import ApiError
from kiosk.outbox import RatingOutbox
from kiosk.ui.base import RoleScreen
from kiosk.ui.context import AppContext
from kiosk.ui.icons import face_icon, person_pixmap
from kiosk.ui.theme import sc
from kiosk.ui.widgets import button, card, label
from wire import SnapshotOut, WindowClerk, WindowOut

logger = logging.getLogger(__name__)

LEVEL_COLORS = const.RATING_LEVEL_COLORS
CHECK_MARK = "√ "  # a checked reason says so in its text too, not only by colour


def clerk_image(clerk: WindowClerk | None) -> QImage | None:
    """The clerk's photo as an image (decoded off the UI thread), or None without a usable one."""
    if clerk is None or not clerk.photo_jpeg:
        return None
    try:
        data = base64.b64decode(clerk.photo_jpeg, validate=True)
    except (binascii.Error, ValueError):
        logger.warning("the photo of clerk %s is not base64", clerk.id)
        return None
    img = QImage()
    if not img.loadFromData(data, "JPG"):
        logger.warning("the photo of clerk %s does not decode", clerk.id)
        return None
    return img


def photo_pixmap(img: QImage | None, width: int, height: int) -> QPixmap:
    """The photo scaled into width x height (aspect kept), or the silhouette without one."""
    if img is None:
        return person_pixmap(min(width, height))
    return QPixmap.fromImage(img).scaled(
        width, height, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )


class RatingTerminal(RoleScreen):
    """Asks for a rating when its window finishes a ticket; keeps unsent ratings in an outbox."""

    rating_saved = Signal(dict)  # stored locally (maybe not yet delivered)
    delivered = Signal(int)  # how many outbox ratings the last flush delivered

    def __init__(self, ctx: AppContext, outbox: RatingOutbox) -> None:
        super().__init__(ctx, "服务评价", "Rate our service")
        self.outbox = outbox
        self.window_id = ctx.config.window_id
        self.window: WindowOut | None = None
        self.clerk: WindowClerk | None = None
        self.clerk_photo: QImage | None = None
        self.ticket: dict[str, Any] | None = None
        self.level: int | None = None
        self.flushing = False
        self.pages = QStackedWidget()
        self.body.addWidget(self.pages, 1)
        self.idle_page = self._build_idle()
        self.rate_page = self._build_rate()
        self.reason_page = self._build_reasons()
        self.thanks_page = self._build_thanks()
        for p in (self.idle_page, self.rate_page, self.reason_page, self.thanks_page):
            self.pages.addWidget(p)
        self.back_timer = QTimer(self)
        self.back_timer.setSingleShot(True)
        self.back_timer.timeout.connect(self.go_idle)
        self.flush_timer = QTimer(self)
        self.flush_timer.timeout.connect(self.flush)
        self.flush_timer.start(5000)
        ctx.events.event.connect(self.on_event)
        ctx.events.online_changed.connect(lambda online: online and (self.flush(), self.load()))
        self.load()

    # -- pages ------------------------------------------------------------------------------------
    def _build_idle(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        box = card()
        bl = QVBoxLayout(box)
        bl.setContentsMargins(sc(60), sc(50), sc(60), sc(50))
        self.window_label = label("", "title", align=Qt.AlignmentFlag.AlignCenter)
        self.window_label.setObjectName("window-name")
        bl.addWidget(self.window_label)
        # The rated person is identifiable (好差评): photo, name and 工号 side by side.
        who = QHBoxLayout()
        who.setSpacing(sc(40))
        who.addStretch(1)
        pw, ph = (sc(v) for v in const.CLERK_PHOTO_SIZE)
        self.photo_label = label("", None, align=Qt.AlignmentFlag.AlignCenter)
        self.photo_label.setObjectName("clerk-photo")
        self.photo_label.setFixedSize(pw, ph)
        self.photo_label.setAccessibleName("工作人员照片")
        self.photo_label.setPixmap(photo_pixmap(None, pw, ph))
        who.addWidget(self.photo_label)
        names = QVBoxLayout()
        names.addStretch(1)
        self.clerk_label = label("", "big")
        self.clerk_label.setObjectName("clerk-on-duty")
        names.addWidget(self.clerk_label)
        self.number_label = label("", "big")
        self.number_label.setObjectName("clerk-number")
        names.addWidget(self.number_label)
        names.addStretch(1)
        who.addLayout(names)
        who.addStretch(1)
        bl.addLayout(who)
        bl.addWidget(
            label(
                "办事结束后请为我们的服务评价，您的意见是我们改进的动力\n"
                "Please rate our service when you are done",
                "subtitle",
                align=Qt.AlignmentFlag.AlignCenter,
            )
        )
        lay.addWidget(box, 1)
        self.pending_label = label("", "en", align=Qt.AlignmentFlag.AlignRight)
        lay.addWidget(self.pending_label)
        return page

    def _build_rate(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setSpacing(sc(24))
        self.rate_title = label("请对本次服务进行评价", "title", align=Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.rate_title)
        lay.addWidget(label("Please rate this service", "en", align=Qt.AlignmentFlag.AlignCenter))
        # Whom the visitor rates, small above the faces.
        strip = QHBoxLayout()
        strip.addStretch(1)
        self.strip_photo = label("", None, align=Qt.AlignmentFlag.AlignCenter)
        self.strip_photo.setObjectName("rate-clerk-photo")
        self.strip_photo.setAccessibleName("工作人员照片")
        strip_h = sc(const.CLERK_STRIP_PHOTO_H)
        self.strip_photo.setFixedSize(strip_h * 3 // 4, strip_h)
        strip.addWidget(self.strip_photo)
        self.strip_label = label("", "subtitle")
        self.strip_label.setObjectName("rate-clerk")
        strip.addWidget(self.strip_label)
        strip.addStretch(1)
        lay.addLayout(strip)
        row = QHBoxLayout()
        row.setSpacing(sc(20))
        self.level_buttons = {}
        for level in (5, 4, 3, 2, 1):
            b = QToolButton()
            b.setObjectName(f"level-{level}")
            b.setProperty("role", "level")
            b.setText(f"{const.RATING_LEVELS[level]}\n{const.RATING_LEVELS_EN[level]}")
            b.setAccessibleName(f"{const.RATING_LEVELS[level]} {const.RATING_LEVELS_EN[level]}")
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            b.setIcon(face_icon(level, 160))
            b.setIconSize(QSize(160, 160))
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            b.setMinimumSize(sc(200), sc(360))
            b.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # the keyboard's path; a touch shows no focus
            b.setAccessibleName(const.RATING_LEVELS[level])
            b.setStyleSheet(f"QToolButton {{ background: {LEVEL_COLORS[level]}; }}")
            b.clicked.connect(lambda _c=False, level=level: self.choose_level(level))
            self.level_buttons[level] = b
            row.addWidget(b)
        lay.addLayout(row, 1)
        return page

    def _toggle(self, text: str, name: str, role: str, height: int) -> QPushButton:
        """A big tappable on/off button (a finger's size, not a desktop checkbox)."""
        b = button(text, None, role, name=name)
        b.setCheckable(True)
        b.setAccessibleName(text)
        b.setMinimumHeight(max(const.TOUCH_TARGET_MIN_PX, sc(height)))
        b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        b.toggled.connect(lambda on, b=b, text=text: self._toggled(b, text, on))
        return b

    def _toggled(self, b: QPushButton, text: str, on: bool) -> None:
        b.setText(CHECK_MARK + text if on else text)
        b.setAccessibleDescription("已选 selected" if on else "未选 not selected")
        if self.pages.currentWidget() is self.reason_page:
            self.reason_error.setText("")
            self.back_timer.start(const.RATING_IDLE_S * 1000)  # the visitor is still choosing

    def _build_reasons(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setSpacing(sc(10))
        lay.addWidget(label("很抱歉给您带来不便，请点选哪里做得不好", "title", wrap=True))
        lay.addWidget(label("What went wrong? Tap one or more", "en"))
        grid = QGridLayout()
        grid.setSpacing(sc(16))
        self.reason_boxes: dict[str, QPushButton] = {}
        for i, r in enumerate(const.RATING_REASONS):
            b = self._toggle(r, f"reason-{i}", "reason", 96)
            b.setAccessibleName(f"{r} {const.RATING_REASONS_EN[r]}")
            self.reason_boxes[r] = b
            grid.addWidget(b, i // 2, i % 2)
        lay.addLayout(grid)
        # Instead of a comment box: the usual complaints, one tap each (no typing at a public kiosk).
        lay.addWidget(label("具体问题（可选）  Details (optional)", "subtitle"))
        details = QGridLayout()
        details.setSpacing(sc(12))
        self.detail_buttons: dict[str, QPushButton] = {}
        for i, (phrase, reason) in enumerate(const.RATING_DETAILS):
            b = self._toggle(phrase, f"detail-{i}", "reason-detail", 76)
            # A detail ticks the reason it belongs to (the server needs a reason for a bad rating).
            b.toggled.connect(lambda on, reason=reason: on and self.reason_boxes[reason].setChecked(True))
            self.detail_buttons[phrase] = b
            details.addWidget(b, i // 3, i % 3)
        lay.addLayout(details)
        lay.addStretch(1)
        self.reason_error = label("", "subtitle")
        self.reason_error.setObjectName("reason-error")
        lay.addWidget(self.reason_error)
        row = QHBoxLayout()
        back = button("返回重选 Back", lambda: self.pages.setCurrentWidget(self.rate_page), name="back")
        back.setAccessibleName("返回重选 Back")
        back.setMinimumHeight(max(const.TOUCH_TARGET_MIN_PX, sc(84)))
        row.addWidget(back)
        self.submit_btn = button("提交评价 Submit", self.submit_bad, "primary", name="submit")
        self.submit_btn.setAccessibleName("提交评价 Submit")
        self.submit_btn.setMinimumHeight(max(const.TOUCH_TARGET_MIN_PX, sc(84)))
        row.addWidget(self.submit_btn, 2)
        lay.addLayout(row)
        return page

    def _build_thanks(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addStretch(1)
        lay.addWidget(label("感谢您的评价！", "huge", align=Qt.AlignmentFlag.AlignCenter))
        lay.addWidget(label("Thank you for your feedback", "subtitle", align=Qt.AlignmentFlag.AlignCenter))
        self.thanks_note = label("", "subtitle", align=Qt.AlignmentFlag.AlignCenter)
        self.thanks_note.setObjectName("thanks-note")
        lay.addWidget(self.thanks_note)
        lay.addStretch(1)
        return page

    # -- data -------------------------------------------------------------------------------------
    def load(self) -> None:
        """Find the window and its clerk in the snapshot; follow events from there."""
        client, hall = self.ctx.client_for("rating"), self.ctx.hall_id

        def fetch() -> tuple[SnapshotOut, WindowClerk | None, QImage | None]:
            if self.window_id is None:
                self.window_id = client.me().window_id
            snap = client.snapshot(hall)
            clerk = None
            if self.window_id is not None:
                try:
                    clerk = client.window_clerk(self.window_id).clerk
                except ApiError as exc:
                    # An older server, or a token that may not see the photo: the name still shows.
                    logger.info("clerk of window %s not read: %s", self.window_id, exc)
            return snap, clerk, clerk_image(clerk)

        def done(answer: tuple[SnapshotOut, WindowClerk | None, QImage | None]) -> None:
            snap, clerk, photo = answer
            for w in snap.windows:
                if w.id == self.window_id:
                    self.window = w
            self.clerk, self.clerk_photo = clerk, photo
            self._show_window()
            if self.ctx.events.channel is None:
                self.ctx.start_events(snap.last_seq)
            self._update_pending()
            self.mark_ready()

        def failed(exc: BaseException) -> None:
            self.message.show_error(exc)
            self._update_pending()
            self.mark_ready()
            if self.ctx.events.channel is None:
                QTimer.singleShot(3000, self.load)

        self.run(fetch, done, failed)

    def _show_window(self) -> None:
        w = self.window
        self.window_label.setText(f"{w.number}号窗口 {w.name}".strip() if w else "号窗口")
        clerk = self.clerk
        # The photo and 工号 come with the window's clerk (GET /windows/{id}/clerk); the name also
        # comes with the snapshot, so it shows even when the photo cannot be read.
        name = (clerk.name if clerk else None) or (w.clerk.name if w and w.clerk else None)
        number = clerk.staff_number if clerk else None
        photo = self.clerk_photo if clerk and w and w.clerk and clerk.id == w.clerk.id else None
        pw, ph = self.photo_label.width(), self.photo_label.height()
        self.photo_label.setPixmap(photo_pixmap(photo, pw, ph))
        self.strip_photo.setPixmap(photo_pixmap(photo, self.strip_photo.width(), self.strip_photo.height()))
        self.photo_label.setAccessibleName(
            f"工作人员照片：{name}" if photo is not None and name else "工作人员照片"
        )
        if name:
            self.clerk_label.setText(f"为您服务的是：{name}")
            self.number_label.setText(f"工号：{number}" if number else "")
            self.strip_label.setText(f"{name}  工号 {number}" if number else name)
        else:
            self.clerk_label.setText("本窗口暂无工作人员")
            self.number_label.setText("")
            self.strip_label.setText("")
        self.strip_photo.setVisible(bool(name))

    def on_event(self, ev: dict[str, Any]) -> None:
        """rating.requested / ticket.finished for this window asks the visitor to rate."""
        etype = ev.get("type")
        payload = ev.get("payload") or {}
        if etype in ("rating.requested", "ticket.finished"):
            t = payload.get("ticket") or {}
            wid = (payload.get("window") or {}).get("id") or payload.get("window_id") or t.get("window_id")
            if wid != self.window_id or not (t.get("id") or payload.get("ticket_id")):
                return
            tid = t.get("id") or payload.get("ticket_id")
            if (
                self.ticket
                and self.ticket.get("id") == tid
                and self.pages.currentWidget() is not self.idle_page
            ):
                return  # finished and rating.requested both arrive for one ticket: ask once
            if self.ticket and self.ticket.get("id") == tid and self.ticket.get("rated"):
                return
            self.ask({**t, "id": tid})
        elif etype in ("clerk.logged_in", "clerk.logged_out", "window.updated"):
            self.load()

    def ask(self, ticket: dict[str, Any]) -> None:
        """Show the five levels for this ticket."""
        self.ticket = dict(ticket)
        self.level = None
        for b in self.level_buttons.values():
            b.setEnabled(True)
        num = ticket.get("number")
        self.rate_title.setText(f"请对本次服务进行评价（{num}号）" if num else "请对本次服务进行评价")
        self.pages.setCurrentWidget(self.rate_page)
        self.back_timer.start(const.RATING_IDLE_S * 1000)

    def choose_level(self, level: int) -> None:
        """Good ratings are saved at once; bad ones (1-2) ask for reasons first."""
        if not self.ticket or self.pages.currentWidget() is not self.rate_page:
            return
        self.level = level
        if level <= const.BAD_RATING_MAX:
            for b in (*self.reason_boxes.values(), *self.detail_buttons.values()):
                b.setChecked(False)
            self.reason_error.setText("")
            self.pages.setCurrentWidget(self.reason_page)
            self.back_timer.start(const.RATING_IDLE_S * 1000)
            return
        self._save(level, [], "")

    def submit_bad(self) -> None:
        """Save a bad rating with its reasons (at least one) and the details tapped, as its text."""
        if self.level is None or self.pages.currentWidget() is not self.reason_page:
            return
        reasons = [r for r, b in self.reason_boxes.items() if b.isChecked()]
        details = [d for d, b in self.detail_buttons.items() if b.isChecked()]
        if not reasons:
            self.reason_error.setText("请至少点选一项原因  Tap at least one reason")
            return
        self._save(self.level, reasons, const.RATING_DETAIL_SEPARATOR.join(details))

    def _save(self, level: int, reasons: list[str], text: str) -> None:
        assert self.ticket is not None
        rating: dict[str, Any] = {
            "ticket_id": self.ticket["id"],
            "level": level,
            "channel": "device",
            "prompted": True,
        }
        if reasons:
            rating["reasons"] = reasons
        if text:
            rating["text"] = text
        # Into the outbox first: if the network is down the rating is still kept.
        saved = self.outbox.add(rating)
        self.ticket["rated"] = True
        self.rating_saved.emit(saved)
        self.thanks_note.setText("")
        self.pages.setCurrentWidget(self.thanks_page)
        self.back_timer.start(const.RATING_THANKS_S * 1000)
        self.flush()

    def flush(self) -> None:
        """Send the outbox in the background (one flush at a time)."""
        if self.flushing or not self.outbox.pending():
            self._update_pending()
            return
        self.flushing = True
        client = self.ctx.client_for("rating")

        def done(n: int) -> None:
            self.flushing = False
            self._update_pending()
            self.delivered.emit(n)

        def failed(exc: BaseException) -> None:
            self.flushing = False
            logger.info("outbox flush failed: %s", exc)
            self._update_pending()

        self.run(lambda: self.outbox.flush(client.rate), done, failed)

    def _update_pending(self) -> None:
        n = len(self.outbox.pending())
        self.pending_label.setText(f"待上传评价 {n} 条（网络恢复后自动上传）" if n else "")
        if n and self.pages.currentWidget() is self.thanks_page:
            self.thanks_note.setText("网络暂时中断，您的评价已保存，恢复后自动提交")

    def go_idle(self) -> None:
        """Back to the clerk-on-duty page."""
        self.pages.setCurrentWidget(self.idle_page)
