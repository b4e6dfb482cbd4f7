"""The dashboard's alerts and device health: long queue, long wait, idle staffed window, device fault/offline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

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
