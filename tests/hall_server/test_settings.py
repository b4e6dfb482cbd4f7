"""One settings object: read from HALL_* once, passed down, and the same in every worker process."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hall_server.config import Settings

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENT_READERS = ("environ", "getenv", "getenvb", "environb")


def test_every_setting_survives_the_trip_to_a_worker_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`serve --workers N` exports the settings; each worker rebuilds exactly the same object."""
    given = Settings(
        data_dir=tmp_path,
        db_url="sqlite:///x.db",
        public_url="https://hall.example",
        host="0.0.0.0",
        port=9000,
        listen_other_processes=False,
        pool_size=7,
        ws_protocol="wsproto",
        pg_writers=3,
        worker_seconds=2.5,
        document_retention_days=30,
        notifier="pkg.mod:Sms",
        device_stale_seconds=45,
        rate_book_per_address=3,
        rate_exempt="10.0.0.0/8",
        parent_url="https://city.example",
        station_id="st-1",
        station_credential="secret",
        station_credential_file=tmp_path / "bundle.json",
        parent_ca=tmp_path / "city.pem",
        sync_seconds=1.5,
        sync_timeout_s=3,
        sync_batch=100,
        station_silent_alert_s=60,
    )
    for key, value in given.to_env().items():
        monkeypatch.setenv(key, value)
    assert Settings.from_env() == given


def test_nothing_but_the_settings_reads_the_environment() -> None:
    """A module reading os.environ itself would see what a worker process was never given."""
    readers = []
    for path in sorted((ROOT / "hall_server").rglob("*.py")):
        if path.name == "config.py" and path.parent.name == "hall_server":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # The CLI hands the settings to uvicorn's worker processes by writing them (os.environ.update).
        writes = {
            id(node.func.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "update"
        }
        for node in ast.walk(tree):
            # Any `.environ` / `.getenv`, however os was reached (os.environ, __import__("os").environ).
            reads_environ = isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT_READERS
            imports_reader = (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and any(alias.name in ENVIRONMENT_READERS for alias in node.names)
            )
            if (reads_environ and id(node) not in writes) or imports_reader:
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert readers == [], readers


def test_websocket_implementation_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """HALL_WS_PROTOCOL reaches serve through the settings; an unknown implementation is refused."""
    monkeypatch.delenv("HALL_WS_PROTOCOL", raising=False)
    assert Settings().ws_protocol == "websockets-sansio"
    monkeypatch.setenv("HALL_WS_PROTOCOL", "wsproto")
    assert Settings.from_env().ws_protocol == "wsproto"
    monkeypatch.setenv("HALL_WS_PROTOCOL", "tornado")
    with pytest.raises(ValueError, match="ws_protocol"):
        Settings.from_env()
