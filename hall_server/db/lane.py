"""One thread that runs a SQLite database's short use cases, in the order they arrive.

SQLite lets one writer in at a time whatever the number of threads, so the hot use cases of a
SQLite database (issue, call, next, ...) gain nothing from anyio's pool of up to 40 threads:
they queue on the database's write lock, and every hop costs a capacity limiter, a worker
hand-over and, with many threads, a scramble for the GIL. A lane is one thread fed by a
queue; the event loop hands a call over and awaits a future, as with the pool, and never
runs database work itself. PostgreSQL keeps the pool: its writers do run side by side.

Measured on the 2-core machine of the benchmarks, one hop costs about 10-70 us of CPU here
against 100-180 us through anyio's pool (more under load, with many threads).

Group commit. With a `Grouping` (the Database gives one), the calls already waiting when the
lane takes one run in a group: one SQLite transaction, each use case's own transaction block
a SAVEPOINT in it (db/engine.py), one COMMIT at the end. Only after that COMMIT are the
calls' events published and their futures settled, in arrival order: nobody hears of work
that is not committed. A group's answers reach the event loop in one wake-up (one
call_soon_threadsafe per loop, not per call): each wake-up is a write to the loop's pipe and a
turn of its selector. If the COMMIT fails, every call of the group gets the error. The lane
never waits for calls to come: an empty queue makes a group of one, i.e. one transaction per
call as without grouping. A group stops at GROUP_MAX_CALLS calls or once the calls after the
first have taken GROUP_MAX_S: the first caller's answer waits at most that (and one call) more.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from hall_server.const import GROUP_MAX_CALLS, GROUP_MAX_S

logger = logging.getLogger(__name__)

_STOP = object()


class Grouping(Protocol):
    """What the lane needs of a database to run calls in one transaction (db/engine.py)."""

    def open(self) -> None:
        """Start a group (no SQL yet: the transaction begins with the first write)."""

    def end_call(self) -> Any:
        """After each call: what it left to publish after commit (a token for publish())."""

    def broken(self) -> BaseException | None:
        """An error if the group's transaction has ended on its own (SQLite rolled it back)."""

    def commit(self) -> None:
        """COMMIT the group's transaction, if one began; raises if it fails."""

    def abort(self) -> None:
        """Roll the group's transaction back, if one began (never raises)."""

    def publish(self, token: Any) -> None:
        """Run the after-commit hooks for one call's token (after commit())."""

    def close(self) -> None:
        """The lane stops (on its thread, after its last group): release what it holds."""


class Lane:
    """A single worker thread; `await lane.run(fn)` runs fn there and returns its result."""

    def __init__(self, name: str = "hall-db-lane", grouping: Grouping | None = None) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._grouping = grouping
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
        try:
            self._serve()
        finally:
            if self._grouping is not None:
                self._grouping.close()

    def _serve(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._grouping is not None:
                if self._run_group(self._grouping, item):
                    return
                continue
            context, fn, future, loop = item
            try:
                result, error = context.run(fn), None
            except BaseException as exc:  # handed to the awaiting coroutine
                result, error = None, exc
            _send(loop, future, result, error)

    def _run_group(self, g: Grouping, item: Any) -> bool:
        """Run item and the calls queued behind it as one group; True if _STOP was taken."""
        done: list[list[Any]] = []  # [future, loop, result, error, token]
        stop = False
        started = 0.0  # when the first call ended: the others may add GROUP_MAX_S to its wait
        g.open()
        try:
            while True:
                context, fn, future, loop = item
                try:
                    result, error = context.run(fn), None
                except BaseException as exc:
                    result, error = None, exc
                done.append([future, loop, result, error, g.end_call()])
                lost = g.broken()
                if lost is not None:
                    # SQLite ended the transaction itself (disk full, I/O error): none of the
                    # group's work is committed, so no call of it may be answered as done.
                    raise lost
                if len(done) >= GROUP_MAX_CALLS:
                    break
                if len(done) == 1:
                    started = time.perf_counter()
                elif time.perf_counter() - started >= GROUP_MAX_S:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
            g.commit()
        except BaseException as exc:
            g.abort()
            logger.error("group of %d calls not committed: %s", len(done), exc)
            for d in done:
                d[2], d[3] = None, exc
        else:
            for d in done:
                # Published in arrival order, all before the group's answers go out.
                g.publish(d[4])
        _send_group(done)
        return stop


def _send_group(done: list[list[Any]]) -> None:
    """Hand a group's answers to their event loops, one wake-up per loop rather than per call."""
    if len(done) == 1:
        d = done[0]
        _send(d[1], d[0], d[2], d[3])
        return
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, Any]]] = {}
    for d in done:
        by_loop.setdefault(d[1], []).append((d[0], d[2], d[3]))
    for loop, answers in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_all, answers)
        except RuntimeError:  # the loop is closed: nobody waits for them any more
            logger.debug("lane results dropped: event loop closed")


def _settle_all(answers: list[tuple[asyncio.Future[Any], Any, Any]]) -> None:
    for future, result, error in answers:
        _settle(future, result, error)


def _send(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any, error: Any) -> None:
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
