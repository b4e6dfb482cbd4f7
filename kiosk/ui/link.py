"""The station's link to the city, as a village station (and a clerk at a station) sees it.

A village station runs its own hall server, which syncs with the city by itself; every screen keeps
working while that link is down. What the people at the station need to know is only that the link
has a problem and what it means for them: `LinkWatcher` asks the station's server (GET /sync/link,
in the task pool, every `link_poll_s`) and `LinkBanner` shows a plain two-line notice (zh_CN, then
English) while the state is not "ok". A server that is no station (mode "standalone") shows nothing.
The clerk may see an unobtrusive 已同步 HH:MM (`SyncedLabel`) while all is well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout

from kiosk import const
from kiosk.api import HallClient
from kiosk.ui.theme import base_scale, px
from kiosk.ui.widgets import label, restyle
from wire.sync import LinkOut

if TYPE_CHECKING:
    from kiosk.ui.context import AppContext

logger = logging.getLogger(__name__)

# The states that need the administrator (red); the others (down, refused) mend themselves or are
# the network's (amber).
SERIOUS = ("revoked", "rewound", "epoch_conflict")
KEEPS_SERVING = ("本站业务照常办理", "this station keeps serving")


def clock_text(iso: str | None, tz: str = const.HALL_TIMEZONE, now: datetime | None = None) -> str | None:
    """An ISO time as the hall's HH:MM (MM月DD日 HH:MM when not today); None when absent or unreadable."""
    if not iso:
        return None
    try:
        at = datetime.fromisoformat(iso).astimezone(ZoneInfo(tz))
    except ValueError:
        return None
    today = (now or datetime.now(ZoneInfo(tz))).astimezone(ZoneInfo(tz)).date()
    return f"{at:%H:%M}" if at.date() == today else f"{at.month}月{at.day}日 {at:%H:%M}"


def link_lines(link: LinkOut | None, tz: str = const.HALL_TIMEZONE) -> tuple[str, str] | None:
    """The banner's (Chinese line, English line), or None when there is nothing to say."""
    if link is None or link.mode != "station" or link.state in (None, "ok"):
        return None
    n = int(link.waiting or 0)
    last = clock_text(link.last_ok_at, tz)
    if link.state == "revoked":
        zh = ["本站授权已被市中心撤销，请联系管理员"]
        en = ["The city revoked this station's authorisation; please call the administrator"]
    elif link.state in ("rewound", "epoch_conflict"):
        zh = ["本站数据与市中心不一致，请联系管理员"]
        en = ["This station's data disagree with the city's; please call the administrator"]
    elif link.state == "refused":
        zh = ["市中心拒绝接收本站数据，请联系管理员"]
        en = ["The city refuses this station's records; please call the administrator"]
    else:  # down
        zh = ["与市中心的连接已中断" + (f"（上次同步 {last}）" if last else "")]
        en = ["The link to the city is down" + (f" (last synced {last})" if last else "")]
    if n:
        pending = "等待上传" if link.state in ("down", "refused") else "未上传"
        zh.append(f"{n} 条记录{pending}")
        en.append(
            f"{n} record{'s' if n != 1 else ''} {'waiting to upload' if pending == '等待上传' else 'not uploaded'}"
        )
    zh.append(KEEPS_SERVING[0])
    en.append(KEEPS_SERVING[1])
    return " · ".join(zh), " · ".join(en)


def synced_text(link: LinkOut | None, tz: str = const.HALL_TIMEZONE) -> str | None:
    """已同步 HH:MM for a station whose link is fine; None otherwise (and on a standalone server)."""
    if link is None or link.mode != "station" or link.state != "ok":
        return None
    last = clock_text(link.last_ok_at, tz)
    return f"✓ 已同步 {last}" if last else "✓ 已同步"


class LinkWatcher(QObject):
    """One per machine (AppContext.extras['link']): polls GET /sync/link in the task pool.

    `changed` carries the latest LinkOut (on the Qt thread). A failed poll (the station's own server
    unreachable: the header badge says so) keeps the last answer. At most one poll is in flight.
    """

    changed = Signal(object)

    def __init__(self, ctx: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.last: LinkOut | None = None
        self._clients: list[Callable[[], HallClient | None]] = [lambda: ctx.client]
        self._busy = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.poll)
        self._interval_ms = int(ctx.config.link_poll_s * 1000)
        self._timer.setInterval(self._interval_ms)

    @classmethod
    def of(cls, ctx: AppContext) -> LinkWatcher:
        """The machine's watcher, created and started on first use."""
        watcher = ctx.extras.get("link")
        if watcher is None:
            watcher = ctx.extras["link"] = cls(ctx)
            watcher.start()
        return watcher

    def use(self, client: Callable[[], HallClient | None]) -> None:
        """Another client to ask with when the machine's own has no token (a clerk's, after log-in)."""
        self._clients.append(client)

    def start(self) -> None:
        """Poll now and every link_poll_s."""
        self._timer.start()
        QTimer.singleShot(0, self.poll)

    def stop(self) -> None:
        """Stop polling (a poll already running finishes and is ignored)."""
        self._timer.stop()

    def _client(self) -> HallClient | None:
        for get in self._clients:
            client = get()
            if client is not None and client.token:
                return client
        return None

    def poll(self) -> None:
        """Ask the server once, in the background."""
        client = self._client()
        if self._busy or client is None or not self._timer.isActive():
            return
        self._busy = True
        self.ctx.runner.run(client.link, self._answered, self._failed)

    def _answered(self, link: LinkOut) -> None:
        self._busy = False
        # A server that is no station will not become one without a restart: ask seldom.
        slow = link.mode != "station"
        interval = int(const.LINK_STANDALONE_POLL_S * 1000) if slow else self._interval_ms
        if self._timer.isActive() and self._timer.interval() != interval:
            self._timer.setInterval(interval)
        self.last = link
        self.changed.emit(link)

    def _failed(self, exc: BaseException) -> None:
        self._busy = False
        logger.info("link state not read: %s", exc)


class LinkBanner(QFrame):
    """An always-visible notice under the header while the station's link to the city has a problem."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.setObjectName("link-banner")
        self.tz = ctx.config.timezone
        k = base_scale()
        self.setStyleSheet(
            f'QFrame#link-banner[role="warn"] {{ background: {const.COLOR_WARN_BG};'
            f" border-bottom: {px(3, k)}px solid #d39e00; }}"
            f' QFrame#link-banner[role="serious"] {{ background: {const.COLOR_ACCENT}; }}'
            f' QFrame#link-banner[role="warn"] QLabel {{ color: {const.COLOR_WARN_TEXT}; }}'
            f' QFrame#link-banner[role="serious"] QLabel {{ color: #ffffff; }}'
            f" QLabel#link-zh {{ font-size: {px(28, k)}px; font-weight: bold; }}"
            f" QLabel#link-en {{ font-size: {px(20, k)}px; }}"
        )
        lay = QVBoxLayout(self)
        lay.setContentsMargins(px(28, k), px(8, k), px(28, k), px(8, k))
        lay.setSpacing(px(2, k))
        self.zh: QLabel = label("", None, align=Qt.AlignmentFlag.AlignCenter)
        self.zh.setObjectName("link-zh")
        self.en: QLabel = label("", None, align=Qt.AlignmentFlag.AlignCenter)
        self.en.setObjectName("link-en")
        lay.addWidget(self.zh)
        lay.addWidget(self.en)
        self.state: str | None = None
        self.hide()
        watcher = LinkWatcher.of(ctx)
        watcher.changed.connect(self.show_link)
        if watcher.last is not None:
            self.show_link(watcher.last)

    def show_link(self, link: LinkOut | None) -> None:
        """Show the notice for this link state, or hide when all is well (or no station)."""
        lines = link_lines(link, self.tz)
        self.state = link.state if link is not None else None
        if lines is None:
            self.zh.setText("")
            self.en.setText("")
            self.hide()
            return
        self.zh.setText("⚠ " + lines[0])
        self.en.setText(lines[1])
        restyle(self, "serious" if self.state in SERIOUS else "warn")
        self.show()

    def text(self) -> str:
        """Both lines (tests)."""
        return f"{self.zh.text()}\n{self.en.text()}" if self.isVisible() else ""


class SyncedLabel(QLabel):
    """已同步 HH:MM in the clerk's header while the station's link is fine; hidden otherwise."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.setObjectName("link-synced")
        self.tz = ctx.config.timezone
        self.setStyleSheet(f"QLabel#link-synced {{ font-size: {px(20, base_scale())}px; }}")
        self.hide()
        watcher = LinkWatcher.of(ctx)
        watcher.changed.connect(self.show_link)
        if watcher.last is not None:
            self.show_link(watcher.last)

    def show_link(self, link: LinkOut | None) -> None:
        """Update the text, or hide."""
        text = synced_text(link, self.tz)
        self.setText(text or "")
        self.setVisible(bool(text))
