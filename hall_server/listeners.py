"""Hear events committed by other server processes: PostgreSQL LISTEN/NOTIFY or a SQLite poll."""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import select

from hall_server.bus import EventBus
from hall_server.const import PG_NOTIFY_CHANNEL, SQLITE_EVENT_POLL_S
from hall_server.db.engine import Database
from hall_server.db.models import HallSeq

logger = logging.getLogger(__name__)


class CrossProcessListener:
    """A daemon thread feeding the bus with (hall, seq) hints from other processes."""

    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start listening in the background."""
        target = self._run_pg if self.db.is_postgres else self._run_poll
        self._thread = threading.Thread(target=target, name="hall-events-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and join the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run_poll(self) -> None:
        # SQLite has no notifications: read the per-hall counters of the halls watched here.
        table = HallSeq.__table__
        while not self._stop.wait(SQLITE_EVENT_POLL_S):
            halls = self.bus.watched_halls()
            if not halls:
                continue
            try:
                with self.db.read() as s:
                    rows = s.execute(
                        select(table.c.hall_id, table.c.last_seq).where(table.c.hall_id.in_(halls))
                    ).all()
            except Exception:
                logger.warning("event poll failed", exc_info=True)
                continue
            for hall_id, seq in rows:
                self.bus.hint(hall_id, int(seq))

    def _run_pg(self) -> None:
        import psycopg

        url = self.db.engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {PG_NOTIFY_CHANNEL}")
                    logger.info("listening for events on %s", PG_NOTIFY_CHANNEL)
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._on_notify(note.payload)
            except Exception:
                if self._stop.is_set():
                    return
                logger.warning("LISTEN connection lost; reconnecting", exc_info=True)
                self._stop.wait(1.0)

    def _on_notify(self, payload: Any) -> None:
        hall_id, _, seq = str(payload).rpartition(":")
        if hall_id and seq.isdigit():
            self.bus.hint(hall_id, int(seq))
