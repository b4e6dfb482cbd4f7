"""Keep PostgreSQL's planner statistics of the busy tables up to date while a hall fills up."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import text

from hall_server.db.engine import Database

logger = logging.getLogger(__name__)

# Tables whose row counts swing within a day; their queue reads depend on good estimates.
BUSY_TABLES = ("tickets", "events")
CHECK_SECONDS = 2.0
# ANALYZE when this many rows changed since the last one, or a fifth of the table if larger.
MIN_CHANGES = 200
CHANGE_SHARE = 0.2
# A table past ANALYZE's sample (30,000 rows at the default statistics target) costs a full
# sample each time (~0.3-1 s of a core), and its plans no longer swing with its size: it is
# analyzed at most every LARGE_TABLE_GAP_S. (A 200-station catch-up grows the events table by
# a fifth every ~20 s: 13 ANALYZEs of events in four minutes, 10 s of the database's CPU.)
LARGE_TABLE_ROWS = 30_000
LARGE_TABLE_GAP_S = 60.0

_CHANGED = text(
    "SELECT relname, n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables WHERE relname = ANY(:names)"
)


class StatsKeeper:
    """Runs ANALYZE on a busy table soon after it changed a lot (PostgreSQL only).

    Autovacuum looks once a minute and waits for a tenth of the table to change. On a new
    database the first minutes of a morning can then run on statistics of an empty table,
    and a plan made for an empty table reads every ticket of the day on each call-next. An
    ANALYZE also makes PostgreSQL re-plan prepared statements that use the table.
    """

    def __init__(
        self,
        db: Database,
        interval: float = CHECK_SECONDS,
        *,
        large_rows: int = LARGE_TABLE_ROWS,
        large_gap_s: float = LARGE_TABLE_GAP_S,
    ) -> None:
        self.db = db
        self.interval = interval
        self.large_rows = large_rows
        self.large_gap_s = large_gap_s
        # When this keeper last analyzed each table (monotonic seconds).
        self._last: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin watching in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="hall-analyze", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def check_once(self, now: float | None = None) -> list[str]:
        """ANALYZE every busy table that changed enough (a large one not again within
        large_gap_s); returns their names. now: monotonic seconds (tests pass their own)."""
        now = time.monotonic() if now is None else now
        done: list[str] = []
        with self.db.engine.connect() as conn:
            rows = conn.execute(_CHANGED, {"names": list(BUSY_TABLES)}).all()
            conn.commit()
            for name, changed, live in rows:
                if name not in BUSY_TABLES or changed < max(MIN_CHANGES, CHANGE_SHARE * live):
                    continue
                last = self._last.get(name)
                if live >= self.large_rows and last is not None and now - last < self.large_gap_s:
                    continue
                # The name comes from the constant above, never from input.
                conn.execute(text(f"ANALYZE {name}"))
                conn.commit()
                self._last[name] = now
                done.append(name)
        if done:
            logger.info("analyzed %s", ", ".join(done))
        return done

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check_once()
            except Exception:
                logger.warning("statistics check failed; trying again shortly", exc_info=True)
