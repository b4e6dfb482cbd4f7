"""Matters recorded at the window, moved by the back office, looked up at the kiosk with the ID card."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hall_server.clock_app import API, ID_A, ID_B, Env, sqlite_env


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The in-process hall server on SQLite with a movable clock."""
    yield from sqlite_env(tmp_path, monkeypatch)


def serve_person(env: Env, id_number: str, finish: bool = False) -> dict:
    env.issue("x-city", id_number=id_number)
    return env.serve_next("x-city", 1, finish=finish)


def test_record_advance_and_kiosk_lookup(env: Env) -> None:
    t = serve_person(env, ID_A)
    clerk = env.h("clerk:x-city:1")
    r = env.client.post(f"{API}/tickets/{t['id']}/matters", json={}, headers=clerk)
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["step"] == "accepted" and m["step_zh"] == "已受理" and m["visits"] == 1
    assert m["service_code"] == "S-001" and m["holder"]["id_masked"] == "1101**********4514"
    assert m["case_no"].startswith("X-CITY-")
    # The back office moves it on, in order only.
    url = f"{API}/matters/{m['id']}/steps"
    bad = env.client.post(url, json={"step": "decided"}, headers=env.h("m-city"))
    assert bad.status_code == 409 and bad.json()["error"]["code"] == "matter.bad_step"
    for step in ("under_review", "decided"):
        assert (
            env.client.post(url, json={"step": step, "note": "审查"}, headers=env.h("m-city")).status_code
            == 200
        )
    # The visitor puts the card on the kiosk: the matter and where it stands, masked.
    r = env.client.post(f"{API}/matters/query", json={"id_number": ID_A}, headers=env.h("kiosk:x-city"))
    assert r.status_code == 200
    (found,) = r.json()
    assert found["case_no"] == m["case_no"] and found["step"] == "decided" and found["step_index"] == 3
    assert [h["step"] for h in found["history"]] == ["accepted", "under_review", "decided"]
    assert ID_A not in r.text
    assert (
        env.client.post(
            f"{API}/matters/query", json={"id_number": ID_B}, headers=env.h("kiosk:x-city")
        ).json()
        == []
    )
    r = env.client.post(f"{API}/matters/query", json={"id_number": "123"}, headers=env.h("kiosk:x-city"))
    assert r.status_code == 422
    # A rating device may not read personal matters.
    r = env.client.post(f"{API}/matters/query", json={"id_number": ID_A}, headers=env.h("rating:x-city:1"))
    assert r.status_code == 403


def test_second_visit_counts_for_zui_duo_pao_yi_ci(env: Env) -> None:
    t1 = serve_person(env, ID_A, finish=False)
    clerk = env.h("clerk:x-city:1")
    m = env.client.post(
        f"{API}/tickets/{t1['id']}/matters", json={"case_no": "BZ-2026-0001"}, headers=clerk
    ).json()
    env.client.post(f"{API}/windows/{t1['window_id']}/finish", headers=clerk)
    t2 = serve_person(env, ID_A)  # the visitor comes back for a missing paper
    r = env.client.post(f"{API}/tickets/{t2['id']}/matters", json={"case_no": "BZ-2026-0001"}, headers=clerk)
    assert r.status_code == 201 and r.json()["id"] == m["id"] and r.json()["visits"] == 2
    # Someone else's ticket cannot be booked onto this matter.
    env.client.post(f"{API}/windows/{t2['window_id']}/finish", headers=clerk)
    t3 = serve_person(env, ID_B)
    r = env.client.post(f"{API}/tickets/{t3['id']}/matters", json={"case_no": "BZ-2026-0001"}, headers=clerk)
    assert r.status_code == 409 and r.json()["error"]["code"] == "matter.other_person"
    stats = env.client.get(
        f"{API}/halls/x-city/stats", params={"from": t1["business_day"]}, headers=env.h("m-city")
    ).json()
    assert stats["visits"]["matters"] == 1 and stats["visits"]["average_visits"] == 2.0
    assert stats["visits"]["at_most_once_rate"] == 0.0


def test_only_the_serving_window_records(env: Env) -> None:
    t = serve_person(env, ID_A)
    other_clerk = env.h("clerk:x-city:2")
    r = env.client.post(f"{API}/tickets/{t['id']}/matters", json={}, headers=other_clerk)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.wrong_window"
    waiting = env.issue("x-city", id_number=ID_B)
    r = env.client.post(f"{API}/tickets/{waiting['id']}/matters", json={}, headers=env.h("clerk:x-city:1"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "matter.not_served"
    r = env.client.post(f"{API}/tickets/999999/matters", json={}, headers=env.h("clerk:x-city:1"))
    assert r.status_code == 404


def test_a_person_lookup_stays_in_the_callers_halls(env: Env) -> None:
    """A token of one hall never reveals a person's matters in a hall outside its own subtree."""
    t = serve_person(env, ID_A)
    r = env.client.post(f"{API}/tickets/{t['id']}/matters", json={}, headers=env.h("clerk:x-city:1"))
    assert r.status_code == 201
    query = f"{API}/matters/query"
    # The city's kiosk and manager find it; the county's kiosk and manager (below the city) do not.
    assert len(env.client.post(query, json={"id_number": ID_A}, headers=env.h("kiosk:x-city")).json()) == 1
    assert len(env.client.post(query, json={"id_number": ID_A}, headers=env.h("m-city")).json()) == 1
    for other in ("kiosk:x-county", "m-county"):
        answer = env.client.post(query, json={"id_number": ID_A}, headers=env.h(other))
        assert answer.status_code == 200 and answer.json() == [], other
