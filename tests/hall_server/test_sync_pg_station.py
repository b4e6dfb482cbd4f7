"""Station mode on PostgreSQL is refused at start with a clear message, before the database is
touched (docs/sync.md, "Limits"): `hall-server serve` and `hall-server station setup`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from tests.fixtures.server import REPO_ROOT, cli_command

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


def _run(args: list[str], pg_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO_ROOT),
        "HALL_DB_URL": pg_url,
        "HALL_DATA_DIR": str(tmp_path / "data"),
        "HALL_PARENT_URL": "http://127.0.0.1:9",
        "HALL_STATION_ID": "st-county",
        "HALL_STATION_CREDENTIAL": "x" * 40,
    }
    return subprocess.run(
        [*cli_command(), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_station_mode_on_postgres_is_refused_at_start(pg_url: str, tmp_path: Path) -> None:
    done = _run(["serve", "--port", "18999", "--no-zeroconf"], pg_url, tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr[-2000:])
    assert "站点模式只支持 SQLite" in done.stderr and "runs on SQLite only" in done.stderr
    assert "Traceback" not in done.stderr
    engine = create_engine(pg_url)
    try:
        assert inspect(engine).get_table_names() == [], "the refusal comes before the schema is made"
    finally:
        engine.dispose()
