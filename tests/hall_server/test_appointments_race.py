"""One person, one day: the database refuses a second active booking even when two race past the rule."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hall_server.db.models import Appointment
from hall_server.errors import HallError
from hall_server.services import appointments as svc
from tests.hall_server.clock_app import API, ID_A, MONDAY_10, PHONE, Env, postgres_env, sqlite_env

TUE = date(2026, 3, 10)
# How long the racing booking may take to reach the index (it blocks there on PostgreSQL).
RACE_WAIT_S = 2.0


def _request(start: str) -> svc.BookingRequest:
    return svc.BookingRequest("S-001", TUE, start, ID_A, PHONE, "张三", "web")


def _active(env: Env) -> list[Appointment]:
    with env.ctx.db.read() as s:
        return list(
            s.scalars(
                select(Appointment).where(Appointment.day == TUE, Appointment.status.in_(svc.ACTIVE_STATUSES))
            )
        )


def _free_places(env: Env, start: str) -> int:
    r = env.client.get(f"{API}/halls/x-city/appointment-slots", params={"service_code": "S-001"})
    slot = next(s for s in r.json()["days"][0]["slots"] if s["start"] == start)
    return int(slot["available"])


def race_two_bookings(env: Env) -> None:
    """Booking A is inserted but not committed while booking B (same person, other slot) runs.

    B's rule check cannot see A yet, so only the database can refuse B: on PostgreSQL B's insert
    waits on A's index entry and fails when A commits. Without the unique index both commit.
    """
    outcome: dict[str, object] = {}

    def second() -> None:
        try:
            with env.ctx.db.write() as s:
                outcome["ok"] = svc.book(s, env.ctx.protector, "x-city", _request("10:00"), MONDAY_10).code
        except HallError as exc:
            outcome["error"] = exc

    with env.ctx.db.write() as s:
        first = svc.book(s, env.ctx.protector, "x-city", _request("09:00"), MONDAY_10)
        racer = threading.Thread(target=second, daemon=True)
        racer.start()
        racer.join(RACE_WAIT_S)  # B is now blocked on the index, or already done
    racer.join(60)
    assert not racer.is_alive()
    assert "ok" not in outcome, "a second active booking of the same person and day was stored"
    err = outcome["error"]
    assert isinstance(err, HallError) and err.code == "booking.person_day_limit"
    assert err.message.startswith("同一人")
    active = _active(env)
    assert [a.code for a in active] == [first.code]
    # B changed nothing: its slot's place is still free, A's is taken.
    assert _free_places(env, "10:00") == 4 and _free_places(env, "09:00") == 3


@pytest.fixture
def pg_env(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The in-process server on a fresh PostgreSQL database."""
    yield from postgres_env(pg_url, tmp_path, monkeypatch)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The in-process server on SQLite."""
    yield from sqlite_env(tmp_path, monkeypatch)


@pytest.mark.postgres
def test_postgres_same_person_race_stores_one_booking(pg_env: Env) -> None:
    race_two_bookings(pg_env)


@pytest.mark.postgres
def test_postgres_concurrent_requests_book_once(pg_env: Env) -> None:
    """Eight requests of one person for eight slots of one day at the same instant: one booking."""
    starts = ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "13:30", "14:00"]
    gate = threading.Barrier(len(starts))
    results: list[object] = []
    lock = threading.Lock()

    def one(start: str) -> None:
        gate.wait(30)
        try:
            with pg_env.ctx.db.write() as s:
                got: object = svc.book(s, pg_env.ctx.protector, "x-city", _request(start), MONDAY_10).code
        except HallError as exc:
            got = exc.code
        with lock:
            results.append(got)

    threads = [threading.Thread(target=one, args=(st,), daemon=True) for st in starts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == len(starts)
    refused = [r for r in results if r == "booking.person_day_limit"]
    assert len(refused) == len(starts) - 1, results
    assert len(_active(pg_env)) == 1


def test_the_index_guards_sqlite_too(env: Env) -> None:
    """A row that skipped the rule check (a bug, an import, manual SQL) still cannot be a second place;
    a cancelled booking leaves the index, so the person may book again."""
    with env.ctx.db.write() as s:
        first = svc.book(s, env.ctx.protector, "x-city", _request("09:00"), MONDAY_10)
    clone = {
        c.name: getattr(first, c.key) for c in Appointment.__table__.columns if c.name not in ("id", "code")
    }
    with pytest.raises(IntegrityError) as caught, env.ctx.db.write() as s:
        s.add(Appointment(code="RACE0001", **clone))
        s.flush()
    assert svc._is_person_day_violation(caught.value)
    with env.ctx.db.write() as s:
        s.add(Appointment(code="CANCEL01", **{**clone, "status": "cancelled"}))
    r = env.cancel(first.code, ID_A)
    assert r.status_code == 200, r.text
    with env.ctx.db.write() as s:
        again = svc.book(s, env.ctx.protector, "x-city", _request("10:00"), MONDAY_10)
    assert again.person_seq == 1 and [a.code for a in _active(env)] == [again.code]


def test_two_a_day_when_the_hall_allows_it(env: Env) -> None:
    """booking.per_person_per_day = 2: two places a day, the freed place is taken again."""
    r = env.client.put(
        f"{API}/halls/x-city/ext-settings",
        json={"booking": {"per_person_per_day": 2}},
        headers=env.h("m-city"),
    )
    assert r.status_code == 200, r.text
    with env.ctx.db.write() as s:
        first = svc.book(s, env.ctx.protector, "x-city", _request("09:00"), MONDAY_10)
    with env.ctx.db.write() as s:
        second = svc.book(s, env.ctx.protector, "x-city", _request("10:00"), MONDAY_10)
    assert (first.person_seq, second.person_seq) == (1, 2)
    with pytest.raises(HallError) as caught, env.ctx.db.write() as s:
        svc.book(s, env.ctx.protector, "x-city", _request("11:00"), MONDAY_10)
    assert caught.value.code == "booking.person_day_limit"
    r = env.cancel(first.code, ID_A)
    assert r.status_code == 200, r.text
    with env.ctx.db.write() as s:
        third = svc.book(s, env.ctx.protector, "x-city", _request("11:00"), MONDAY_10)
    assert third.person_seq == 1
    assert sorted(a.code for a in _active(env)) == sorted([second.code, third.code])
