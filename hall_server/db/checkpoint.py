"""WAL checkpoints of a serving SQLite database, in a thread of their own.

A checkpoint copies the WAL's pages into the database file and fsyncs it. Left to SQLite it
runs inside the COMMIT that crosses the threshold, on whichever thread committed: in a
serving process that is the lane, so every queued kiosk and window waited for a disk flush.
Here a daemon thread runs PASSIVE checkpoints (they never wait for, nor block, readers and
writers) every SQLITE_CHECKPOINT_S on a connection of its own; the sqlite3 module releases the
GIL while SQLite works, so the lane and the event loop go on meanwhile.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from hall_server.const import SQLITE_CHECKPOINT_S

logger = logging.getLogger(__name__)


def checkpoint(conn: Any) -> None:
    """One PASSIVE checkpoint on a DBAPI connection outside any transaction."""
    conn.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").close()


def start_checkpoints(engine: Engine, interval_s: float = SQLITE_CHECKPOINT_S) -> Callable[[], None]:
    """Checkpoint engine's WAL every interval_s in a daemon thread; returns the stop function.

    The thread keeps one connection for its whole life, taken at its start: borrowing one from
    the pool each round would, whenever a burst of requests held them all, make the pool open
    one more for good (files that grow with the load, not with the work).
    """
    stop = threading.Event()

    def run() -> None:
        conn: Any = None
        try:
            while True:
                try:
                    if conn is None:
                        conn = engine.raw_connection()
                    else:
                        checkpoint(conn)
                except (DBAPIError, sqlite3.Error) as exc:  # disk trouble: a new connection next round
                    logger.warning("WAL checkpoint failed: %s", exc)
                    if conn is not None:
                        conn.invalidate()
                        conn = None
                if stop.wait(interval_s):
                    return
        finally:
            if conn is not None:
                conn.close()

    thread = threading.Thread(target=run, name="hall-wal-checkpoint", daemon=True)
    thread.start()

    def stop_checkpoints() -> None:
        stop.set()
        thread.join(timeout=5)

    return stop_checkpoints
