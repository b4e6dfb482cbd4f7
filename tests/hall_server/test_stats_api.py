"""Statistics and 好差评 indicators against a hand-computed day, on SQLite and PostgreSQL; exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from hall_server.db.models import User
from tests.hall_server.clock_app import API, ID_A, ID_B, Env, postgres_env, sqlite_env
from tests.hall_server.timed_rows import add_rating, add_ticket


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The in-process hall server on SQLite with a movable clock."""
    yield from sqlite_env(tmp_path, monkeypatch)


@pytest.fixture
def pg_env(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The same on a fresh PostgreSQL database."""
    yield from postgres_env(pg_url, tmp_path, monkeypatch)


MON = date(2026, 3, 9)
TUE = date(2026, 3, 10)


def build_day(env: Env) -> dict[str, int]:
    """The hand-computed example of docs/indicators.md terms (see the figures in the tests)."""
    w1, w2 = env.window_id("x-city", 1), env.window_id("x-city", 2)
    with env.ctx.db.read() as s:
        c1 = s.scalar(select(User.id).where(User.username == "x-city-c1"))
        c2 = s.scalar(select(User.id).where(User.username == "x-city-c2"))
    with env.ctx.db.write() as s:
        t1 = add_ticket(
            s, hall_id="x-city", day=MON, issued="09:00", wait=300, serve=600, window_id=w1, clerk_id=c1
        )
        t2 = add_ticket(
            s, hall_id="x-city", day=MON, issued="09:10", wait=900, serve=300, window_id=w2, clerk_id=c2
        )
        t3 = add_ticket(
            s,
            hall_id="x-city",
            day=MON,
            issued="10:05",
            wait=60,
            serve=120,
            window_id=w1,
            clerk_id=c1,
            service_code="S-003",
            prefix="B",
        )
        add_ticket(
            s,
            hall_id="x-city",
            day=MON,
            issued="10:20",
            wait=1500,
            status="no_show",
            window_id=w2,
            clerk_id=c2,
        )
        add_ticket(
            s,
            hall_id="x-city",
            day=MON,
            issued="10:30",
            wait=200,
            serve=400,
            window_id=w1,
            clerk_id=c1,
            transfers=1,
        )
        add_ticket(s, hall_id="x-city", day=MON, issued="11:00")  # still waiting
        t7 = add_ticket(
            s,
            hall_id="x-city",
            day=MON,
            issued="14:00",
            wait=100,
            serve=100,
            window_id=w2,
            clerk_id=c2,
            service_code="S-003",
            prefix="B",
        )
        add_ticket(s, hall_id="x-city", day=TUE, issued="09:00", wait=30, serve=60, window_id=w1, clerk_id=c1)
        add_ticket(s, hall_id="x-county", day=MON, issued="09:00", wait=30, serve=60)  # below, in the subtree
        add_rating(s, t1, 5, prompted=True)
        r2 = add_rating(s, t2, 1, prompted=False)
        add_rating(s, t3, 4, prompted=False)
        r7 = add_rating(s, t7, 2, prompted=True)
    h = env.h("m-city")
    cases = {
        c["rating_id"]: c["id"] for c in env.client.get(f"{API}/halls/x-city/followups", headers=h).json()
    }
    for step in ("verified", "answered", "fixed"):
        env.client.post(f"{API}/followups/{cases[r2.id]}/steps", json={"step": step}, headers=h)
    env.client.post(
        f"{API}/followups/{cases[r2.id]}/steps", json={"step": "revisited", "satisfied": True}, headers=h
    )
    env.client.post(f"{API}/followups/{cases[r2.id]}/steps", json={"step": "closed"}, headers=h)
    env.client.post(f"{API}/followups/{cases[r7.id]}/steps", json={"step": "verified"}, headers=h)
    return {"w1": w1, "w2": w2, "c1": c1, "c2": c2}


def check_hand_computed(env: Env) -> None:
    ids = build_day(env)
    h = env.h("m-city")
    q = {"from": "2026-03-09", "to": "2026-03-09", "subtree": "false"}
    s = env.client.get(f"{API}/halls/x-city/stats", params=q, headers=h).json()
    t = s["totals"]
    assert (t["issued"], t["served"], t["no_show"], t["transferred"]) == (7, 5, 1, 1)
    # Waits 300, 900, 60, 1500, 200, 100 s: average 510, nearest-rank p90 1500, 2 of 6 above 600 s.
    assert t["wait"]["count"] == 6 and t["wait"]["average"] == pytest.approx(510, abs=0.01)
    assert t["wait"]["p90"] == 1500 and t["wait"]["above_target"] == 2
    assert t["wait"]["above_target_share"] == pytest.approx(2 / 6)
    # Service 600, 300, 120, 400, 100 s: average 304, p90 600.
    assert t["service"]["count"] == 5 and t["service"]["average"] == pytest.approx(304, abs=0.01)
    assert t["service"]["p90"] == 600
    per_hour = {p["hour"]: p["issued"] for p in s["per_hour"] if p["issued"]}
    assert per_hour == {9: 2, 10: 3, 11: 1, 14: 1}
    buckets = {b["label"]: b["count"] for b in s["wait_histogram"]}
    assert buckets["0-5"] == 3 and buckets["5-10"] == 1 and buckets["15-20"] == 1 and buckets["20-30"] == 1
    ind = s["ratings"]["indicators"]
    assert ind["good_rate"] == pytest.approx(2 / 4)  # 好评率: 5 and 4 of 5, 1, 4, 2
    assert ind["unprompted_good_rate"] == pytest.approx(1 / 2)  # 主动评价好评率: 4 of (1, 4)
    assert ind["unrated_rate"] == pytest.approx(1 / 5)  # 未评率: 1 of 5 finished unrated
    assert ind["bad_reply_rate"] == pytest.approx(1 / 2)  # 差评回复率: one of two cases answered
    assert ind["revisit_fix_rate"] == pytest.approx(1 / 2)  # 回访整改率
    assert ind["revisit_satisfaction_rate"] == pytest.approx(1.0)  # 回访整改满意率
    assert [lv["count"] for lv in s["ratings"]["levels"]] == [1, 1, 0, 1, 1]

    # Per window (and the same per clerk).
    for by, k1, k2 in (("window", ids["w1"], ids["w2"]), ("clerk", ids["c1"], ids["c2"])):
        rows = env.client.get(f"{API}/halls/x-city/stats/breakdown", params={**q, "by": by}, headers=h).json()
        rows = {r["key"]: r for r in rows}
        a, b = rows[k1], rows[k2]
        assert (a["issued"], a["served"], a["no_show"]) == (3, 3, 0)
        assert (b["issued"], b["served"], b["no_show"]) == (3, 2, 1)
        assert a["wait"]["average"] == pytest.approx(560 / 3, abs=0.01)
        assert b["wait"]["average"] == pytest.approx(2500 / 3, abs=0.01)
        assert a["ratings"]["good_rate"] == 1.0 and a["ratings"]["unrated_rate"] == pytest.approx(1 / 3)
        assert a["ratings"]["bad_reply_rate"] is None  # no bad rating: undefined, not 0
        assert b["ratings"]["good_rate"] == 0.0 and b["ratings"]["unprompted_good_rate"] == 0.0
        assert b["ratings"]["bad_reply_rate"] == 0.5 and b["ratings"]["revisit_satisfaction_rate"] == 1.0
    assert rows[ids["c1"]]["label"] == "王芳"
    # Per service item.
    ind_s = env.client.get(f"{API}/halls/x-city/indicators", params={**q, "by": "service"}, headers=h).json()
    svc = {r["key"]: r["indicators"] for r in ind_s["rows"]}
    assert svc["S-003"]["good_rate"] == 0.5 and svc["S-003"]["unprompted_good_rate"] == 1.0
    assert svc["S-003"]["unrated_rate"] == 0.0 and svc["S-003"]["bad_reply_rate"] == 0.0
    assert svc["S-003"]["revisit_satisfaction_rate"] is None
    assert ind_s["total"]["good_rate"] == 0.5
    # Period and subtree: Tuesday adds one ticket; the county below adds one more.
    two_days = env.client.get(f"{API}/halls/x-city/stats", params={**q, "to": "2026-03-10"}, headers=h).json()
    assert two_days["totals"]["issued"] == 8
    tree = env.client.get(f"{API}/halls/x-city/stats", params={"from": "2026-03-09"}, headers=h).json()
    assert tree["totals"]["issued"] == 8 and tree["hall_ids"] == ["x-city", "x-county", "x-town"]
    days = env.client.get(
        f"{API}/halls/x-city/stats/breakdown", params={**q, "to": "2026-03-10", "by": "day"}, headers=h
    )
    assert [(r["key"], r["issued"]) for r in days.json()] == [("2026-03-09", 7), ("2026-03-10", 1)]


def test_hand_computed_day_sqlite(env: Env) -> None:
    check_hand_computed(env)


@pytest.mark.postgres
def test_hand_computed_day_postgres(pg_env: Env) -> None:
    check_hand_computed(pg_env)


def test_appointments_kept_and_missed(env: Env) -> None:
    env.clock.set_local(date(2026, 3, 6), "10:00")  # Friday: book Monday
    for id_number, start in ((ID_A, "09:00"), (ID_B, "09:30")):
        body = {
            "service_code": "S-001",
            "day": "2026-03-09",
            "start": start,
            "id_number": id_number,
            "phone": "13900139000",
        }
        assert env.client.post(f"{API}/halls/x-city/appointments", json=body).status_code == 201
    env.clock.set_local(MON, "08:45")
    assert (
        env.client.post(
            f"{API}/halls/x-city/checkin", json={"id_number": ID_A}, headers=env.h("kiosk:x-city")
        ).status_code
        == 201
    )
    env.clock.set_local(MON, "12:00")
    env.client.post(f"{API}/appointments/sweep", headers=env.h("m-city"))
    t = env.client.get(
        f"{API}/halls/x-city/stats", params={"from": "2026-03-09"}, headers=env.h("m-city")
    ).json()["totals"]
    assert (t["appointments_booked"], t["appointments_kept"], t["appointments_missed"]) == (2, 1, 1)


def test_exports_csv_and_excel(env: Env) -> None:
    build_day(env)
    h = env.h("m-city")
    q = {"from": "2026-03-09", "to": "2026-03-09", "subtree": "false"}
    r = env.client.get(f"{API}/halls/x-city/stats/export.csv", params={**q, "by": "window"}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["分组", "名称", "取号数", "办结数"]
    # Names, not database ids: the window's number and "hall · window".
    assert all(row[0].endswith("号") for row in rows[1:] if row[0])
    by_key = {row[0]: row for row in rows[1:]}
    w2 = by_key["2号"]
    assert w2[1] == "测试市政务服务中心 · 2号窗口 综合窗口" and w2[2] == "3" and w2[3] == "2" and w2[4] == "1"
    assert float(w2[7]) == pytest.approx(2500 / 3 / 60, abs=0.01)  # average wait in minutes
    assert float(w2[13]) == 0.0 and float(w2[17]) == 50.0  # 好评率 %, 差评回复率 %
    r = env.client.get(f"{API}/halls/x-city/stats/export.xlsx", params=q, headers=h)
    assert r.status_code == 200 and r.content[:2] == b"PK"
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["汇总", "按事项", "按窗口", "按工作人员", "按大厅", "按日", "按小时"]
    summary = {row[0]: row[1] for row in wb["汇总"].iter_rows(values_only=True)}
    assert "x-city" not in summary["大厅"]  # the hall's name, not its id
    assert summary["取号数"] == 7 and summary["办结数"] == 5 and summary["好评率(%)"] == 50.0
    assert summary["回访整改满意率(%)"] == 100.0
    clerks = list(wb["按工作人员"].iter_rows(values_only=True))
    assert {row[1] for row in clerks[1:]} == {"王芳", "李娜", None}  # None: the ticket never called


def test_stats_access_and_bad_input(env: Env) -> None:
    r = env.client.get(f"{API}/halls/x-city/stats", headers=env.h("m-county"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.wrong_hall"
    assert env.client.get(f"{API}/halls/x-county/stats", headers=env.h("m-county")).status_code == 200
    assert env.client.get(f"{API}/halls/x-city/stats", headers=env.h("clerk:x-city:1")).status_code == 403
    assert env.client.get(f"{API}/halls/x-city/stats").status_code == 401
    r = env.client.get(
        f"{API}/halls/x-city/stats",
        params={"from": "2026-03-10", "to": "2026-03-01"},
        headers=env.h("m-city"),
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "stats.bad_period"
    r = env.client.get(f"{API}/halls/x-city/stats/breakdown", params={"by": "mood"}, headers=env.h("m-city"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "stats.bad_group"
    assert env.client.get(f"{API}/halls/nope/stats", headers=env.h("admin")).status_code == 404
    # An unknown grouping is a clear refusal on every statistics route, the indicators and the CSV too.
    for path in ("indicators", "stats/export.csv"):
        r = env.client.get(f"{API}/halls/x-city/{path}", params={"by": "mood"}, headers=env.h("m-city"))
        assert r.status_code == 422 and r.json()["error"]["code"] == "stats.bad_group", path
