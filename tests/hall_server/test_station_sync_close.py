"""A station's sync loop that stops gives back its push threads, its connections and its hook."""

from __future__ import annotations

import threading
from pathlib import Path

from hall_server.config import Settings
from hall_server.context import ServerContext
from hall_server.migrate import upgrade
from hall_server.sync.station import StationSync
from tests.fixtures.server import free_port
from tests.support.waiting import wait_until

KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


def _push_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("hall-sync-push") and t.is_alive()]


def test_a_stopped_sync_loop_leaves_no_thread_and_no_hook(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'station.sqlite3'}"
    upgrade(url)
    settings = Settings(
        data_dir=tmp_path,
        db_url=url,
        data_key=KEY,
        pool_size=2,
        parent_url=f"http://127.0.0.1:{free_port()}",  # nobody listens: every round fails at once
        station_id="st-closing",
        station_credential="not-checked-here",
        sync_seconds=0.05,
        sync_backoff_max_s=0.1,
        worker_seconds=0,
        audit_verify_seconds=0,
    )
    ctx = ServerContext.create(settings)
    try:
        hooks = list(ctx.db.after_commit)
        sync = StationSync(ctx)
        assert not _push_threads()
        sync._sender.submit(lambda: None).result()  # a push was sent, as in a catch-up
        assert _push_threads()
        stop = threading.Event()
        loop = threading.Thread(target=sync.run, args=(stop,), name="test-station-sync")
        loop.start()
        wait_until(lambda: sync.failures >= 2, 30, message="the sync loop runs its rounds")
        assert len(ctx.db.after_commit) == len(hooks) + 1  # a local commit wakes the loop
        stop.set()
        loop.join(30)
        assert not loop.is_alive()
        wait_until(lambda: not _push_threads(), 10, message="the push threads end with the loop")
        assert ctx.db.after_commit == hooks
    finally:
        ctx.close()
