"""Garbage collection on the Qt thread only, as Anki does it.

Python's cyclic collector runs in whichever thread happens to allocate when a generation fills
up. If that is a worker of the task pool and the garbage holds a Qt object (a screen's closure,
a finished widget), Qt frees it off its own thread and the process crashes. So automatic
collection is off while Qt runs, and a timer collects on the Qt thread instead.
"""

from __future__ import annotations

import gc
import logging

from PySide6.QtCore import QObject, QTimer

logger = logging.getLogger(__name__)

COLLECT_INTERVAL_MS = 5_000


class MainThreadCollector(QObject):
    """Turns automatic collection off and collects on a Qt timer; stop() turns it back on."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = COLLECT_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect)
        self._timer.start(interval_ms)

    def collect(self) -> int:
        """Collect now (on the Qt thread); the number of unreachable objects found."""
        found = gc.collect()
        if found:
            logger.debug("collected %d unreachable objects", found)
        return found

    def stop(self) -> None:
        """Stop the timer, collect once more here, and restore automatic collection."""
        self._timer.stop()
        self.collect()
        if self._was_enabled:
            gc.enable()
