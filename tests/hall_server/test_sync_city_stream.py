"""The city's own events about a station's hall ("<hall>@city": follow-up steps worked at the city)
reach the city's readers: the hall's managers read and subscribe to that stream like the hall's
own (GET events, the WebSocket by header or one-time ticket); others are refused. SQLite and
PostgreSQL (the city), in-process server with a real database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hall_server.services import stations
from tests.hall_server.clock_app import API, Env, postgres_env, sqlite_env

pytestmark = pytest.mark.timeout(120)

HALL = "x-city"
CITY_STREAM = HALL + "@city"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    if request.param == "postgres":
        yield from postgres_env(request.getfixturevalue("pg_url"), tmp_path, monkeypatch)
    else:
        yield from sqlite_env(tmp_path, monkeypatch)


def _station_case(env: Env) -> dict[str, Any]:
    """A bad rating's follow-up case in HALL, then HALL becomes a station's (the city works the case)."""
    env.issue(HALL)
    t = env.serve_next(HALL, 1)
    env.rate(t["id"], 1)
    cases = env.client.get(f"{API}/halls/{HALL}/followups", headers=env.h("m-city")).json()
    assert len(cases) == 1, cases
    stations.add_station(env.ctx.db, "st-x", [HALL], "测试站")
    return cases[0]


def test_city_stream_of_a_station_hall_reaches_its_subscribers(env: Env) -> None:
    case = _station_case(env)
    h = env.h("m-city")
    hall_before = env.client.get(f"{API}/halls/{HALL}/events", headers=h).json()
    with env.client.websocket_connect(f"{API}/halls/{CITY_STREAM}/events/ws", headers=h) as ws:
        r = env.client.post(
            f"{API}/followups/{case['id']}/steps", json={"step": "verified", "note": "已核实"}, headers=h
        )
        assert r.status_code == 200, r.text
        ev = json.loads(ws.receive_text())
    assert ev["hall_id"] == CITY_STREAM and ev["type"].startswith("followup.")
    assert ev["payload"].get("case_id", case["id"]) == case["id"]
    # The station owns the hall's log: the city's step is not in it, it is in the city's stream.
    assert env.client.get(f"{API}/halls/{HALL}/events", headers=h).json() == hall_before
    listed = env.client.get(f"{API}/halls/{CITY_STREAM}/events", headers=h)
    assert listed.status_code == 200 and [e["seq"] for e in listed.json()] == [ev["seq"]], listed.text

    # A browser opens it with a one-time ticket (the dashboard's live view), replaying from since.
    r = env.client.post(f"{API}/halls/{CITY_STREAM}/events/ticket", headers=h)
    assert r.status_code == 200 and r.json()["hall_id"] == CITY_STREAM, r.text
    url = f"{API}/halls/{CITY_STREAM}/events/ws?since=0&ticket={r.json()['ticket']}"
    with env.client.websocket_connect(url) as ws:
        assert json.loads(ws.receive_text())["seq"] == ev["seq"]


def test_city_stream_is_refused_to_other_halls_and_unknown_halls(env: Env) -> None:
    _station_case(env)
    # A kiosk of another hall may not read it, like the hall's own stream.
    r = env.client.get(f"{API}/halls/{CITY_STREAM}/events", headers=env.h("kiosk:x-county"))
    assert r.status_code == 403, r.text
    r = env.client.get(f"{API}/halls/nowhere@city/events", headers=env.h("m-city"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "hall.unknown", r.text
    r = env.client.post(f"{API}/halls/nowhere@city/events/ticket", headers=env.h("m-city"))
    assert r.status_code == 404, r.text
