"""Bad ratings open follow-up cases with a working-day deadline; steps in order, by a named manager."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hall_server.const import EV_FOLLOWUP_OPENED
from hall_server.db.models import Event, FollowupCase
from hall_server.services.followups import open_missing_cases
from tests.hall_server.clock_app import API, MONDAY_10, Env, postgres_env, sqlite_env


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The in-process hall server on SQLite with a movable clock."""
    yield from sqlite_env(tmp_path, monkeypatch)


def rated_ticket(env: Env, level: int, prompted: bool = True) -> dict:
    env.issue("x-city")
    t = env.serve_next("x-city", 1)
    return env.rate(t["id"], level, prompted)


def test_bad_rating_opens_case_with_deadline_across_national_day(env: Env) -> None:
    good = rated_ticket(env, 5)
    bad = rated_ticket(env, 1)
    # The rating was given on Friday 2026-09-25 (中秋 holiday): 15 working days skip 中秋 and 国庆,
    # count the Saturday make-up day 10-10, and end on Thursday 10-22 (a plain count would say 10-16).
    env.backdate_rating(bad["id"], datetime(2026, 9, 25, 3, 0, tzinfo=UTC))
    env.clock.set_local(date(2026, 9, 28), "10:00")
    r = env.client.get(f"{API}/halls/x-city/followups", headers=env.h("m-city"))
    assert r.status_code == 200, r.text
    cases = r.json()
    assert len(cases) == 1 and good["id"] not in [c["rating_id"] for c in cases]
    case = cases[0]
    assert case["rating_id"] == bad["id"] and case["level"] == 1 and case["step"] == "open"
    assert case["opened_on"] == "2026-09-25" and case["deadline"] == "2026-10-22"
    assert (
        case["window_number"] == 1 and case["service_name"] == "社会保障卡申领" and case["overdue"] is False
    )
    # Listing again opens nothing new.
    assert len(env.client.get(f"{API}/halls/x-city/followups", headers=env.h("m-city")).json()) == 1
    env.clock.set_local(date(2026, 10, 23), "09:00")
    late = env.client.get(f"{API}/halls/x-city/followups", headers=env.h("m-city")).json()[0]
    assert late["overdue"] is True


def test_case_shows_rating_clerk_and_working_days_left(env: Env) -> None:
    """What the dashboard's step form shows: the rater's reasons and text, window and clerk names,
    working days left (negative once late, none once closed); the rater's text stays out of events."""
    env.issue("x-city")
    t = env.serve_next("x-city", 1)
    body = {"ticket_id": t["id"], "level": 2, "channel": "device", "prompted": True}
    body |= {"reasons": ["服务态度", "服务效率"], "text": "等了很久没人理"}
    r = env.client.post(f"{API}/ratings", json=body, headers=env.h("rating:x-city:1"))
    assert r.status_code == 201, r.text
    env.backdate_rating(r.json()["id"], MONDAY_10)  # Monday 2026-03-09: deadline Monday 03-30
    h = env.h("m-city")
    case = env.client.get(f"{API}/halls/x-city/followups", headers=h).json()[0]
    assert case["deadline"] == "2026-03-30" and case["working_days_left"] == 15
    assert case["reasons"] == ["efficiency", "attitude"] and case["reasons_zh"] == ["服务效率", "服务态度"]
    assert case["level_zh"] == "不满意" and case["text"] == "等了很久没人理"
    assert case["window_name"] == "社保窗口" and case["clerk_name"] == "王芳"
    env.clock.set_local(date(2026, 3, 27), "10:00")  # Friday: only Monday is left
    assert env.client.get(f"{API}/followups/{case['id']}", headers=h).json()["working_days_left"] == 1
    env.clock.set_local(date(2026, 3, 31), "10:00")
    late = env.client.get(f"{API}/halls/x-city/followups", headers=h).json()[0]
    assert late["working_days_left"] == -1 and late["overdue"] is True
    url = f"{API}/followups/{case['id']}/steps"
    for step in ("verified", "answered", "fixed"):
        assert env.client.post(url, json={"step": step, "note": "说明"}, headers=h).status_code == 200
    env.client.post(url, json={"step": "revisited", "satisfied": False, "note": "不满意"}, headers=h)
    closed = env.client.post(url, json={"step": "closed", "note": "办结"}, headers=h).json()
    assert closed["working_days_left"] is None and closed["text"] == "等了很久没人理"
    with env.ctx.db.read() as s:
        payloads = list(s.scalars(select(Event.payload).where(Event.type.like("followup.%"))))
    assert payloads and all("等了很久没人理" not in json.dumps(p, ensure_ascii=False) for p in payloads)


def test_deadline_counts_per_hall_setting(env: Env) -> None:
    env.client.put(
        f"{API}/halls/x-city/ext-settings", json={"followup_working_days": 5}, headers=env.h("m-city")
    )
    bad = rated_ticket(env, 2)
    env.backdate_rating(bad["id"], datetime(2026, 2, 13, 2, 0, tzinfo=UTC))  # Friday before 春节
    case = env.client.get(f"{API}/halls/x-city/followups", headers=env.h("m-city")).json()[0]
    # 02-14 (Saturday make-up), then 02-24, 02-25, 02-26, 02-27 after the Spring Festival.
    assert case["deadline"] == "2026-02-27"


def test_steps_in_order_by_named_manager_and_recorded(env: Env) -> None:
    rated_ticket(env, 1)
    case = env.client.get(f"{API}/halls/x-city/followups", headers=env.h("m-city")).json()[0]
    url = f"{API}/followups/{case['id']}/steps"
    h = env.h("m-city")
    skip = env.client.post(url, json={"step": "answered"}, headers=h)
    assert skip.status_code == 409 and skip.json()["error"]["code"] == "followup.bad_step"
    for step in ("verified", "answered", "fixed"):
        r = env.client.post(url, json={"step": step, "note": f"{step} 说明"}, headers=h)
        assert r.status_code == 200 and r.json()["step"] == step
    r = env.client.post(url, json={"step": "revisited"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "followup.satisfied_required"
    r = env.client.post(
        url, json={"step": "revisited", "satisfied": True, "note": "电话回访，群众满意"}, headers=h
    )
    assert r.json()["revisit_satisfied"] is True
    r = env.client.post(url, json={"step": "closed"}, headers=h)
    body = r.json()
    assert body["step"] == "closed" and body["step_zh"] == "已办结"
    assert [s["step"] for s in body["steps"]] == [
        "open",
        "verified",
        "answered",
        "fixed",
        "revisited",
        "closed",
    ]
    assert {s["by"] for s in body["steps"][1:]} == {"陈静"}
    again = env.client.post(url, json={"step": "closed"}, headers=h)
    assert again.status_code == 409
    with env.ctx.db.read() as s:
        types = list(s.scalars(select(Event.type).where(Event.type.like("followup.%")).order_by(Event.seq)))
    assert types == ["followup.opened"] + ["followup.step"] * 5
    closed = env.client.get(f"{API}/halls/x-city/followups?open_only=true", headers=h).json()
    assert closed == []


def test_managers_see_only_their_subtree(env: Env) -> None:
    rated_ticket(env, 1)
    case = env.client.get(f"{API}/halls/x-city/followups", headers=env.h("m-city")).json()[0]
    # The county manager is below the city hall: no access to the city's cases.
    r = env.client.get(f"{API}/halls/x-city/followups", headers=env.h("m-county"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.wrong_hall"
    r = env.client.post(
        f"{API}/followups/{case['id']}/steps", json={"step": "verified"}, headers=env.h("m-y")
    )
    assert r.status_code == 404
    r = env.client.get(f"{API}/followups/{case['id']}", headers=env.h("m-county"))
    assert r.status_code == 404
    # A clerk or a kiosk is not a manager.
    r = env.client.get(f"{API}/halls/x-city/followups", headers=env.h("kiosk:x-city"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.forbidden"
    # The city manager sees the county's cases too (subtree).
    assert env.client.get(f"{API}/halls/x-county/followups", headers=env.h("m-city")).status_code == 200


@pytest.fixture
def pg_env(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The same server on a fresh PostgreSQL database."""
    yield from postgres_env(pg_url, tmp_path, monkeypatch)


@pytest.mark.postgres
def test_postgres_deadline_and_steps(pg_env: Env) -> None:
    test_bad_rating_opens_case_with_deadline_across_national_day(pg_env)
    pg_env.clock.set_local(date(2026, 9, 28), "10:00")
    case = pg_env.client.get(f"{API}/halls/x-city/followups", headers=pg_env.h("m-city")).json()[0]
    r = pg_env.client.post(
        f"{API}/followups/{case['id']}/steps", json={"step": "verified"}, headers=pg_env.h("m-city")
    )
    assert r.status_code == 200 and [s["step"] for s in r.json()["steps"]] == ["open", "verified"]


def _two_passes_at_once(env: Env) -> None:
    """A reader's pass and the background pass open cases at once: one case, one event, no error."""
    rated_ticket(env, 1)
    results: list[int | BaseException] = []

    def second_pass() -> None:
        try:
            with env.ctx.db.write() as s:
                results.append(open_missing_cases(s, env.ctx.now()))
        except BaseException as exc:  # the failure is the finding; report it on the test thread
            results.append(exc)

    with env.ctx.db.write() as s:
        assert open_missing_cases(s, env.ctx.now()) == 1
        # The first pass holds its new case uncommitted while the second one looks for missing cases.
        other = threading.Thread(target=second_pass)
        other.start()
        other.join(timeout=0.5)
    other.join(timeout=30)
    assert not other.is_alive()
    assert results == [0]
    with env.ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(FollowupCase)) == 1
        opened = s.scalar(select(func.count()).where(Event.type == EV_FOLLOWUP_OPENED))
    assert opened == 1


def test_two_passes_at_once_open_one_case(env: Env) -> None:
    _two_passes_at_once(env)


@pytest.mark.postgres
def test_two_passes_at_once_open_one_case_postgres(pg_env: Env) -> None:
    _two_passes_at_once(pg_env)
