"""Hall display: the current call large, recent calls, windows, waiting counts, notices; calls spoken."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout

from kiosk import const
from kiosk.ui.base import RoleScreen
from kiosk.ui.context import AppContext
from kiosk.ui.icons import badge_pixmap
from kiosk.ui.paging import GridItem, PagedGrid
from kiosk.ui.theme import base_scale, display_stylesheet, px, sc
from kiosk.ui.widgets import label
from kiosk.voice.announcer import Announcer
from wire import HallDetailOut, NextUp, SnapshotGroup, SnapshotOut, WindowOut

logger = logging.getLogger(__name__)

# Earlier calls under 最近叫号, two to a row (at the size read across the hall, two rows fit 720p).
RECENT_ROWS = 4
STALE_CALL_S = 120


def _stale(at: Any) -> bool:
    """True for an event older than STALE_CALL_S (clock skew between machines is tolerated)."""
    if not isinstance(at, str):
        return False
    try:
        when = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (datetime.now(UTC) - when).total_seconds() > STALE_CALL_S


def _panel() -> QFrame:
    f = QFrame()
    f.setObjectName("panel")
    return f


def _paging_stylesheet(scale: float) -> str:
    """Text read across the hall (kiosk.const: the reading-distance rule), never below the readable
    minimum (a large hall pages instead): tiles, recent calls, zone headings, the next line."""
    tile = max(px(const.DISPLAY_TILE_PX, scale), const.DISPLAY_MIN_TILE_PX)
    nxt = max(px(const.DISPLAY_NEXT_PX, scale), const.DISPLAY_MIN_TILE_PX)
    zone = px(const.DISPLAY_ZONE_PX, scale)
    return f"""
QWidget#display QLabel[role="tile"] {{ font-size: {tile}px; padding: {px(2, scale)}px 0px; }}
QWidget#display QLabel[role="tilebusy"] {{ font-size: {tile}px; padding: {px(2, scale)}px 0px; }}
QWidget#display QLabel[role="pageinfo"] {{ font-size: {px(36, scale)}px; color: #9fd3ff; }}
QWidget#display QLabel[role="cell"] {{ font-size: {tile}px; }}
QWidget#display QLabel[role="cellnum"] {{ font-size: {tile}px; }}
QWidget#display QLabel[role="zone"] {{ font-size: {zone}px; font-weight: bold; color: #9fd3ff;
  border-bottom: 2px solid #1d4f91; }}
QWidget#display QLabel[role="call"] {{ font-size: {px(const.DISPLAY_CALL_PX, scale)}px; }}
QWidget#display QLabel[role="next"] {{ font-size: {nxt}px; font-weight: bold; color: #9fffb0; }}
"""


class _TitleLabel(QLabel):
    """The hall's name in the top line: cut short with … rather than pushed over the clock."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.setProperty("role", "title")
        self._full = text
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def set_full_text(self, text: str) -> None:
        """Show text, elided to the room the line leaves (the full text is the tooltip)."""
        self._full = text
        self.setToolTip(text)
        self._elide()

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(
            self._full, Qt.TextElideMode.ElideRight, self.contentsRect().width()
        )
        if shown != self.text():
            self.setText(shown)


class HallDisplay(RoleScreen):
    """Follows the hall's events; every ticket.called / ticket.recalled is shown and queued for voice."""

    call_shown = Signal(dict)

    def __init__(self, ctx: AppContext, announcer: Announcer | None = None) -> None:
        super().__init__(ctx, "", header=False)
        self.setObjectName("display")
        self.setStyleSheet(display_stylesheet(base_scale()) + _paging_stylesheet(base_scale()))
        self.announcer = announcer
        self.recent: list[dict[str, Any]] = []
        self.windows: dict[int, WindowOut] = {}
        # The number a window was just called for, shown on its tile until the next snapshot.
        self.calling: dict[int, str] = {}
        self.groups: list[SnapshotGroup] = []
        self.next_up: list[NextUp] = []
        self.notices: list[str] = []
        self.shown_calls: list[str] = []
        self._build()
        self._snap_timer = QTimer(self)
        self._snap_timer.setSingleShot(True)
        self._snap_timer.setInterval(400)
        self._snap_timer.timeout.connect(self.refresh)
        self._marquee = QTimer(self)
        self._marquee.timeout.connect(self._scroll_notice)
        self._marquee.start(250)
        self._marquee_pos = 0
        ctx.events.event.connect(self.on_event)
        ctx.events.online_changed.connect(self._on_online)
        self.load()

    def _build(self) -> None:
        self.body.setContentsMargins(sc(24), sc(6), sc(24), sc(10))
        self.body.setSpacing(sc(12))
        top = QHBoxLayout()
        top.setContentsMargins(sc(30), sc(18), sc(30), sc(8))
        self.title = _TitleLabel(self.ctx.hall_name or "政务服务大厅")
        top.addWidget(self.title, 1)
        # Clock and badge keep their whole width (the title gives way) and a gap between them.
        top.addWidget(self.clock)
        top.addSpacing(sc(const.DISPLAY_CLOCK_GAP))
        top.addWidget(self.badge)
        self.root.insertLayout(0, top)

        main = QHBoxLayout()
        main.setSpacing(sc(24))
        left = QVBoxLayout()
        left.setSpacing(sc(20))
        call = _panel()
        cl = QVBoxLayout(call)
        cl.setContentsMargins(sc(30), sc(18), sc(30), sc(18))
        head = QHBoxLayout()
        head.addWidget(label("正在呼叫 Now calling", "section"), 1)
        # 请 A005 号准备: the next in line of the queues, so they walk over before they are called
        # (beside the panel's title: a line of its own would not leave a 720p screen its height).
        self.next_label = label("", "next", align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.next_label.setObjectName("next-up")
        head.addWidget(self.next_label)
        cl.addLayout(head)
        self.call_label = label("请耐心等候叫号", "call", align=Qt.AlignmentFlag.AlignCenter)
        self.call_label.setObjectName("current-call")
        cl.addWidget(self.call_label, 1)
        self.call_sub = label("Please wait for your number", "callsub", align=Qt.AlignmentFlag.AlignCenter)
        cl.addWidget(self.call_sub)
        left.addWidget(call, 3)
        rec = _panel()
        rl = QVBoxLayout(rec)
        rl.setContentsMargins(sc(30), sc(18), sc(30), sc(18))
        rl.addWidget(label("最近叫号 Recent calls", "section"))
        self.recent_grid = QGridLayout()
        self.recent_grid.setHorizontalSpacing(sc(20))  # a window's name apart from the next number
        self.recent_cells: list[tuple[QLabel, QLabel]] = []
        for i in range(RECENT_ROWS):
            num, win = label("", "cellnum"), label("", "cell")
            self.recent_grid.addWidget(num, i // 2, (i % 2) * 2)
            self.recent_grid.addWidget(win, i // 2, (i % 2) * 2 + 1)
            self.recent_cells.append((num, win))
        rl.addLayout(self.recent_grid)
        left.addWidget(rec, 2)
        main.addLayout(left, 5)

        right = QVBoxLayout()
        right.setSpacing(sc(20))
        wp = _panel()
        wl = QVBoxLayout(wp)
        wl.setContentsMargins(sc(24), sc(18), sc(24), sc(18))
        page_ms = round(self.ctx.config.display.page_seconds * 1000)
        self.win_grid = PagedGrid(page_ms, col_gap=sc(16), row_gap=sc(6), part_gap=0)
        self.win_grid.setObjectName("window-grid")
        self.win_title = label(const.DISPLAY_WINDOWS_ALL, "section")
        wl.addLayout(self._section(self.win_title, self.win_grid))
        # A large hall before its first call: no window serving, and no page of 空闲 instead.
        self.win_empty = label(const.DISPLAY_NONE_SERVING, "tile", align=Qt.AlignmentFlag.AlignCenter)
        self.win_empty.hide()
        wl.addWidget(self.win_empty)
        wl.addWidget(self.win_grid, 1)
        right.addWidget(wp, 3)
        gp = _panel()
        gl = QVBoxLayout(gp)
        gl.setContentsMargins(sc(24), sc(18), sc(24), sc(18))
        self.group_grid = PagedGrid(page_ms, col_gap=sc(24), row_gap=sc(6), part_gap=sc(12))
        self.group_grid.setObjectName("group-grid")
        gl.addLayout(self._section(label("等候人数 Waiting", "section"), self.group_grid))
        gl.addWidget(self.group_grid, 1)
        right.addWidget(gp, 2)
        self._right = right
        self.win_grid.rows_wanted_changed.connect(self._share_height)
        self.win_grid.idle_left_out_changed.connect(self._name_window_panel)
        self.group_grid.rows_wanted_changed.connect(self._share_height)
        main.addLayout(right, 4)
        self.body.addLayout(main, 1)
        row = QHBoxLayout()
        row.setSpacing(0)
        tag = label("", None)
        tag.setPixmap(badge_pixmap("公告", sc(52)))
        row.addWidget(tag)
        self.notice = label("", "notice")
        self.notice.setObjectName("notice")
        self.notice.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row.addWidget(self.notice, 1)
        self.body.addLayout(row)

    def _share_height(self) -> None:
        """Windows and waiting panels split the column by the rows each needs (plus its title), so
        a hall with few groups gives its windows more room; both page when even that is not enough."""
        rows = (self.win_grid.rows_wanted, self.group_grid.rows_wanted)
        if 0 in rows:
            return
        # The windows first: the waiting counts take at most half the windows' rows (a large hall
        # pages its 16 queues rather than shrink the windows to a row or two).
        rows = (rows[0], min(rows[1], max(2, rows[0] // 2)))
        for i, n in enumerate(rows):
            want = max(n, 2) + const.DISPLAY_PANEL_TITLE_ROWS
            if self._right.stretch(i) != want:
                self._right.setStretch(i, want)

    def _name_window_panel(self, serving_only: bool) -> None:
        """窗口 when every window shows, 办理中窗口 when the idle ones are left out (a large hall)."""
        self.win_title.setText(const.DISPLAY_WINDOWS_SERVING if serving_only else const.DISPLAY_WINDOWS_ALL)
        none = serving_only and not self.win_grid.shown
        if self.win_empty.isHidden() == none:
            self.win_empty.setVisible(none)

    @staticmethod
    def _section(title: QLabel, grid: PagedGrid) -> QHBoxLayout:
        """A panel's title with the grid's page indicator (第1/3页) on the right."""
        row = QHBoxLayout()
        row.addWidget(title, 1)
        row.addWidget(grid.indicator)
        return row

    # -- data ---------------------------------------------------------------------------------
    def load(self) -> None:
        """Hall info and snapshot, then follow events from the snapshot's sequence number."""
        client, hall = self.ctx.client, self.ctx.hall_id

        def fetch() -> tuple[HallDetailOut, SnapshotOut]:
            return client.hall(hall), client.snapshot(hall)

        def done(res: tuple[HallDetailOut, SnapshotOut]) -> None:
            info, snap = res
            self.ctx.hall = info
            self.title.set_full_text(f"{self.ctx.hall_name} · 叫号信息")
            self.notices = list(info.notices)
            self.apply_snapshot(snap)
            if self.ctx.events.channel is None:
                self.ctx.start_events(snap.last_seq)
            self.mark_ready()

        def failed(exc: BaseException) -> None:
            self.message.show_error(exc)
            self.mark_ready()
            QTimer.singleShot(3000, self.load)  # keep trying: a display has nobody to press retry

        self.run(fetch, done, failed)

    def refresh(self) -> None:
        """Re-read the snapshot (waiting counts, windows)."""
        self.run(lambda: self.ctx.client.snapshot(self.ctx.hall_id), self.apply_snapshot, lambda e: None)

    def apply_snapshot(self, snap: SnapshotOut) -> None:
        """Show windows, groups and recent calls from a snapshot."""
        self.groups = snap.groups
        self.next_up = snap.next_up
        self.windows = {w.id: w for w in snap.windows}
        self.calling = {}
        if not self.recent:
            for c in snap.recent_calls[: RECENT_ROWS + 1]:
                info = self._call_info(c.payload)
                if info:
                    self.recent.append(info)
            if self.recent:
                self._show_current(self.recent[0])
        self._render()
        current = self._window_of(self.recent[0]) if self.recent else None
        self.win_grid.pin(current.id if current is not None else None)

    def _on_online(self, online: bool) -> None:
        if online:
            self._snap_timer.start()

    @staticmethod
    def _call_info(payload: dict[str, Any]) -> dict[str, Any] | None:
        """What the screen shows of a call event's payload (the socket's events are JSON objects)."""
        t = payload.get("ticket") or {}
        w = payload.get("window") or {}
        number = t.get("number") or payload.get("number")
        win_no = w.get("number") or t.get("window_number") or payload.get("window_number")
        if not number or win_no is None:
            return None
        return {
            "number": number,
            "window_number": win_no,
            "window_name": w.get("name", ""),
            "window_id": w.get("id") or t.get("window_id"),
            "ticket": t,
        }

    def on_event(self, ev: dict[str, Any]) -> None:
        """Calls are shown and announced; other changes refresh the counts."""
        etype = ev.get("type", "")
        if etype in ("ticket.called", "ticket.recalled", "ticket.called_back"):
            info = self._call_info(ev.get("payload", ev))
            if info:
                # Calls replayed after an outage are shown but not spoken: nobody waits for them any more.
                self.show_call(info, speak=not _stale(ev.get("at")), recall=etype == "ticket.recalled")
        if str(etype).startswith(("ticket.", "window.", "clerk.")):
            self._snap_timer.start()
        if etype == const.EV_HALL_UPDATED:
            # The manager changed the hall's rules: the ticker takes the new notices now, no restart.
            rules = (ev.get("payload") or {}).get("rules") or {}
            if isinstance(rules.get("notices"), list):
                self.notices = [str(n) for n in rules["notices"]]
                self._marquee_pos = 0
                self._scroll_notice()

    def show_call(self, info: dict[str, Any], speak: bool = True, recall: bool = False) -> None:
        """Put a call on top, keep the recent list, queue the announcement."""
        self.recent = [r for r in self.recent if r["number"] != info["number"]]
        self.recent.insert(0, info)
        del self.recent[RECENT_ROWS + 1 :]  # the current call and the cells below it
        self._show_current(info)
        win = self._window_of(info)
        if win is not None and info.get("ticket", {}).get("number"):
            # The tile shows the new number now (the snapshot follows).
            self.calling[win.id] = info["ticket"]["number"]
        self.shown_calls.append(info["number"])
        self._render()
        # The called window is on every page while its call is the one in 正在呼叫.
        self.win_grid.pin(win.id if win is not None else None)
        if self.announcer and speak:
            self.announcer.announce_call(info["number"], info["window_number"], recall=recall)
        self.call_shown.emit(info)

    def _show_current(self, info: dict[str, Any]) -> None:
        self.call_label.setText(f"请 {info['number']} 号\n到 {info['window_number']} 号窗口办理")
        self.call_sub.setText(f"No. {info['number']}, please go to window {info['window_number']}")

    def _render(self) -> None:
        earlier = self.recent[1:]  # the current call is large above: 最近叫号 does not repeat it
        for i, (num, win) in enumerate(self.recent_cells):
            if i < len(earlier):
                r = earlier[i]
                num.setText(r["number"])
                win.setText(f"→ {r['window_number']}号窗口")
            else:
                num.setText("")
                win.setText("")
        numbers = [n.number for n in self.next_up[: const.DISPLAY_NEXT_SHOWN]]
        self.next_label.setText(f"请 {'、'.join(numbers)} 号准备" if numbers else "")
        zoned = any(w.zone for w in self.windows.values())
        # Grouped by zone (B区 before C区), windows without one last; by number within a zone.
        wins = sorted(self.windows.values(), key=lambda w: (w.zone is None, w.zone or "", w.number))
        top = max((w.number for w in wins), default=0)
        widest_win = GridItem(None, ((f"{top}号  {const.DISPLAY_WIDEST_TICKET}", "tilebusy"),))
        self.win_grid.set_items([self._window_item(w, zoned) for w in wins], widest_win)
        self._name_window_panel(self.win_grid.idle_left_out)
        widest_count = GridItem(None, (("", "tile"), (const.DISPLAY_WIDEST_COUNT, "tilebusy")))
        self.group_grid.set_items([self._group_item(g) for g in self.groups], widest_count)

    def _window_of(self, info: dict[str, Any]) -> WindowOut | None:
        """The window of a call, by id, else by number."""
        if info.get("window_id") in self.windows:
            return self.windows[info["window_id"]]
        return next((w for w in self.windows.values() if w.number == info["window_number"]), None)

    def _window_item(self, w: WindowOut, zoned: bool) -> GridItem:
        number = self.calling.get(w.id) or (w.current.number if w.current else "")
        status = w.status
        state = number or (const.WINDOW_STATUS_ZH.get(status, "") if status != "open" else "空闲")
        text = f"{w.number}号  {state}"
        section = (w.zone or const.DISPLAY_NO_ZONE) if zoned else ""
        # A window without a ticket in hand is left out when the hall's windows need more than a page.
        return GridItem(w.id, ((text, "tilebusy" if number else "tile"),), w.name, section, idle=not number)

    @staticmethod
    def _group_item(g: SnapshotGroup) -> GridItem:
        wait = g.estimated_wait_minutes
        count = f"{g.waiting}人" + (f" 约{wait}分" if wait else "")
        name = f"{g.prefix} {g.name}"
        return GridItem(g.prefix, ((name, "tile"), (count, "tilebusy")))

    def _scroll_notice(self) -> None:
        text = (
            "　　".join(self.notices)
            if self.notices
            else "欢迎来到政务服务大厅，请留意叫号信息，过号无效请重新取号。"
        )
        room = self.notice.contentsRect().width()
        metrics = self.notice.fontMetrics()
        if metrics.horizontalAdvance(text) <= room:
            self.notice.setText(text)
            return
        padded = text + "　　　　"
        self._marquee_pos = (self._marquee_pos + 1) % len(padded)
        turned = padded[self._marquee_pos :] + padded[: self._marquee_pos]
        # As many characters as the line holds at its size (a 720p screen holds fewer).
        n = max(1, room // max(1, metrics.horizontalAdvance("中")))
        while n > 1 and metrics.horizontalAdvance(turned[:n]) > room:
            n -= 1
        self.notice.setText(turned[:n])
