"""Ratings (好差评) and device heartbeats through the real app."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from hall_server.services.devices import _claim
from tests.hall_server.conftest import API, Hall, error_code
from tests.hall_server.hs_city import CITY, COUNTY

BEAT_URL = f"{API}/devices/heartbeat"


def _rate(hall: Hall, who: str | None = f"rating:{CITY}:1", **body: Any) -> Any:
    headers = hall.auth(who) if who else {}
    return hall.client.post(f"{API}/ratings", json=body, headers=headers)


def test_rating_device_rates_a_finished_ticket(hall: Hall) -> None:
    t = hall.served()
    r = _rate(hall, ticket_id=t["id"], level=5, channel="device", prompted=True, client_id="r1-0001")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["level"] == 5 and body["window_id"] == hall.wid(1) and body["prompted"] is True
    ev = hall.events(hall.last_seq() - 1)[-1]
    assert ev["type"] == "rating.recorded" and ev["payload"]["rating"]["level"] == 5
    # The same client_id again (a retry) returns the same rating without a second event.
    seq = hall.last_seq()
    again = _rate(hall, ticket_id=t["id"], level=5, channel="device", prompted=True, client_id="r1-0001")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert hall.last_seq() == seq
    # A second, different rating of the same ticket is refused (一次一评).
    dup = _rate(hall, ticket_id=t["id"], level=3, client_id="r1-0002")
    assert dup.status_code == 409 and error_code(dup) == "rating.duplicate"


def test_bad_rating_needs_reasons(hall: Hall) -> None:
    t = hall.served()
    r = _rate(hall, ticket_id=t["id"], level=1)
    assert r.status_code == 422 and error_code(r) == "rating.reason_required"
    assert "差评" in r.json()["error"]["message"]
    r = _rate(hall, ticket_id=t["id"], level=2, reasons=["no-such-reason"])
    assert r.status_code == 422 and error_code(r) == "rating.unknown_reason"
    r = _rate(hall, ticket_id=t["id"], level=7)
    assert r.status_code == 422 and error_code(r) == "request.invalid"
    r = _rate(hall, ticket_id=t["id"], level=2, reasons=["服务态度"], text="等了很久没人理")
    assert r.status_code == 201
    assert r.json()["reasons"] == ["attitude"] and r.json()["bad"] is True


def test_rating_rules(hall: Hall) -> None:
    waiting = hall.ok_issue("S-A1")
    r = _rate(hall, ticket_id=waiting["id"], level=5)
    assert r.status_code == 409 and error_code(r) == "rating.not_served"
    t = hall.served(window=2)
    r = _rate(hall, ticket_id=t["id"], level=5)  # the device of window 1
    assert r.status_code == 403 and error_code(r) == "rating.wrong_window"
    r = _rate(hall, who=f"clerk:{CITY}:2", ticket_id=t["id"], level=5)  # clerks do not rate themselves
    assert r.status_code == 403 and error_code(r) == "auth.forbidden"
    r = _rate(hall, ticket_id=424242, level=5)
    assert r.status_code == 404 and error_code(r) == "rating.unknown_ticket"
    # The visitor's phone proves the ticket with its tracking token (QR code on the ticket).
    r = _rate(hall, who=None, ticket_id=t["id"], level=4, channel="qr")
    assert r.status_code == 401 and error_code(r) == "auth.required"
    r = _rate(hall, who=None, ticket_id=t["id"], level=4, channel="qr", track_token="wrong")
    assert r.status_code == 401 and error_code(r) == "auth.invalid"
    r = _rate(hall, who=None, ticket_id=t["id"], level=4, channel="qr", track_token=t["track_token"])
    assert r.status_code == 201 and r.json()["channel"] == "qr"
    assert hall.events(hall.last_seq() - 1)[-1]["actor"] == {"kind": "visitor", "id": None}


def test_heartbeat_records_and_emits_on_change(hall: Hall) -> None:
    url = f"{API}/devices/heartbeat"
    kiosk = hall.auth(f"kiosk:{CITY}")
    seq = hall.last_seq()
    beat = {"device_id": "kiosk-01", "kind": "kiosk", "status": "ok", "faults": []}
    assert hall.client.post(url, json=beat, headers=kiosk).status_code == 204
    assert hall.client.post(url, json=beat, headers=kiosk).status_code == 204  # unchanged: no event
    evs = hall.events(seq)
    assert [e["type"] for e in evs] == ["device.heartbeat"]
    fault = {**beat, "status": "degraded", "faults": [{"code": "printer.paper_out", "message": "打印机缺纸"}]}
    assert hall.client.post(url, json=fault, headers=kiosk).status_code == 204
    assert hall.client.post(url, json=fault, headers=kiosk).status_code == 204  # same fault: reported once
    evs = hall.events(seq)
    assert [e["type"] for e in evs] == ["device.heartbeat", "device.heartbeat", "device.fault"]
    assert evs[-1]["payload"]["fault"] == {"code": "printer.paper_out", "message": "打印机缺纸"}
    assert evs[-1]["actor"]["kind"] == "device"
    listed = hall.client.get(f"{API}/halls/{CITY}/devices", headers=hall.auth("m-city")).json()
    assert listed[0]["device_id"] == "kiosk-01" and listed[0]["status"] == "degraded"
    assert listed[0]["faults"][0]["code"] == "printer.paper_out"
    r = hall.client.post(url, json={"device_id": "x"}, headers=kiosk)
    assert r.status_code == 422 and r.json()["error"]["code"] == "request.invalid"
    r = hall.client.post(url, json=beat, headers=hall.auth("admin"))
    assert r.status_code == 422 and error_code(r) == "device.unknown_hall"


def _devices(hall: Hall, hall_id: str, who: str) -> list[dict[str, Any]]:
    r = hall.client.get(f"{API}/halls/{hall_id}/devices", headers=hall.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


def test_a_device_id_stays_with_the_hall_that_registered_it(hall: Hall) -> None:
    beat = {"device_id": "kiosk-07", "kind": "kiosk", "status": "ok", "faults": []}
    assert hall.client.post(BEAT_URL, json=beat, headers=hall.auth(f"kiosk:{CITY}")).status_code == 204
    before = _devices(hall, CITY, "m-city")
    city_seq, county_seq = hall.last_seq(CITY), hall.last_seq(COUNTY)
    takeover = {**beat, "status": "degraded", "faults": [{"code": "printer.paper_out", "message": "缺纸"}]}
    r = hall.client.post(BEAT_URL, json=takeover, headers=hall.auth(f"kiosk:{COUNTY}"))
    assert r.status_code == 409 and error_code(r) == "device.other_hall"
    assert "其他大厅" in r.json()["error"]["message"]
    # Nothing changed: still the city's, as it was, and neither hall heard an event.
    assert _devices(hall, CITY, "m-city") == before
    assert _devices(hall, COUNTY, "m-county") == []
    assert hall.events(city_seq, CITY) == [] and hall.events(county_seq, COUNTY) == []
    # The owner's own heartbeats still count.
    assert hall.client.post(BEAT_URL, json=takeover, headers=hall.auth(f"kiosk:{CITY}")).status_code == 204
    assert _devices(hall, CITY, "m-city")[0]["status"] == "degraded"


def test_a_cleared_fault_is_an_event(hall: Hall) -> None:
    kiosk = hall.auth(f"kiosk:{CITY}")
    two = [
        {"code": "printer.paper_low", "message": "打印纸将尽"},
        {"code": "reader.disconnected", "message": "读卡器"},
    ]
    beat = {"device_id": "kiosk-08", "kind": "kiosk", "status": "fault", "faults": two}
    assert hall.client.post(BEAT_URL, json=beat, headers=kiosk).status_code == 204
    seq = hall.last_seq()
    # Same status, one fault fewer: the dashboard must hear of it to close that alert.
    assert hall.client.post(BEAT_URL, json={**beat, "faults": two[:1]}, headers=kiosk).status_code == 204
    evs = hall.events(seq)
    assert [e["type"] for e in evs] == ["device.heartbeat"]
    assert evs[0]["payload"]["cleared"] == ["reader.disconnected"]


def test_first_heartbeats_of_one_new_id_at_once_never_fail(hall: Hall) -> None:
    kiosk = hall.auth(f"kiosk:{CITY}")
    ids = [f"race-{n}" for n in range(4)]
    start = threading.Barrier(12)

    def beat(n: int) -> int:
        body = {"device_id": ids[n % len(ids)], "kind": "kiosk", "status": "ok", "faults": []}
        start.wait(timeout=30)
        return hall.client.post(BEAT_URL, json=body, headers=kiosk).status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(beat, range(12)))
    assert codes == [204] * 12
    assert [d["device_id"] for d in _devices(hall, CITY, "m-city")] == ids
    first = [e for e in hall.events(0) if e["type"] == "device.heartbeat"]
    assert sorted(e["payload"]["device"]["device_id"] for e in first) == ids  # each registered once


def test_a_heartbeat_waits_for_a_concurrent_first_registration_instead_of_failing(hall: Hall) -> None:
    values = {"kind": "kiosk", "status": "ok", "faults": [], "last_seen": datetime.now(UTC)}
    body = {"device_id": "held-1", "kind": "kiosk", "status": "ok", "faults": []}
    answers: list[Any] = []
    with hall.ctx.db.write() as s:
        _row, created = _claim(s, "held-1", CITY, values)  # inserted, not yet committed
        assert created
        other = threading.Thread(
            target=lambda: answers.append(
                hall.client.post(BEAT_URL, json=body, headers=hall.auth(f"kiosk:{COUNTY}"))
            )
        )
        other.start()
        time.sleep(0.5)
        assert other.is_alive()  # blocked on the uncommitted row, not failed on a duplicate key
    other.join(timeout=30)
    assert answers and answers[0].status_code == 409 and error_code(answers[0]) == "device.other_hall"
