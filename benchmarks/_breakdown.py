"""Where a hot request's CPU goes: thread CPU per part of the server, for bench_server_core --breakdown.

Wraps named functions of the server (only in this measuring process) so that each call adds the
CPU time of the thread it runs on (time.thread_time) to its part; async parts are timed on the
event loop's thread across their awaits, which in the sequential benchmark is the loop's own CPU
for the hop (hand-over, waiting in the selector, wake-up). Parts nest (a use case includes its
statements), so the figures are inclusive and do not add up. Every Prepared statement is a part of
its own, named by its SQL. A name a tree does not have is skipped, so the same script measures an
older tree for comparison. Thread CPU comes from /proc (10 ms ticks: use a few hundred requests).
"""

from __future__ import annotations

import collections
import functools
import importlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

_SYNC = (
    ("hall_server.api.deps", "lookup"),
    ("hall_server.services.windows", "next_ticket"),
    ("hall_server.services.windows", "call_next"),
    ("hall_server.services.windows", "no_show"),
    ("hall_server.services.windows", "_call_next_in"),
    ("hall_server.services.windows", "_close_current"),
    ("hall_server.services.tickets", "issue_ticket"),
    ("hall_server.services.queue", "head_candidates"),
    ("hall_server.events", "_flush_staged"),
    ("hall_server.services.tickets", "append_event"),
    ("hall_server.events", "_link"),
    ("hall_server.events", "stream_of"),
    ("hall_server.events", "_row"),
    ("hall_server.events", "_publish_after_commit"),
    ("hall_server.api.windows", "json_response"),
    ("hall_server.api.tickets", "json_response"),
    ("hall_server.db.engine", "_LaneGrouping.open"),
    ("hall_server.db.engine", "_LaneGrouping.commit"),
    ("hall_server.db.engine", "_LaneGrouping.publish"),
    ("hall_server.db.engine", "Database._group_conn"),
    ("hall_server.db.lane", "_send_group"),
    ("hall_server.db.lane", "_send"),
)
_ASYNC = (
    ("hall_server.api.deps", "run_hot"),
    ("hall_server.api.deps", "run_db"),
    ("hall_server.api.windows", "read_body"),
    ("hall_server.api.tickets", "read_body"),
)
_CLK = os.sysconf("SC_CLK_TCK")


class Breakdown:
    """Accumulates thread CPU per part while `on`; install() once before the app is built."""

    def __init__(self) -> None:
        self.cpu: collections.defaultdict[str, float] = collections.defaultdict(float)
        self.calls: collections.Counter[str] = collections.Counter()
        self.on = False
        self._threads: dict[int, float] = {}

    def install(self) -> None:
        """Wrap the parts this tree has."""
        for module, attr in _SYNC:
            self._wrap(module, attr, self._sync)
        for module, attr in _ASYNC:
            self._wrap(module, attr, self._async)
        self._wrap_prepared()

    def start(self) -> None:
        """Forget what was counted and count from now."""
        self.cpu.clear()
        self.calls.clear()
        self._threads = _thread_cpu()
        self.on = True

    def stop(self, requests: int) -> dict[str, Any]:
        """Microseconds per request of each part (and calls per request); CPU ms per request per thread."""
        self.on = False
        after = _thread_cpu()
        loop_tid = threading.main_thread().native_id
        threads: collections.Counter[str] = collections.Counter()
        for tid, cpu in after.items():
            threads["event_loop" if tid == loop_tid else "other_threads"] += cpu - self._threads.get(tid, 0.0)
        parts = sorted(self.cpu.items(), key=lambda kv: -kv[1])
        return {
            "threads_cpu_ms_per_request": {k: round(v / requests * 1000, 3) for k, v in threads.items()},
            "parts_us_per_request": {
                k: [round(v / requests * 1e6, 1), round(self.calls[k] / requests, 2)] for k, v in parts
            },
        }

    def _add(self, label: str, spent: float) -> None:
        self.cpu[label] += spent
        self.calls[label] += 1

    def _sync(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kw: Any) -> Any:
            if not self.on:
                return fn(*args, **kw)
            t = time.thread_time()
            try:
                return fn(*args, **kw)
            finally:
                self._add(label, time.thread_time() - t)

        return timed

    def _async(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def timed(*args: Any, **kw: Any) -> Any:
            if not self.on:
                return await fn(*args, **kw)
            t = time.thread_time()
            try:
                return await fn(*args, **kw)
            finally:
                self._add(label, time.thread_time() - t)

        return timed

    def _wrap(
        self, module: str, attr: str, how: Callable[[str, Callable[..., Any]], Callable[..., Any]]
    ) -> None:
        try:
            owner: Any = importlib.import_module(module)
        except ImportError:
            return
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part, None)
            if owner is None:
                return
        fn = getattr(owner, name, None)
        if fn is None:
            return
        setattr(owner, name, how(f"{module.rsplit('.', 1)[-1]}.{attr}", fn))

    def _wrap_prepared(self) -> None:
        try:
            from hall_server.db.prepared import Prepared
        except ImportError:
            return
        labels: dict[int, str] = {}

        def label(stmt: Any) -> str:
            text = labels.get(id(stmt))
            if text is None:
                text = labels[id(stmt)] = "SQL " + " ".join(str(stmt.stmt).split())[:72]
            return text

        for method in ("all", "many"):
            fn = getattr(Prepared, method)

            def timed(self_: Any, *args: Any, _fn: Callable[..., Any] = fn, **kw: Any) -> Any:
                if not self.on:
                    return _fn(self_, *args, **kw)
                t = time.thread_time()
                try:
                    return _fn(self_, *args, **kw)
                finally:
                    self._add(label(self_), time.thread_time() - t)

            setattr(Prepared, method, timed)


def _thread_cpu() -> dict[int, float]:
    """CPU seconds of each thread of this process (user + system)."""
    out: dict[int, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / _CLK
    return out
