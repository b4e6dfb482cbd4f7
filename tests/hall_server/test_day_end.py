"""The business day ends: open tickets close unserved, windows are freed, alerts count only today.

Runs on SQLite and PostgreSQL with the in-process server's movable clock (clock_app). Tickets
are issued and worked through the API at the real time, then moved to the test's business
day, so every status a ticket can be left in at closing time is real.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from hall_server.app import create_app
from hall_server.config import Settings
from hall_server.context import ServerContext
from hall_server.db.models import OPEN_TICKETS, Appointment, Event, Hall, Ticket
from hall_server.services import dayend
from queueing.model import OPEN_STATUSES
from tests.hall_server.clock_app import API, ID_A, PHONE, Env, make_env, postgres_env, sqlite_env

TUE = date(2026, 3, 10)  # booked on Monday 03-09, the clock's start
WED = TUE + timedelta(days=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The in-process server on SQLite and on PostgreSQL, clock on Monday 2026-03-09 10:00."""
    if request.param == "sqlite":
        yield from sqlite_env(tmp_path, monkeypatch)
    else:
        yield from postgres_env(request.getfixturevalue("pg_url"), tmp_path, monkeypatch)


def _post(env: Env, who: str, path: str) -> dict[str, Any]:
    r = env.client.post(f"{API}{path}", headers=env.h(who))
    assert r.status_code == 200, r.text
    return r.json()


def leave_open_tickets(env: Env, day: date) -> dict[str, int]:
    """Issue five tickets and leave them as a hall does at closing time, all on business `day`.

    finished (办结), suspended (挂起), called at window 1, serving at window 2, still waiting.
    """
    for _ in range(5):
        env.issue("x-city")
    w1 = env.window_id("x-city", 1)
    w2 = env.window_id("x-city", 2)
    c1, c2 = "clerk:x-city:1", "clerk:x-city:2"
    finished = env.serve_next("x-city", 1)["id"]
    suspended = _post(env, c1, f"/windows/{w1}/call-next")["id"]
    _post(env, c1, f"/windows/{w1}/start")
    _post(env, c1, f"/windows/{w1}/suspend")
    called = _post(env, c1, f"/windows/{w1}/call-next")["id"]
    serving = _post(env, c2, f"/windows/{w2}/call-next")["id"]
    _post(env, c2, f"/windows/{w2}/start")
    ids = {"finished": finished, "suspended": suspended, "called": called, "serving": serving}
    with env.ctx.db.read() as s:
        ids["waiting"] = s.scalar(select(Ticket.id).where(Ticket.status == "waiting"))
    # The day the hall worked: Beijing 09:00 of `day` as the issue time.
    issued = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
    with env.ctx.db.write() as s:
        s.execute(update(Ticket).values(business_day=day, issued_at=issued))
    return ids


def statuses(env: Env) -> dict[int, str]:
    with env.ctx.db.read() as s:
        return dict(s.execute(select(Ticket.id, Ticket.status)).all())


def window(env: Env, number: int) -> dict[str, Any]:
    r = env.client.get(f"{API}/windows/{env.window_id('x-city', number)}", headers=env.h("admin"))
    assert r.status_code == 200, r.text
    return r.json()


def alerts(env: Env) -> list[dict[str, Any]]:
    r = env.client.get(f"{API}/halls/x-city/alerts", headers=env.h("m-city"))
    assert r.status_code == 200, r.text
    return r.json()


def flush(env: Env) -> dict[str, int]:
    """One background worker pass, as the worker thread runs it (at the clock's time)."""
    r = env.client.post(f"{API}/notify/flush", headers=env.h("admin"))
    assert r.status_code == 200, r.text
    return r.json()


def expired_events(env: Env) -> list[dict[str, Any]]:
    r = env.client.get(
        f"{API}/halls/x-city/events", params={"since": 0, "limit": 1000}, headers=env.h("admin")
    )
    assert r.status_code == 200, r.text
    return [e for e in r.json() if e["type"] == "ticket.expired"]


def test_beijing_midnight_closes_the_day(env: Env) -> None:
    ids = leave_open_tickets(env, TUE)
    # Open all day (the seed's demo_open_all_day): the day lasts until Beijing midnight.
    env.clock.now = datetime(2026, 3, 10, 15, 59, tzinfo=UTC)  # Tue 23:59 in Beijing
    codes = {a["code"] for a in alerts(env)}
    assert "wait.long" in codes  # still today: the waiting visitor really has waited 15 hours
    assert flush(env)["expired_tickets"] == 0
    assert statuses(env)[ids["waiting"]] == "waiting"

    env.clock.now = datetime(2026, 3, 10, 16, 1, tzinfo=UTC)  # Wed 00:01 in Beijing
    # Before any pass has run, yesterday's leftovers already raise no alert of today.
    codes = {a["code"] for a in alerts(env)}
    assert "wait.long" not in codes and "window.idle" not in codes, codes
    out = flush(env)
    assert out["expired_tickets"] == 4 and out["freed_windows"] == 2
    st = statuses(env)
    assert st[ids["finished"]] == "finished"
    for key in ("waiting", "called", "serving", "suspended"):
        assert st[ids[key]] == "expired", key
    assert window(env, 1)["current"] is None and window(env, 2)["current"] is None
    events = expired_events(env)
    assert sorted(e["payload"]["from"] for e in events) == ["called", "serving", "suspended", "waiting"]
    assert {e["payload"]["reason"] for e in events} == {"day_end"}
    assert {e["payload"]["ticket"]["status"] for e in events} == {"expired"}
    assert {e["actor"]["kind"] for e in events} == {"system"}

    # Idempotent: a second pass closes nothing and writes no event.
    everything = env.client.get(
        f"{API}/halls/x-city/events", params={"since": 0, "limit": 1000}, headers=env.h("admin")
    )
    last = everything.json()[-1]["seq"]
    assert flush(env)["expired_tickets"] == 0
    after = env.client.get(
        f"{API}/halls/x-city/events", params={"since": last, "limit": 1000}, headers=env.h("admin")
    ).json()
    assert [e for e in after if e["type"] in ("ticket.expired", "window.updated")] == []

    # Window 1 can call again: before, it answered window.busy with yesterday's visitor in hand.
    r = env.client.post(
        f"{API}/windows/{env.window_id('x-city', 1)}/call-next", headers=env.h("clerk:x-city:1")
    )
    assert r.json()["error"]["code"] == "queue.empty", r.text

    # Statistics of Tuesday count the four as unserved, not as no-shows.
    r = env.client.get(
        f"{API}/halls/x-city/stats",
        params={"from": "2026-03-10", "to": "2026-03-10"},
        headers=env.h("m-city"),
    )
    assert r.status_code == 200, r.text
    totals = r.json()["totals"]
    assert (totals["issued"], totals["served"], totals["no_show"], totals["unserved"]) == (5, 1, 0, 4)


def test_closing_time_of_a_hall_with_opening_hours(env: Env) -> None:
    ids = leave_open_tickets(env, TUE)
    with env.ctx.db.write() as s:
        hall = s.get(Hall, "x-city")
        assert hall is not None
        hall.policy = {**(hall.policy or {}), "opening_hours": [["09:00", "12:00"], ["13:30", "17:30"]]}
    env.ctx.catalog.invalidate()
    # Closing 17:30 plus the default hour for the visitors still in the hall: 18:30 Beijing.
    env.clock.set_local(TUE, "18:29")
    assert flush(env)["expired_tickets"] == 0
    assert statuses(env)[ids["serving"]] == "serving"
    env.clock.set_local(TUE, "18:31")
    assert flush(env)["expired_tickets"] == 4
    assert statuses(env)[ids["serving"]] == "expired"
    # A hall may shorten the grace; out-of-range values are refused and change nothing.
    r = env.client.put(
        f"{API}/halls/x-city/ext-settings", json={"day_end_grace_minutes": -5}, headers=env.h("m-city")
    )
    assert r.status_code == 422 and "day_end_grace_minutes" in r.json()["error"]["message"]
    r = env.client.put(
        f"{API}/halls/x-city/ext-settings", json={"day_end_grace_minutes": 0}, headers=env.h("m-city")
    )
    assert r.status_code == 200 and r.json()["day_end_grace_minutes"] == 0


def _book(env: Env, day: date) -> dict[str, Any]:
    body = {"service_code": "S-001", "day": day.isoformat(), "start": "09:00", "id_number": ID_A}
    body |= {"phone": PHONE, "name": "张三"}
    r = env.client.post(f"{API}/halls/x-city/appointments", json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def night_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on SQLite or PostgreSQL for a server that is stopped and started again."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/night.sqlite3"
    return str(request.getfixturevalue("pg_url"))


def test_server_stopped_overnight_closes_yesterday_at_first_start(
    night_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = make_env(night_url, tmp_path / "data", monkeypatch)
    env = next(gen)
    booking = _book(env, TUE)
    ids = leave_open_tickets(env, TUE)
    windows = [env.window_id("x-city", n) for n in (1, 2)]
    admin = env.h("admin")
    env.clock.set_local(TUE, "17:00")
    gen.close()  # the server stops at 17:00 with the hall full

    env.clock.set_local(WED, "08:30")  # and starts again the next morning; the worker is off
    app = create_app(Settings(data_dir=tmp_path / "data", db_url=night_url, listen_other_processes=False))
    ctx: ServerContext = app.state.ctx
    with TestClient(app) as client:
        with ctx.db.read() as s:
            st = dict(s.execute(select(Ticket.id, Ticket.status)).all())
            appt = s.get(Appointment, booking["id"])
            assert appt is not None and appt.status == "no_show"
        assert st[ids["finished"]] == "finished"
        assert sorted(st[ids[k]] for k in ("waiting", "called", "serving", "suspended")) == ["expired"] * 4
        for wid in windows:
            r = client.get(f"{API}/windows/{wid}", headers=admin)
            assert r.status_code == 200 and r.json()["current"] is None, r.text


@pytest.mark.postgres
def test_two_processes_close_each_ticket_once(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two server processes run the pass at once, in small batches: every ticket closes exactly once."""
    gen = postgres_env(pg_url, tmp_path, monkeypatch)
    env = next(gen)
    try:
        for _ in range(40):
            env.issue("x-city")
        with env.ctx.db.write() as s:
            s.execute(update(Ticket).values(business_day=TUE))
        other = ServerContext.create(Settings(data_dir=tmp_path / "data", db_url=pg_url, pool_size=4))
        now = datetime(2026, 3, 10, 16, 1, tzinfo=UTC)
        results: list[dict[str, int]] = []
        errors: list[BaseException] = []

        def run(ctx: ServerContext) -> None:
            try:
                results.append(dayend.close_ended_days(ctx, now, batch=3))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(c,)) for c in (env.ctx, other, env.ctx, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        other.close()
        assert not errors, errors
        assert sum(r["expired_tickets"] for r in results) == 40
        with env.ctx.db.read() as s:
            assert s.scalar(select(func.count()).where(Ticket.status == "expired")) == 40
            payloads = s.scalars(select(Event.payload).where(Event.type == "ticket.expired")).all()
        closed = [json.loads(p)["ticket"]["id"] for p in payloads]
        assert len(closed) == len(set(closed)) == 40
    finally:
        gen.close()


def test_a_ticket_left_from_yesterday_raises_no_alert_today(env: Env) -> None:
    """The issue's report: a leftover waiting ticket gave 最长已等候1440分钟 and a window idle alert."""
    env.h("clerk:x-city:1")  # the clerk of window 1 is at the window, which has nobody in hand
    env.issue("x-city")
    with env.ctx.db.write() as s:
        s.execute(update(Ticket).values(business_day=TUE, issued_at=datetime(2026, 3, 10, 1, 0, tzinfo=UTC)))
    env.clock.set_local(TUE, "16:00")
    assert {"wait.long", "window.idle"} <= {a["code"] for a in alerts(env)}
    env.clock.set_local(WED, "09:00")  # no pass has run yet: the alerts alone must not count it
    assert alerts(env) == []


def test_the_open_tickets_index_covers_exactly_the_statuses_the_day_end_closes() -> None:
    listed = OPEN_TICKETS.split("(", 1)[1].rstrip(")").split(", ")
    assert sorted(x.strip("'") for x in listed) == sorted(s.value for s in OPEN_STATUSES)
