"""The frame shared by every role screen: header with clock and connection badge, body, message line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from kiosk import const
from kiosk.monitor import DeviceMonitor
from kiosk.ui.context import AppContext
from kiosk.ui.focus import FOCUS_ROOT, focus_root, install_key_activation, move_focus
from kiosk.ui.theme import sc
from kiosk.ui.widgets import ConnectionBadge, MessageLine, header_bar, label

logger = logging.getLogger(__name__)

WEEKDAYS = "一二三四五六日"


def health_status(codes: list[str]) -> str:
    """ok with no faults, warning when every fault only warns (paper low), else fault."""
    if not codes:
        return const.STATUS_OK
    return const.STATUS_WARNING if all(c in const.FAULT_WARNINGS for c in codes) else const.STATUS_FAULT


class RoleScreen(QWidget):
    """Base of the role screens; `ready` fires once the first data has loaded (or failed to)."""

    ready = Signal()

    def __init__(self, ctx: AppContext, title: str, subtitle: str = "", *, header: bool = True) -> None:
        super().__init__()
        self.ctx = ctx
        self.setObjectName("root")
        self.setProperty(FOCUS_ROOT, True)
        install_key_activation()
        self.is_ready = False
        self.root = QVBoxLayout(self)
        self.root.setContentsMargins(0, 0, 0, 0)
        self.root.setSpacing(0)
        self.badge = ConnectionBadge()
        self.clock = label("", None)
        self.header_title = None
        if header:
            frame, right, self.header_title = header_bar(title, subtitle, bool(ctx.extras.get("compact")))
            self.header_right = right
            # The badge comes and goes (only a problem shows): leftmost, so that nothing right of it,
            # a button under a finger, moves when it does.
            right.addWidget(self.badge)
            right.addWidget(self.clock)
            self.root.addWidget(frame)
        self.body = QVBoxLayout()
        self.body.setContentsMargins(sc(28), sc(20), sc(28), sc(20))
        self.body.setSpacing(sc(16))
        self.root.addLayout(self.body, 1)
        self.message = MessageLine()
        self.root.addWidget(self.message)
        self._clock_timer = QTimer(self)
        self._clock_timer.timeout.connect(self._tick)
        self._clock_timer.start(1000)
        self._tick()
        ctx.events.online_changed.connect(self.badge.set_online)
        self.badge.set_online(ctx.events.online, first=not ctx.events.online)
        # A heartbeat now and every heartbeat_s (and at once on a fault) so managers see the machine
        # and its faults; the machine's DeviceMonitor polls the hardware in the task pool. The beat
        # is the machine's, not the screen's: on a village station three screens share one
        # machine, and only the first of them reports for it.
        if ctx.extras.setdefault("heartbeat_screen", self) is self:
            self._hb_timer = QTimer(self)
            self._hb_timer.timeout.connect(self.report_health)
            self._hb_timer.start(int(ctx.config.heartbeat_s * 1000))
            QTimer.singleShot(0, self.report_health)
            unsubscribe = DeviceMonitor.of(ctx).on_change(self.set_fault)
            self.destroyed.connect(lambda *_: unsubscribe())

    def focusNextPrevChild(self, next: bool) -> bool:
        """Tab and Shift+Tab go through the screen's controls in reading order (kiosk.ui.focus)."""
        return move_focus(focus_root(self), next)

    def _tick(self) -> None:
        now = datetime.now(ZoneInfo(self.ctx.config.timezone))
        self.clock.setText(f"{now:%Y年%m月%d日} 星期{WEEKDAYS[now.weekday()]} {now:%H:%M}")

    def mark_ready(self) -> None:
        """Say the first screen is complete (used by --screenshot and tests)."""
        if not self.is_ready:
            self.is_ready = True
            self.ready.emit()

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run blocking work in the background; errors go to the message line unless handled."""
        self.ctx.runner.run(fn, on_done, on_error or self.message.show_error)

    def set_fault(self, code: str, message: str | None) -> None:
        """Raise (message) or clear (None) a fault of this machine and tell the server now."""
        faults: dict[str, str] = self.ctx.extras.setdefault("faults", {})
        changed = (faults.get(code) != message) if message is not None else (code in faults)
        if message is None:
            faults.pop(code, None)
        else:
            faults[code] = message
        if changed:
            self.report_health()

    def report_health(self) -> None:
        """POST /devices/heartbeat with the machine's outstanding faults (failures only logged).

        One report at a time per machine: two faults changing at once (paper low cleared, paper
        out raised) would otherwise race in the task pool, and the server could keep the older
        state. A report asked for while one is on its way is sent, with the faults as they are
        then, when that one is done.
        """
        beat: dict[str, bool] = self.ctx.extras.setdefault("heartbeat", {"busy": False, "again": False})
        if beat["busy"]:
            beat["again"] = True
            return
        faults = self.ctx.extras.get("faults") or {}
        cfg = self.ctx.config
        client = getattr(self, "client", None) or self.ctx.client
        if not client.token:
            return
        body = [{"code": c, "message": m} for c, m in faults.items()]
        kind = const.DEVICE_KINDS.get(cfg.role, cfg.role)
        status = health_status(list(faults))
        beat["busy"] = True

        def done(_result: Any = None) -> None:
            beat["busy"] = False
            if beat["again"]:
                beat["again"] = False
                self.report_health()

        def failed(exc: BaseException) -> None:
            logger.info("heartbeat not delivered: %s", exc)
            done()

        self.ctx.runner.run(
            lambda: client.heartbeat(cfg.effective_device_id, kind, status, body), done, failed
        )

    def handles_devices(self) -> bool:
        """Only the visible screen reacts to the shared ID reader (a village station has several)."""
        return self.isVisible()
