"""Keep PostgreSQL's planner statistics of the busy tables up to date while a hall fills up."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import text

from hall_server.db.engine import Database

logger = logging.getLogger(__name__)

# Tables whose row counts swing within a day; their queue reads depend on good estimates.
BUSY_TABLES = ("tickets", "events")
CHECK_SECONDS = 2.0
# ANALYZE when this many rows changed since the last one, or a fifth of the table if larger.
MIN_CHANGES = 200
CHANGE_SHARE = 0.2

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

    def __init__(self, db: Database, interval: float = CHECK_SECONDS) -> None:
        self.db = db
        self.interval = interval
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

    def check_once(self) -> list[str]:
        """ANALYZE every busy table that changed enough; returns their names."""
        done: list[str] = []
        with self.db.engine.connect() as conn:
            rows = conn.execute(_CHANGED, {"names": list(BUSY_TABLES)}).all()
            conn.commit()
            for name, changed, live in rows:
                if name in BUSY_TABLES and changed >= max(MIN_CHANGES, CHANGE_SHARE * live):
                    # The name comes from the constant above, never from input.
                    conn.execute(text(f"ANALYZE {name}"))
                    conn.commit()
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
