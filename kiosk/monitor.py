"""Watches this machine's hardware off the UI thread and tells listeners of each fault raised or cleared.

The printer, camera and voice are polled in the TaskRunner's pool every `health_poll_s`; the ID reader
reports its own state by signal (and is checked at each poll too, for a reader that never came up).
A listener hears (code, message) when a fault appears and (code, None) when it clears; the screens
pass that on to the hall server at once (RoleScreen.set_fault), so managers see it within seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

from kiosk import const

if TYPE_CHECKING:
    from kiosk.ui.context import AppContext

logger = logging.getLogger(__name__)

Listener = Callable[[str, "str | None"], None]
PRINTER_CODES = (const.FAULT_PAPER_OUT, const.FAULT_PAPER_LOW, const.FAULT_COVER_OPEN, const.FAULT_OFFLINE)


def printer_faults(status: Any) -> dict[str, str | None]:
    """The printer's faults from its PrinterStatus: paper out hides paper low, out/cover hide offline."""
    out = bool(status.paper_out)
    cover = bool(status.cover_open)
    found = {
        const.FAULT_PAPER_OUT: out,
        const.FAULT_COVER_OPEN: cover,
        const.FAULT_OFFLINE: not status.online and not (out or cover),
        const.FAULT_PAPER_LOW: bool(status.paper_low) and not out,
    }
    return {code: const.FAULT_ZH[code] if on else None for code, on in found.items()}


class DeviceMonitor(QObject):
    """One per machine (AppContext.extras['monitor']): polls the hardware and reports changes to listeners."""

    def __init__(self, ctx: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.last: dict[str, str | None] = {}  # what the hardware said at the last look
        self._listeners: list[Listener] = []
        self._busy = False
        self._reader_connected = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.poll)
        self._timer.setInterval(int(ctx.config.health_poll_s * 1000))

    @classmethod
    def of(cls, ctx: AppContext) -> DeviceMonitor:
        """The machine's monitor, created and started on first use."""
        monitor = ctx.extras.get("monitor")
        if monitor is None:
            monitor = ctx.extras["monitor"] = cls(ctx)
            monitor.start()
        return monitor

    def start(self) -> None:
        """Follow the reader's state and start polling."""
        reader = self.ctx.reader
        if reader is not None and not self._reader_connected:
            reader.state_changed.connect(self._on_reader_state)
            self._reader_connected = True
        self._timer.start()

    def stop(self) -> None:
        """Stop polling (a probe already running finishes and is ignored)."""
        self._timer.stop()
        if self._reader_connected and self.ctx.reader is not None:
            self.ctx.reader.state_changed.disconnect(self._on_reader_state)
            self._reader_connected = False
        self._listeners.clear()

    def on_change(self, listener: Listener) -> Callable[[], None]:
        """Call listener(code, message or None) on each change; returns the unsubscribe function."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def poll(self) -> None:
        """Look at the hardware in the task pool (one look at a time)."""
        if self._busy:
            return
        self._busy = True
        self.ctx.runner.run(self.probe, self._apply, self._probe_failed)

    def probe(self) -> dict[str, str | None]:
        """Every watched fault code -> its message, or None when clear (blocking: runs in the pool)."""
        found: dict[str, str | None] = {}
        reader = self.ctx.reader
        if reader is not None and reader.url:
            found[const.FAULT_READER] = (
                None if reader.state == "ready" else const.FAULT_ZH[const.FAULT_READER]
            )
        printer = self.ctx.printer
        if printer is not None and printer.configured:
            try:
                found.update(printer_faults(printer.status()))
            except Exception as exc:
                logger.info("printer status unavailable: %s", exc)
                found.update(dict.fromkeys(PRINTER_CODES))
                found[const.FAULT_OFFLINE] = const.FAULT_ZH[const.FAULT_OFFLINE]
        camera = self.ctx.camera
        if camera is not None and camera.configured:
            try:
                camera.probe()
                found[const.FAULT_CAMERA] = None
            except Exception as exc:
                logger.info("camera check failed: %s", exc)
                found[const.FAULT_CAMERA] = const.FAULT_ZH[const.FAULT_CAMERA]
        announcer = self.ctx.extras.get("announcer")
        if announcer is not None:
            found[const.FAULT_VOICE] = voice_fault(announcer)
        return found

    def _apply(self, found: dict[str, str | None]) -> None:
        self._busy = False
        for code, message in found.items():
            self._set(code, message)

    def _probe_failed(self, exc: BaseException) -> None:
        self._busy = False
        logger.warning("device check failed: %s", exc)

    def _on_reader_state(self, state: str) -> None:
        self._set(const.FAULT_READER, None if state == "ready" else const.FAULT_ZH[const.FAULT_READER])

    def _set(self, code: str, message: str | None) -> None:
        prev = self.last.get(code)
        reported = (self.ctx.extras.get("faults") or {}).get(code)
        # Unchanged, and the machine's fault table agrees (a failed print may have raised it meanwhile).
        if code in self.last and prev == message and reported == message:
            return
        self.last[code] = message
        if message is not None and prev != message:
            logger.warning("device fault %s: %s", code, message)
        elif message is None and prev is not None:
            logger.info("device fault %s cleared", code)
        for listener in list(self._listeners):
            listener(code, message)


def voice_fault(announcer: Any) -> str | None:
    """What the voice reports: no synthesizer, or the last error its speaker or announcer kept."""
    synth = getattr(announcer, "synth", None)
    if synth is not None and not getattr(synth, "available", True):
        return const.FAULT_ZH[const.FAULT_VOICE] + "（未找到语音合成程序）"
    for source in (getattr(announcer, "speaker", None), announcer):
        error = getattr(source, "last_error", None)
        if error:
            return f"{const.FAULT_ZH[const.FAULT_VOICE]}：{error}"
    return None
