"""Rating terminal beside one window: clerk on duty, five-level rating, reasons on a bad one, outbox."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QSizePolicy,
    QStackedWidget,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from kiosk import const
from kiosk.outbox import RatingOutbox
from kiosk.ui.base import RoleScreen
from kiosk.ui.context import AppContext
from kiosk.ui.icons import face_icon, person_pixmap
from kiosk.ui.theme import sc
from kiosk.ui.widgets import button, card, label
from wire import SnapshotOut, WindowOut

logger = logging.getLogger(__name__)

LEVEL_COLORS = {5: "#0a7d3b", 4: "#2e8b57", 3: "#0b4f9c", 2: "#b35900", 1: "#c8102e"}


class RatingTerminal(RoleScreen):
    """Asks for a rating when its window finishes a ticket; keeps unsent ratings in an outbox."""

    rating_saved = Signal(dict)  # stored locally (maybe not yet delivered)
    delivered = Signal(int)  # how many outbox ratings the last flush delivered

    def __init__(self, ctx: AppContext, outbox: RatingOutbox) -> None:
        super().__init__(ctx, "服务评价", "Rate our service")
        self.outbox = outbox
        self.window_id = ctx.config.window_id
        self.window: WindowOut | None = None
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
        bl.addWidget(self.window_label)
        person = label("", None, align=Qt.AlignmentFlag.AlignCenter)
        person.setPixmap(person_pixmap(sc(220)))
        bl.addWidget(person)
        self.clerk_label = label("", "big", align=Qt.AlignmentFlag.AlignCenter)
        self.clerk_label.setObjectName("clerk-on-duty")
        bl.addWidget(self.clerk_label)
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
        row = QHBoxLayout()
        row.setSpacing(sc(20))
        self.level_buttons = {}
        for level in (5, 4, 3, 2, 1):
            b = QToolButton()
            b.setObjectName(f"level-{level}")
            b.setProperty("role", "level")
            b.setText(f"{const.RATING_LEVELS[level]}\n{const.RATING_LEVELS_EN[level]}")
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

    def _build_reasons(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addWidget(label("很抱歉给您带来不便，请告诉我们哪里做得不好", "title", wrap=True))
        lay.addWidget(label("What went wrong? (choose one or more)", "en"))
        grid = QGridLayout()
        self.reason_boxes: dict[str, QCheckBox] = {}
        for i, r in enumerate(const.RATING_REASONS):
            cb = QCheckBox(r)
            cb.setObjectName(f"reason-{i}")
            cb.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            self.reason_boxes[r] = cb
            grid.addWidget(cb, i // 2, i % 2)
        lay.addLayout(grid)
        lay.addWidget(label("其他意见（选填）", None))
        self.reason_text = QTextEdit()
        self.reason_text.setObjectName("reason-text")
        self.reason_text.setAccessibleName("其他意见")
        self.reason_text.setTabChangesFocus(True)  # Tab goes on to 提交评价, it types no tab
        self.reason_text.setPlaceholderText("请输入您的意见或建议")
        lay.addWidget(self.reason_text, 1)
        self.reason_error = label("", "subtitle")
        lay.addWidget(self.reason_error)
        row = QHBoxLayout()
        row.addWidget(button("返回重选 Back", lambda: self.pages.setCurrentWidget(self.rate_page)))
        self.submit_btn = button("提交评价 Submit", self.submit_bad, "primary", name="submit")
        row.addWidget(self.submit_btn)
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

        def fetch() -> SnapshotOut:
            if self.window_id is None:
                self.window_id = client.me().window_id
            return client.snapshot(hall)

        def done(snap: SnapshotOut) -> None:
            for w in snap.windows:
                if w.id == self.window_id:
                    self.window = w
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
        # The window's clerk is {id, name} on the wire: no staff number to show.
        name = w.clerk.name if w and w.clerk else None
        if name:
            self.clerk_label.setText(f"为您服务的是：{name}")
        else:
            self.clerk_label.setText("本窗口暂无工作人员")

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
            for cb in self.reason_boxes.values():
                cb.setChecked(False)
            self.reason_text.clear()
            self.reason_error.setText("")
            self.pages.setCurrentWidget(self.reason_page)
            self.back_timer.start(const.RATING_IDLE_S * 1000)
            return
        self._save(level, [], "")

    def submit_bad(self) -> None:
        """Save a bad rating with its reasons (at least one reason or some text)."""
        if self.level is None or self.pages.currentWidget() is not self.reason_page:
            return
        reasons = [r for r, cb in self.reason_boxes.items() if cb.isChecked()]
        text = self.reason_text.toPlainText().strip()
        if not reasons and not text:
            self.reason_error.setText("请至少选择一项原因或填写意见")
            return
        self._save(self.level, reasons, text)

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
