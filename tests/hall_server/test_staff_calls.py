"""呼叫工作人员: a kiosk calls the hall's floor staff, the dashboard's alerts name the kiosk, a manager's
已处理 closes it; one call however often the kiosk sends it, and a limit per device (both databases)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from hall_server.auth import create_token
from hall_server.config import Settings
from hall_server.const import STAFF_CALLS_PER_DEVICE
from tests.hall_server.conftest import API, Hall
from tests.hall_server.hs_city import CITY, COUNTY


def _kiosk(hall: Hall, label: str, hall_id: str = CITY) -> dict[str, str]:
    with hall.ctx.db.write() as s:
        token = create_token(s, "kiosk", hall_id=hall_id, label=label)[1]
    return {"Authorization": f"Bearer {token}"}


def _call(hall: Hall, headers: dict[str, str], call_id: str | None = None, hall_id: str = CITY) -> Any:
    body = {"call_id": call_id or uuid.uuid4().hex}
    return hall.client.post(f"{API}/halls/{hall_id}/staff-calls", json=body, headers=headers)


def _ack(hall: Hall, call_id: str, who: str = "m-city") -> Any:
    return hall.client.post(f"{API}/staff-calls/{call_id}/acknowledge", headers=hall.auth(who))


def _alerts(hall: Hall, who: str = "m-city") -> list[dict[str, Any]]:
    r = hall.client.get(f"{API}/halls/{CITY}/alerts", headers=hall.auth(who))
    assert r.status_code == 200, r.text
    return [a for a in r.json() if a["code"] == "staff.call"]


def _events(hall: Hall, prefix: str) -> list[dict[str, Any]]:
    r = hall.client.get(
        f"{API}/halls/{CITY}/events", params={"since": 0, "limit": 1000}, headers=hall.auth("admin")
    )
    return [e for e in r.json() if e["type"].startswith(prefix)]


def test_a_call_shows_on_the_dashboard_naming_the_kiosk_until_a_manager_handles_it(hall: Hall) -> None:
    east = _kiosk(hall, "东门取号机")
    call_id = uuid.uuid4().hex
    first = _call(hall, east, call_id)
    assert first.status_code == 201, first.text
    call = first.json()
    assert call["device_name"] == "东门取号机" and call["acknowledged_at"] is None

    # The same call again (an answer lost, a call queued offline), or a second tap with a new id
    # while it is open: the one call, no second alarm.
    assert _call(hall, east, call_id).json()["id"] == call_id
    again = _call(hall, east)
    assert again.status_code == 200 and again.json()["id"] == call_id
    (alert,) = _alerts(hall)
    assert "东门取号机" in alert["message"] and alert["detail"]["call_id"] == call_id
    (requested,) = _events(hall, "staff_call.requested")
    assert requested["payload"]["call"]["device_name"] == "东门取号机"

    # Another kiosk's call is its own alert; a clerk or a kiosk cannot mark it handled.
    west = _call(hall, _kiosk(hall, "西门取号机")).json()
    assert [a["detail"]["device_name"] for a in _alerts(hall)] == ["东门取号机", "西门取号机"]
    assert _ack(hall, call_id, f"clerk:{CITY}:1").status_code == 403
    assert _ack(hall, call_id, "m-county").status_code == 403  # a manager of a hall below, not this one

    done = _ack(hall, call_id)
    assert done.status_code == 200, done.text
    assert done.json()["acknowledged_by"] == "m-city" and done.json()["acknowledged_at"]
    assert [a["detail"]["call_id"] for a in _alerts(hall)] == [west["id"]]
    (acked,) = _events(hall, "staff_call.acknowledged")
    # The event is the audit record: who handled which kiosk's call.
    assert acked["actor"] == {"kind": "manager", "id": "m-city"}
    assert acked["payload"]["call"]["id"] == call_id
    assert _ack(hall, call_id).json()["acknowledged_by"] == "m-city"  # twice: unchanged, no event
    assert len(_events(hall, "staff_call.acknowledged")) == 1

    # After 已处理 the kiosk may call again: a new call.
    assert _call(hall, east).status_code == 201


def test_calls_are_limited_per_device_and_ids_are_not_shared(hall: Hall) -> None:
    kiosk = _kiosk(hall, "大厅一号机")
    for _ in range(STAFF_CALLS_PER_DEVICE):
        r = _call(hall, kiosk)
        assert r.status_code == 201, r.text
        assert _ack(hall, r.json()["id"]).status_code == 200
    refused = _call(hall, kiosk)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "staff_call.too_many"
    assert "工作人员" in refused.json()["error"]["message"]
    # Another kiosk is not held back by this one.
    other = _kiosk(hall, "大厅二号机")
    mine = _call(hall, other)
    assert mine.status_code == 201
    # Nor can a kiosk take over another's call id, or call for a hall not its own.
    taken = _call(hall, kiosk, mine.json()["id"])
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "staff_call.other_device"
    assert _call(hall, hall.auth(f"kiosk:{COUNTY}")).status_code == 403
    assert _call(hall, kiosk, "not-a-uuid").status_code == 422
    assert (
        hall.client.post(f"{API}/staff-calls/{'x' * 40}/acknowledge", headers=hall.auth("admin")).status_code
        == 422
    )
    assert _ack(hall, uuid.uuid4().hex, "admin").status_code == 404
    # A manager's token calls no staff (the kiosk does).
    assert _call(hall, hall.auth("m-city")).status_code == 403
    assert [a["detail"]["device_name"] for a in _alerts(hall)] == ["大厅二号机"]


def test_the_per_kiosk_limit_is_a_setting(
    hall: Hall, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """HALL_STAFF_CALLS_PER_DEVICE / HALL_STAFF_CALL_RATE_WINDOW_S: a hall may allow fewer calls."""
    monkeypatch.setenv("HALL_STAFF_CALLS_PER_DEVICE", "2")
    monkeypatch.setenv("HALL_STAFF_CALL_RATE_WINDOW_S", "120")
    read = Settings(data_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert (read.staff_calls_per_device, read.staff_call_rate_window_s) == (2, 120)
    hall.ctx.settings.staff_calls_per_device = 2
    hall.ctx.settings.staff_call_rate_window_s = 120
    kiosk = _kiosk(hall, "大厅三号机")
    for _ in range(2):
        r = _call(hall, kiosk)
        assert r.status_code == 201, r.text
        assert _ack(hall, r.json()["id"]).status_code == 200
    refused = _call(hall, kiosk)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "staff_call.too_many"
    assert refused.json()["error"]["detail"]["retry_after"] == 120
