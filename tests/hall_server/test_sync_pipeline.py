"""Pipelined pushes: a station sends its next batch before the parent answered the one before,
and the parent still applies them in the station's order, once: a batch whose predecessor it has
not applied is refused (409 sync.gap), and a batch that arrives after a later one was applied
changes no row. A real parent server (subprocess, SQLite and PostgreSQL), a real station
database and its real sync code over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import text

from hall_server.api.deps import lookup
from hall_server.services import tickets as tickets_svc
from hall_server.sync.station import JSON_HEADERS, StationSync
from tests.hall_server import test_sync_station
from tests.hall_server.test_sync_station import VILLAGE, City, pulled_station

city = test_sync_station.city  # the parent server fixture, with a station registered for VILLAGE


@contextmanager
def station(c: City, tmp_path: Path, batch: int, window: int = 2) -> Iterator[StationSync]:
    """A station database set up and pulled, everything set-up recorded pushed."""
    with pulled_station(c, tmp_path, sync_batch=batch, sync_push_window=window) as sync:
        _push_all(sync)
        yield sync


def _push_all(sync: StationSync) -> None:
    while sync.push_batch():
        pass
    while sync.inflight:
        sync.push_batch(send=False)


def _issue_at_station(sync: StationSync, c: City, n: int) -> list[int]:
    kiosk = lookup(sync.ctx, c.tokens["kiosk"])
    return [
        int(
            tickets_svc.issue_ticket(
                sync.ctx, kiosk, VILLAGE, tickets_svc.IssueInput(service_code="S-A1", channel="kiosk")
            )[0]["id"]
        )
        for _ in range(n)
    ]


def _post(c: City, sync: StationSync, raw: bytes) -> requests.Response:
    headers = {**JSON_HEADERS, "Authorization": f"Bearer {c.bundle['credential']}"}
    return requests.post(f"{c.api}/sync/push", data=sync._stamped(raw), headers=headers, timeout=30)


def _city_tickets(c: City) -> dict[int, str]:
    db = c.db()
    try:
        with db.read() as s:
            rows = s.execute(text("SELECT id, status FROM tickets WHERE hall_id = :h"), {"h": VILLAGE}).all()
    finally:
        db.dispose()
    return {int(r.id): str(r.status) for r in rows}


def _waiting(sync: StationSync) -> tuple[int, int]:
    """(events not acknowledged, changes not acknowledged) of the village's stream."""
    with sync.ctx.db.read() as s:
        acked = s.execute(text("SELECT acked_seq FROM sync_acks WHERE hall_id = :h"), {"h": VILLAGE}).scalar()
        head = s.execute(text("SELECT last_seq FROM hall_seq WHERE hall_id = :h"), {"h": VILLAGE}).scalar()
        changes = s.execute(text("SELECT count(*) FROM sync_changes")).scalar()
    return int(head or 0) - int(acked or 0), int(changes or 0)


def test_a_batch_ahead_of_its_predecessor_is_refused_and_a_late_one_changes_no_row(
    city: City, tmp_path: Path
) -> None:
    with station(city, tmp_path, batch=40) as sync:
        ids = _issue_at_station(sync, city, 60)
        first, more = sync._read_batch()
        assert more and ids[0] in {int(r["id"]) for r in first["rows"]["tickets"]}
        second, _ = sync._read_batch(after=first)
        assert second["rows_after"] == first["rows_through"] > first["rows_after"]
        raw_first = sync._encoded(first, True)[1]
        raw_second = sync._encoded(second, True)[1]
        before = _city_tickets(city)

        # The second batch arrives first: refused whole, the parent says where its rows stand.
        r = _post(city, sync, raw_second)
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert err["code"] == "sync.gap" and err["detail"]["rows_through"] == first["rows_after"]
        assert _city_tickets(city) == before

        # In order, both are applied.
        assert _post(city, sync, raw_first).status_code == 200
        assert _post(city, sync, raw_second).status_code == 200
        _push_all(sync)  # the rest (the station's checkpoint catches up on the parent's answers)
        assert set(ids) <= set(_city_tickets(city)) and _waiting(sync) == (0, 0)

        # A ticket of the first batch changes at the station and goes up; then the first batch
        # (its old image) arrives once more, late: the parent keeps the newer row.
        with sync.ctx.db.write() as s:
            s.execute(text("UPDATE tickets SET status = 'cancelled' WHERE id = :i"), {"i": ids[0]})
        _push_all(sync)
        assert _city_tickets(city)[ids[0]] == "cancelled"
        again = _post(city, sync, raw_first)
        assert again.status_code == 200, again.text
        at_city = _city_tickets(city)
        assert [at_city[i] for i in ids] == ["cancelled"] + ["waiting"] * (len(ids) - 1)


def test_a_backlog_goes_up_with_two_pushes_in_flight(city: City, tmp_path: Path) -> None:
    with station(city, tmp_path, batch=100, window=2) as sync:
        ids = _issue_at_station(sync, city, 400)
        in_flight = 0
        most = 0
        lock = threading.Lock()
        call = sync._call

        def counted(method: str, path: str, **kw: Any) -> dict[str, Any]:
            nonlocal in_flight, most
            with lock:
                in_flight += 1
                most = max(most, in_flight)
            try:
                return call(method, path, **kw)
            finally:
                with lock:
                    in_flight -= 1

        sync._call = counted  # type: ignore[method-assign]  # counts, the real call goes
        _push_all(sync)
        assert most == 2  # the next batch went while the one before was applied, never more
        assert _waiting(sync) == (0, 0)
        at_city = _city_tickets(city)
        assert set(ids) <= set(at_city)
        with sync.ctx.db.read() as s:
            here = s.execute(text("SELECT count(*) FROM tickets WHERE hall_id = :h"), {"h": VILLAGE}).scalar()
        assert len(at_city) == here
