"""One thread that runs a SQLite database's short use cases, in the order they arrive.

SQLite lets one writer in at a time whatever the number of threads, so the hot use cases of a
SQLite database (issue, call, next, ...) gain nothing from anyio's pool of up to 40 threads:
they queue on the database's write lock, and every hop costs a capacity limiter, a worker
hand-over and, with many threads, a scramble for the GIL. A lane is one thread fed by a
queue; the event loop hands a call over and awaits a future, as with the pool, and never
runs database work itself. PostgreSQL keeps the pool: its writers do run side by side.

Measured on the 2-core machine of the benchmarks, one hop costs about 10-70 us of CPU here
against 100-180 us through anyio's pool (more under load, with many threads).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

_STOP = object()


class Lane:
    """A single worker thread; `await lane.run(fn)` runs fn there and returns its result."""

    def __init__(self, name: str = "hall-db-lane") -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def run(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        """Queue fn (with the caller's contextvars, as anyio's pool does); a future of its result.

        If the awaiting request is cancelled the call still runs to its end (its transaction
        commits or rolls back on its own), as a call handed to the pool would.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((contextvars.copy_context(), fn, future, loop))
        return future

    def close(self, timeout: float = 5.0) -> None:
        """Let the queued calls finish, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            if threading.current_thread() is not self._thread:
                self._thread.join(timeout)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            context, fn, future, loop = item
            try:
                result, error = context.run(fn), None
            except BaseException as exc:  # handed to the awaiting coroutine
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:  # the loop is closed: nobody waits for it any more
                logger.debug("lane result dropped: event loop closed")


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
