"""A serving SQLite database folds its WAL into the database file from a thread of its own."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hall_server.app import create_app
from hall_server.config import Settings
from hall_server.const import SQLITE_WAL_BACKSTOP_PAGES
from tests.hall_server.conftest import Hall

# Only SQLite has a WAL to fold in.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _db_file(hall: Hall) -> Path:
    return Path(hall.db_url.removeprefix("sqlite:///"))


def _tickets_in_file_alone(db_file: Path, copy: Path) -> int:
    """Tickets in the database file itself, without its WAL: what a checkpoint has written."""
    shutil.copyfile(db_file, copy)
    conn = sqlite3.connect(copy)
    try:
        return conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
    finally:
        conn.close()


@SQLITE_ONLY
def test_issued_tickets_reach_the_database_file_without_a_committer_checkpointing(
    hall: Hall, tmp_path: Path
) -> None:
    db_file = _db_file(hall)
    before = _tickets_in_file_alone(db_file, tmp_path / "before.sqlite3")
    for _ in range(40):
        hall.ok_issue()
    # Far below the backstop, so no COMMIT folded the WAL in: only the checkpoint thread can.
    with hall.ctx.db.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    assert pages == SQLITE_WAL_BACKSTOP_PAGES
    deadline = time.monotonic() + 10
    in_file = before
    while time.monotonic() < deadline:
        in_file = _tickets_in_file_alone(db_file, tmp_path / "now.sqlite3")
        if in_file == before + 40:
            break
        time.sleep(0.1)
    assert in_file == before + 40


@pytest.mark.parametrize("empty_db_url", ["sqlite"], indirect=True)
def test_the_checkpoint_thread_ends_with_the_server(empty_db_url: str, tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data", db_url=empty_db_url))

    def running() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name == "hall-wal-checkpoint"]

    with TestClient(app):
        assert running() == ["hall-wal-checkpoint"]
    assert running() == []
