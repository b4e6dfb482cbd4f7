"""A station obeys the parent's batch_max: while the city's own windows are busy its pushes carry
at most SYNC_BATCH_UNDER_LOAD events and row changes (the one read ahead at the old size is not
sent), and once they are quiet the batches grow again. A real parent server (subprocess, SQLite
and PostgreSQL), a real station database and its real sync code over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import text

from hall_server.api.deps import lookup
from hall_server.const import SYNC_BATCH_UNDER_LOAD, SYNC_HOT_RECENT_S
from hall_server.context import ServerContext
from hall_server.services import tickets as tickets_svc
from hall_server.sync.station import StationSync
from tests.hall_server import test_sync_station
from tests.hall_server.hs_city import COUNTY, PASSWORD
from tests.hall_server.test_sync_station import STATION, VILLAGE, City, _h, pulled_station

city = test_sync_station.city  # the parent server fixture, with a station registered for VILLAGE
FIRST_BATCH = 800  # the station's sync_batch: bigger than what a busy parent takes


@contextmanager
def city_windows_busy(c: City) -> Iterator[None]:
    """A clerk at the city pressing 叫号 back to back on an empty queue: the parent's hot window
    route stays busy (and no row is made at the city while the station's are applied)."""
    db = c.db()
    try:
        with db.read() as s:
            window = s.execute(text("SELECT id FROM windows WHERE hall_id = :h"), {"h": COUNTY}).scalar_one()
    finally:
        db.dispose()
    r = requests.post(
        f"{c.api}/auth/login", json={"username": "d1", "password": PASSWORD, "window_id": window}, timeout=30
    )
    assert r.status_code == 200, r.text
    clerk = r.json()["token"]
    stop = threading.Event()
    answers: list[str] = []

    def press() -> None:
        with requests.Session() as http:
            while not stop.is_set():
                r = http.post(f"{c.api}/windows/{window}/call-next", headers=_h(clerk), timeout=30)
                answers.append(r.json()["error"]["code"] if r.status_code == 404 else str(r.status_code))
                stop.wait(0.05)

    thread = threading.Thread(target=press, daemon=True)
    thread.start()
    time.sleep(0.3)
    try:
        yield
    finally:
        stop.set()
        thread.join(30)
    assert answers and set(answers) == {"queue.empty"}, answers  # answered, nothing called


def _issue_at_station(ctx: ServerContext, kiosk: Any, n: int) -> None:
    for i in range(n):
        tickets_svc.issue_ticket(
            ctx, kiosk, VILLAGE, tickets_svc.IssueInput(service_code=("S-A1", "S-A2")[i % 2], channel="kiosk")
        )


def _waiting(ctx: ServerContext) -> tuple[int, int]:
    """(events not acknowledged, changes not acknowledged) of the village's stream."""
    with ctx.db.read() as s:
        acked = s.execute(text("SELECT acked_seq FROM sync_acks WHERE hall_id = :h"), {"h": VILLAGE}).scalar()
        head = s.execute(text("SELECT last_seq FROM hall_seq WHERE hall_id = :h"), {"h": VILLAGE}).scalar()
        changes = s.execute(text("SELECT count(*) FROM sync_changes")).scalar()
    return int(head or 0) - int(acked or 0), int(changes or 0)


def _pushes(sync: StationSync) -> list[tuple[int, int]]:
    """Push until nothing waits; (events, changes) each push carried."""
    carried = []
    more = True
    while more:
        events0, changes0 = _waiting(sync.ctx)
        more = sync.push_batch()
        events1, changes1 = _waiting(sync.ctx)
        carried.append((events0 - events1, changes0 - changes1))
    return carried


def test_station_obeys_the_parents_batch_max(city: City, tmp_path: Path) -> None:
    with pulled_station(city, tmp_path, sync_batch=FIRST_BATCH) as sync:
        ctx = sync.ctx
        _pushes(sync)  # what set-up recorded
        kiosk = lookup(ctx, city.tokens["kiosk"])

        # A backlog of 1,400 tickets (each an event and a change) while the city's windows are
        # busy, and one full batch more for each push sent before the first answer after the first.
        backlog = 1400 + FIRST_BATCH * (sync.window - 1)
        _issue_at_station(ctx, kiosk, backlog)
        with city_windows_busy(city):
            busy = _pushes(sync)
        assert sum(e for e, _ in busy) >= backlog
        # The pushes sent before the parent's first answer (the window in flight) are as read.
        first, rest = busy[: sync.window], busy[sync.window :]
        assert all(e <= FIRST_BATCH and c <= FIRST_BATCH for e, c in first), busy
        assert len(rest) >= 2, busy
        # Every push after the parent's first answer carried at most its batch_max ...
        assert all(e <= SYNC_BATCH_UNDER_LOAD and c <= SYNC_BATCH_UNDER_LOAD for e, c in rest), busy
        # ... and as much as that while more waited.
        assert rest[0] == (SYNC_BATCH_UNDER_LOAD, SYNC_BATCH_UNDER_LOAD), busy
        assert sync.batch <= SYNC_BATCH_UNDER_LOAD

        # The city's windows went quiet: the batches grow past batch_max again.
        time.sleep(SYNC_HOT_RECENT_S + 0.2)
        _issue_at_station(ctx, kiosk, 1000)
        quiet = _pushes(sync)
        assert sum(e for e, _ in quiet) >= 1000
        # (the batch read ahead at the old size goes as it is; the ones read after it are bigger)
        assert sync.batch > SYNC_BATCH_UNDER_LOAD, quiet
        assert _waiting(ctx) == (0, 0)
        r = requests.get(f"{city.api}/stations", headers=_h(city.tokens["admin"]), timeout=30)
        row = next(x for x in r.json()["stations"] if x["id"] == STATION)
        assert row["waiting"] == 0

