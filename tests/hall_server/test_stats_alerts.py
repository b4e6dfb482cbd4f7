"""The dashboard's alerts and device health: long queue, long wait, idle staffed window, device fault/offline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.hall_server.clock_app import API, Env, sqlite_env


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The in-process hall server on SQLite with a movable clock."""
    yield from sqlite_env(tmp_path, monkeypatch)


def codes(env: Env) -> list[str]:
    r = env.client.get(f"{API}/halls/x-city/alerts", headers=env.h("m-city"))
    assert r.status_code == 200
    return sorted(a["code"] for a in r.json())


def test_alerts_follow_the_hall_state(env: Env) -> None:
    import datetime as dt

    env.clock.now = dt.datetime.now(dt.UTC)  # tickets are stamped with the real time
    assert codes(env) == []
    env.client.put(
        f"{API}/halls/x-city/ext-settings", json={"alert_queue_length": 2}, headers=env.h("m-city")
    )
    env.issue("x-city")
    env.issue("x-city")
    # Two waiting in A (threshold 2); no clerk logged in yet: no idle-window alert.
    assert codes(env) == ["queue.long"]
    env.h("clerk:x-city:1")  # the clerk logs in at window 1, which serves A and sits idle
    alerts = env.client.get(f"{API}/halls/x-city/alerts", headers=env.h("m-city")).json()
    idle = next(a for a in alerts if a["code"] == "window.idle")
    assert idle["message"] == "1号窗口空闲，但有2人在等候"
    # The queue is old: 11 minutes later the longest wait passes the 10-minute target.
    env.clock.now += timedelta(minutes=11)
    assert "wait.long" in codes(env)
    env.serve_next("x-city", 1, finish=False)
    assert "window.idle" not in codes(env)


def test_device_fault_and_offline(env: Env) -> None:
    import datetime as dt

    env.clock.now = dt.datetime.now(dt.UTC)
    kiosk = env.h("kiosk:x-city")
    body = {
        "device_id": "k1",
        "kind": "kiosk",
        "status": "fault",
        "faults": [{"code": "paper_out", "message": ""}],
    }
    assert env.client.post(f"{API}/devices/heartbeat", json=body, headers=kiosk).status_code == 204
    ok = {"device_id": "k2", "kind": "kiosk", "status": "ok", "faults": []}
    assert env.client.post(f"{API}/devices/heartbeat", json=ok, headers=kiosk).status_code == 204
    devices = {
        d["device_id"]: d
        for d in env.client.get(f"{API}/halls/x-city/device-health", headers=env.h("m-city")).json()
    }
    assert devices["k1"]["ok"] is False and devices["k1"]["faults"][0]["message"] == "打印机缺纸"
    assert devices["k2"]["ok"] is True
    assert codes(env) == ["device.fault"]
    env.clock.now += timedelta(minutes=5)  # no heartbeat since: both offline
    assert codes(env) == ["device.fault", "device.offline", "device.offline"]
    assert env.client.get(f"{API}/halls/x-city/alerts", headers=env.h("m-county")).status_code == 403


def station_alerts(env: Env, hall: str, who: str) -> list[dict[str, Any]]:
    r = env.client.get(f"{API}/halls/{hall}/alerts", headers=env.h(who))
    assert r.status_code == 200, r.text
    return [a for a in r.json() if a["code"].startswith("station.")]


def test_a_silent_station_is_an_alert_of_its_hall_and_the_halls_above(env: Env) -> None:
    import datetime as dt

    from sqlalchemy import text

    from hall_server.services import stations

    env.clock.now = dt.datetime.now(dt.UTC)
    with (
        env.ctx.db.write() as s
    ):  # the seed's record of the hall: the sync core adopts only a hall without one
        s.execute(text("DELETE FROM events WHERE hall_id IN ('x-town', 'audit:x-town')"))
        s.execute(text("DELETE FROM hall_seq WHERE hall_id IN ('x-town', 'audit:x-town')"))
    bundle = stations.add_station(env.ctx.db, "st-town", ["x-town"], "测试镇", now=env.clock.now)
    env.clock.now += timedelta(minutes=3)
    # Registered, never heard from: silent at once (the station list says so too).
    (never,) = station_alerts(env, "x-city", "m-city")
    assert never["level"] == "critical" and never["detail"]["station_id"] == "st-town"
    assert never["message"] == "站点测试镇（st-town）从未联系（已登记3分钟）"
    assert [a["code"] for a in station_alerts(env, "x-town", "m-county")] == ["station.silent"]
    assert station_alerts(env, "y-city", "m-y") == []  # another city's hall
    # The station pulls: heard from now.
    r = env.client.get(f"{API}/sync/pull", headers={"Authorization": f"Bearer {bundle['credential']}"})
    assert r.status_code == 200, r.text
    assert station_alerts(env, "x-city", "m-city") == []
    # Nothing for longer than the threshold (600 s by default): 站点 X 已 N 分钟未联系.
    env.clock.now += timedelta(minutes=15)
    (silent,) = station_alerts(env, "x-county", "m-county")
    assert silent["message"] == "站点测试镇（st-town）已15分钟未联系"
    assert silent["message_en"] == "station st-town silent for 15 min"
    env.clock.now += timedelta(hours=3)
    assert station_alerts(env, "x-city", "m-city")[0]["message"] == "站点测试镇（st-town）已3小时未联系"
    # A revoked station is not expected to call.
    stations.revoke_station(env.ctx.db, "st-town")
    assert station_alerts(env, "x-city", "m-city") == []
