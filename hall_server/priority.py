"""The server's own kiosks and windows before station sync: a count of their requests in flight.

A parent applying a station's catch-up batch competes with its own halls for the CPU, the GIL
and the database. The hot routes (issue, call-next and the other lean kiosk and window routes,
api/deps.run_hot) count themselves here; a push waits for them before it is applied,
pauses between its steps while they run (bounded, so the station is still answered in time),
and asks the station for smaller batches while they keep coming (docs/sync.md, "Priority").
"""

from __future__ import annotations

import logging
import threading
import time

from hall_server.const import SYNC_HOT_RECENT_S, SYNC_YIELD_STEP_S

logger = logging.getLogger(__name__)


class HotRequests:
    """Hot requests of this process in flight, and when one last ran (monotonic seconds).

    The count changes on the event loop's thread only; the apply threads only read it (an int:
    a read is atomic), so no lock is taken on the hot path.
    """

    def __init__(self) -> None:
        self.in_flight = 0
        self.last_seen = 0.0
        self.served = 0
        # Seconds sync work waited for hot requests (the benchmark reports it).
        self.yielded_s = 0.0
        self._lock = threading.Lock()

    def enter(self) -> None:
        """A hot request starts."""
        self.in_flight += 1
        self.last_seen = time.monotonic()

    def leave(self) -> None:
        """A hot request ends."""
        self.in_flight -= 1
        self.served += 1
        self.last_seen = time.monotonic()

    def recently_busy(self, now: float | None = None) -> bool:
        """A hot request ran within the last SYNC_HOT_RECENT_S seconds."""
        now = time.monotonic() if now is None else now
        return self.in_flight > 0 or now - self.last_seen < SYNC_HOT_RECENT_S

    def wait_idle(self, budget_s: float) -> float:
        """In a worker thread: sleep (GIL and CPU free) while hot requests run, at most budget_s;
        returns the seconds waited. Sync work calls it between its steps."""
        if self.in_flight <= 0 or budget_s <= 0:
            return 0.0
        start = time.monotonic()
        deadline = start + budget_s
        while self.in_flight > 0 and time.monotonic() < deadline:
            time.sleep(SYNC_YIELD_STEP_S)
        waited = time.monotonic() - start
        with self._lock:
            self.yielded_s += waited
        return waited


# One per process: the GIL, the thread pool and the CPU it measures pressure on are the process's.
HOT = HotRequests()


class YieldBudget:
    """What one push may still spend waiting for hot requests (it must be answered in time)."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    def pause(self) -> None:
        """Let the hot requests in flight finish first, within what is left of the budget."""
        if self.left > 0 and HOT.in_flight > 0:
            self.left -= HOT.wait_idle(self.left)
