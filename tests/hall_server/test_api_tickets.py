"""Issuing tickets through the real app: numbering, identity, green channel, idempotency, errors."""

from __future__ import annotations

from sqlalchemy import func, select, text

from hall_server.db.models import Event, Ticket
from tests.hall_server.conftest import API, Hall, error_code
from tests.hall_server.hs_city import CITY, COUNTY, ID_BAD_CHECKSUM, ID_ELDERLY, ID_YOUNG, ID_YOUNG_2


def _counts(hall: Hall) -> tuple[int, int]:
    with hall.ctx.db.read() as s:
        tickets = s.execute(select(func.count()).select_from(Ticket)).scalar_one()
        events = s.execute(select(func.count()).select_from(Event)).scalar_one()
    return tickets, events


def test_numbers_count_per_prefix_and_hall(hall: Hall) -> None:
    a1 = hall.ok_issue("S-A1")
    a2 = hall.ok_issue("S-A2")  # same group A
    b1 = hall.ok_issue("S-B1")
    c1 = hall.ok_issue("S-A1", who=f"kiosk:{COUNTY}", hall=COUNTY)
    assert [a1["number"], a2["number"], b1["number"]] == ["A001", "A002", "B001"]
    assert c1["number"] == "A001"  # every hall counts on its own
    assert a1["service_name"] == "社会保障卡申领"
    assert a1["status"] == "waiting" and a1["channel"] == "kiosk"
    assert a1["track_url"] == f"http://hall.test/t/{a1['track_token']}"
    assert a2["people_ahead"] == 1 and a1["people_ahead"] == 0
    assert a2["estimated_wait_minutes"] >= 1


def test_counter_is_keyed_by_business_day(hall: Hall) -> None:
    first = hall.ok_issue("S-A1")
    day = first["business_day"]
    # Yesterday's counter of the same prefix stood at 57: today's numbering must not see it.
    with hall.ctx.db.write() as s:
        s.execute(
            text(
                "INSERT INTO number_counters (hall_id, prefix, business_day, value) VALUES (:h, 'A', :d, 57)"
            ),
            {"h": CITY, "d": _yesterday(day)},
        )
    assert hall.ok_issue("S-A1")["number"] == "A002"


def _yesterday(day: str):
    from datetime import date, timedelta

    return date.fromisoformat(day) - timedelta(days=1)


def test_number_uniqueness_is_enforced_by_the_database(hall: Hall) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError

    t = hall.ok_issue("S-A1")
    with pytest.raises(IntegrityError), hall.ctx.db.write() as s:
        s.execute(
            text(
                "INSERT INTO tickets (hall_id, business_day, prefix, seq, number, group_prefix, service_code, "
                "status, priority, channel, issued_at, recall_count, transfer_count, track_token) "
                "SELECT hall_id, business_day, prefix, seq, number, group_prefix, service_code, status, priority, "
                "channel, issued_at, 0, 0, 'dup-token' FROM tickets WHERE id = :id"
            ),
            {"id": t["id"]},
        )


def test_unknown_service_is_refused_and_nothing_written(hall: Hall) -> None:
    before = _counts(hall)
    r = hall.issue("NOPE-404")
    assert r.status_code == 404
    body = r.json()["error"]
    assert body["code"] == "service.unknown"
    assert "事项" in body["message"] and body["message_en"]
    # A service the city knows but this hall does not handle is unknown here too.
    r = hall.issue("S-X")
    assert r.status_code == 404 and error_code(r) == "service.unknown"
    assert _counts(hall) == before


def test_invalid_id_number_is_refused_and_nothing_written(hall: Hall) -> None:
    before = _counts(hall)
    r = hall.issue("S-A1", identity={"id_number": ID_BAD_CHECKSUM, "name": "张三"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "id.invalid"
    assert err["detail"]["check"] == "checksum"
    assert ID_BAD_CHECKSUM not in r.text  # not even echoed back in full
    assert _counts(hall) == before


def test_validation_errors_have_a_chinese_message(hall: Hall) -> None:
    r = hall.client.post(
        f"{API}/halls/{CITY}/tickets",
        json={"service_code": "S-A1", "channel": "fax"},
        headers=hall.auth(f"kiosk:{CITY}"),
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "request.invalid"
    assert err["message"] == "请求内容不正确"
    assert any("channel" in p["loc"] for p in err["detail"]["errors"])
    r = hall.client.post(
        f"{API}/halls/{CITY}/tickets", content=b"{not json", headers=hall.auth(f"kiosk:{CITY}")
    )
    assert r.status_code == 422 and error_code(r) == "request.invalid"


def test_elderly_identity_gets_the_green_channel(hall: Hall) -> None:
    old = hall.ok_issue("S-A1", identity={"id_number": ID_ELDERLY, "name": "欧阳娜娜"})
    young = hall.ok_issue("S-A1", identity={"id_number": ID_YOUNG, "name": "李四"})
    assert old["priority"] is True and old["green_reason"] == "elderly"
    assert young["priority"] is False and young["green_reason"] is None
    assert old["holder"] == {
        "id_masked": "1101**********1239",
        "name_masked": "欧阳**",
        "card_type": None,
        "id_number": None,
        "name": None,
    }
    # Claiming the elderly channel without a qualifying card is refused.
    r = hall.issue("S-A1", identity={"id_number": ID_YOUNG_2}, green_reason="elderly")
    assert r.status_code == 422 and error_code(r) == "issue.green_not_eligible"
    # Other green reasons are declared (the clerk or kiosk attendant checks them).
    dis = hall.ok_issue("S-A1", green_reason="disabled")
    assert dis["priority"] is True and dis["green_reason"] == "disabled"


def test_per_person_daily_limit(hall: Hall) -> None:
    for _ in range(2):
        hall.ok_issue("S-A1", identity={"id_number": ID_YOUNG})
    before = _counts(hall)
    r = hall.issue("S-B1", identity={"id_number": ID_YOUNG})
    assert r.status_code == 409
    assert error_code(r) == "issue.person_limit"
    assert "2" in r.json()["error"]["message"]
    assert _counts(hall) == before
    hall.ok_issue("S-A1", identity={"id_number": ID_YOUNG_2})  # someone else still may


def test_idempotency_key_returns_the_same_ticket(hall: Hall) -> None:
    first = hall.issue("S-A1", idempotency_key="kiosk-7-req-1")
    assert first.status_code == 201
    tickets_before, events_before = _counts(hall)
    again = hall.issue("S-A1", idempotency_key="kiosk-7-req-1")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["number"] == "A001"
    assert _counts(hall) == (tickets_before, events_before)
    other = hall.issue("S-A1", idempotency_key="kiosk-7-req-2")
    assert other.status_code == 201 and other.json()["number"] == "A002"
    clash = hall.issue("S-B1", idempotency_key="kiosk-7-req-1")
    assert clash.status_code == 409 and error_code(clash) == "idempotency.conflict"


def test_issue_roles(hall: Hall) -> None:
    r = hall.issue("S-A1", who=f"display:{CITY}")
    assert r.status_code == 403 and error_code(r) == "auth.forbidden"
    r = hall.issue("S-A1", who=f"kiosk:{COUNTY}")  # a kiosk of another hall
    assert r.status_code == 403 and error_code(r) == "auth.wrong_hall"
    r = hall.client.post(f"{API}/halls/{CITY}/tickets", json={"service_code": "S-A1"})
    assert r.status_code == 401 and error_code(r) == "auth.required"
    r = hall.client.post(
        f"{API}/halls/{CITY}/tickets", json={"service_code": "S-A1"}, headers={"Authorization": "Bearer nope"}
    )
    assert r.status_code == 401 and error_code(r) == "auth.invalid"
    t = hall.ok_issue("S-A1", who=f"clerk:{CITY}:1", channel="window")
    assert t["channel"] == "window"
    r = hall.issue("S-A1", hall="no-such-hall")
    assert r.status_code == 404 and error_code(r) == "hall.unknown"


def test_cancel_and_track(hall: Hall) -> None:
    t = hall.ok_issue("S-A1")
    tracked = hall.client.get(f"{API}/track/{t['track_token']}")
    assert tracked.status_code == 200
    assert tracked.json()["number"] == "A001" and tracked.json()["hall_name"] == "测试市政务服务中心"
    r = hall.client.post(f"{API}/tickets/{t['id']}/cancel", headers=hall.auth(f"kiosk:{CITY}"))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    again = hall.client.post(f"{API}/tickets/{t['id']}/cancel", headers=hall.auth(f"kiosk:{CITY}"))
    assert again.status_code == 409 and error_code(again) == "ticket.illegal_transition"
    assert hall.client.get(f"{API}/track/not-a-token").status_code == 404
    types = [e["type"] for e in hall.events()][-2:]
    assert types == ["ticket.issued", "ticket.cancelled"]


def test_list_tickets_today(hall: Hall) -> None:
    hall.ok_issue("S-A1")
    hall.ok_issue("S-B1")
    hall.ok_issue("S-A2")
    r = hall.client.get(
        f"{API}/halls/{CITY}/tickets", params={"group": "A"}, headers=hall.auth(f"display:{CITY}")
    )
    assert r.status_code == 200
    assert [(t["number"], t["people_ahead"]) for t in r.json()] == [("A001", 0), ("A002", 1)]
    r = hall.client.get(
        f"{API}/halls/{CITY}/tickets", params={"status": "called"}, headers=hall.auth("admin")
    )
    assert r.json() == []


def test_appointment_priority_cannot_be_claimed_by_issuing(hall: Hall) -> None:
    # Only check-in, which verifies the booking, may give an appointment ticket its priority.
    before = _counts(hall)
    r = hall.issue("S-A1", appointment_id="1")
    assert r.status_code == 422 and error_code(r) == "request.invalid"
    assert _counts(hall) == before


def test_the_tracking_token_reaches_only_the_issuer_and_the_phone_page(hall: Hall) -> None:
    # The token lets whoever holds it follow and rate the ticket (the QR on the paper): it must
    # not travel to the hall's screens with the events, nor sit in lists a kiosk can read.
    mine = hall.ok_issue("S-A1")
    assert mine["track_token"] and mine["track_url"].endswith(mine["track_token"])
    hall.ok(1, "call-next")
    for ev in hall.events(0):
        ticket = ev["payload"].get("ticket")
        if ticket:
            assert ticket["track_token"] is None and ticket["track_url"] is None, ev["type"]
    seen = hall.client.get(f"{API}/halls/{CITY}/tickets", headers=hall.auth(f"kiosk:{CITY}")).json()
    assert [t["track_token"] for t in seen] == [None]
    assert hall.ticket(mine["id"])["track_token"] is None
    # The phone page, opened with the token, still knows its own address.
    tracked = hall.client.get(f"{API}/track/{mine['track_token']}").json()
    assert tracked["number"] == mine["number"] and tracked["track_url"] == mine["track_url"]
    with hall.ctx.db.read() as s:
        stored = s.execute(select(Event.payload).where(Event.type == "ticket.issued")).scalars().all()
    assert stored and all(mine["track_token"] not in p for p in stored)
