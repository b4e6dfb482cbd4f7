"""Runs network and device work on a thread pool; results come back on the Qt thread by signal."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal

logger = logging.getLogger(__name__)


class TaskRunner(QObject):
    """Like Anki's TaskManager: run_in_background(fn, on_done) with on_done called on the Qt thread."""

    _closure = Signal(object)

    def __init__(self, workers: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kiosk-task")
        self._closure.connect(self._run_closure)
        self.pending = 0
        self.closed = False

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> Future | None:
        """Run fn() in the pool; on_done(result) or on_error(exc) runs later on the Qt thread."""
        if self.closed:
            # A timer of a closing screen may still fire; there is nobody left to answer.
            logger.debug("task runner closed; task dropped")
            return None
        self.pending += 1
        fut = self._pool.submit(fn)

        def finished(f: Future) -> None:
            self._closure.emit(lambda: self._settle(f, on_done, on_error))

        fut.add_done_callback(finished)
        return fut

    def on_main(self, fn: Callable[[], None]) -> None:
        """Call fn on the Qt thread (safe from any thread)."""
        self._closure.emit(fn)

    def _settle(
        self,
        fut: Future,
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[BaseException], None] | None,
    ) -> None:
        self.pending -= 1
        if self.closed:
            return
        exc = fut.exception()
        if exc is not None:
            if on_error:
                on_error(exc)
            else:
                logger.error("background task failed", exc_info=exc)
            return
        if on_done:
            on_done(fut.result())

    def _run_closure(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            logger.exception("callback on the Qt thread failed")

    def shutdown(self) -> None:
        """Stop accepting work; running tasks finish in the background."""
        self.closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
