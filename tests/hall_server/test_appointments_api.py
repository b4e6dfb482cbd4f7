"""Booking rules, cancelling, no-show blocking, kiosk check-in tolerance and notices, through the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hall_server.db.models import Appointment, Event, NotifyCursor, OutboxMessage
from hall_server.event_archive import archive_closed_days, archived_upto
from hall_server.services import notify
from tests.hall_server.clock_app import API, ID_A, ID_B, ID_C, PHONE, Env, postgres_env, sqlite_env


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The in-process hall server on SQLite with a movable clock."""
    yield from sqlite_env(tmp_path, monkeypatch)


TUE = date(2026, 3, 10)


def book(env: Env, day: date = TUE, start: str = "09:00", id_number: str = ID_A, **extra: object):
    body = {
        "service_code": "S-001",
        "day": day.isoformat(),
        "start": start,
        "id_number": id_number,
        "phone": PHONE,
        "name": "张三",
        **extra,
    }
    return env.client.post(f"{API}/halls/x-city/appointments", json=body)


def code_of(r) -> str:
    return r.json()["error"]["code"]


def test_availability_skips_weekend_and_holidays(env: Env) -> None:
    r = env.client.get(f"{API}/halls/x-city/appointment-slots", params={"service_code": "S-001"})
    assert r.status_code == 200
    days = [d["day"] for d in r.json()["days"]]
    # From Monday 03-09: Tue..Fri and the next Monday (5 working days, weekend skipped).
    assert days == ["2026-03-10", "2026-03-11", "2026-03-12", "2026-03-13", "2026-03-16"]
    first = r.json()["days"][0]["slots"]
    # 09:00-12:00 and 13:30-17:30 in 30-minute slots.
    assert [s["start"] for s in first][:2] == ["09:00", "09:30"] and len(first) == 14
    assert first[0]["available"] == 4
    # Before National Day: Wed 2026-09-30 offers only days after the holiday (10-08 ...).
    env.clock.set_local(date(2026, 9, 30), "10:00")
    r = env.client.get(f"{API}/halls/x-city/appointment-slots", params={"service_code": "S-001"})
    assert next(d["day"] for d in r.json()["days"]) == "2026-10-08"
    r = env.client.get(f"{API}/halls/x-city/appointment-slots", params={"service_code": "NOPE"})
    assert r.status_code == 404 and code_of(r) == "booking.service_not_bookable"


def test_book_masks_person_and_queues_confirmation(env: Env) -> None:
    r = book(env)
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["status"] == "booked" and a["day"] == "2026-03-10" and a["service_name"] == "社会保障卡申领"
    assert a["holder"] == {
        "id_masked": "1101**********4514",
        "name_masked": "张*",
        "phone_masked": "138****8000",
    }
    assert ID_A not in r.text and PHONE not in r.text
    with env.ctx.db.read() as s:
        row = s.scalar(select(Appointment))
        assert ID_A.encode() not in row.id_enc and row.id_masked == "1101**********4514"
        keys = sorted(m.dedupe_key for m in s.scalars(select(OutboxMessage)))
        assert keys == [f"booked:{a['id']}", f"remind:{a['id']}"]
        assert s.scalar(select(Event.type).where(Event.type == "appointment.booked")) is not None
    # The place is taken.
    slots = env.client.get(f"{API}/halls/x-city/appointment-slots", params={"service_code": "S-001"}).json()
    assert slots["days"][0]["slots"][0]["available"] == 3


def test_booking_rules_refuse_with_typed_errors_and_change_nothing(env: Env) -> None:
    assert book(env).status_code == 201
    r = book(env, start="10:00")  # same person, same day
    assert r.status_code == 409 and code_of(r) == "booking.person_day_limit"
    assert r.json()["error"]["message"].startswith("同一人")
    assert book(env, day=date(2026, 3, 11)).status_code == 201  # another day is fine
    r = book(env, day=date(2026, 3, 9), id_number=ID_B)  # today: too soon
    assert r.status_code == 409 and code_of(r) == "booking.day_not_bookable"
    r = book(env, day=date(2026, 3, 17), id_number=ID_B)  # 6th working day ahead
    assert code_of(r) == "booking.day_not_bookable"
    r = book(env, day=date(2026, 3, 14), id_number=ID_B)  # Saturday
    assert code_of(r) == "booking.day_not_bookable"
    r = book(env, start="12:00", id_number=ID_B)  # lunch break: no such slot
    assert r.status_code == 404 and code_of(r) == "booking.slot_unknown"
    r = book(env, id_number="110101199003074515")  # bad check digit
    assert r.status_code == 422 and code_of(r) == "id.invalid"
    r = book(env, id_number=ID_B, phone="12345")
    assert r.status_code == 422 and code_of(r) == "booking.phone_invalid"
    with env.ctx.db.read() as s:
        assert len(list(s.scalars(select(Appointment)))) == 2


def test_slot_capacity_is_enforced(env: Env) -> None:
    r = env.client.put(
        f"{API}/halls/x-city/ext-settings", json={"booking": {"capacity": 1}}, headers=env.h("m-city")
    )
    assert r.status_code == 200 and r.json()["booking"]["capacity"] == 1
    assert book(env, start="14:00").status_code == 201
    r = book(env, start="14:00", id_number=ID_B)
    assert r.status_code == 409 and code_of(r) == "booking.slot_full"
    # A manager of another subtree may not change this hall's rules; bad keys are refused.
    assert (
        env.client.put(
            f"{API}/halls/x-city/ext-settings", json={"booking": {"capacity": 9}}, headers=env.h("m-y")
        ).status_code
        == 403
    )
    r = env.client.put(f"{API}/halls/x-city/ext-settings", json={"bogus": 1}, headers=env.h("m-city"))
    assert r.status_code == 422


def test_cancel_two_hours_ahead_frees_the_place(env: Env) -> None:
    a = book(env).json()
    wrong = env.client.post(f"{API}/appointments/{a['code']}/cancel-code", json={"id_number": ID_B})
    assert wrong.status_code == 404 and code_of(wrong) == "booking.not_found"
    env.clock.set_local(TUE, "07:01")  # 1 h 59 min before 09:00
    late = env.cancel(a["code"], ID_A)
    assert late.status_code == 409 and code_of(late) == "booking.cancel_too_late"
    env.clock.set_local(TUE, "07:00")
    ok = env.cancel(a["code"], ID_A)
    assert ok.status_code == 200 and ok.json()["status"] == "cancelled"
    again = env.client.post(f"{API}/appointments/{a['code']}/cancel-code", json={"id_number": ID_A})
    assert again.status_code == 409 and code_of(again) == "booking.not_active"
    with env.ctx.db.read() as s:  # the unsent reminder is dropped; the confirmation and the codes kept
        keys = [m.dedupe_key for m in s.scalars(select(OutboxMessage))]
    assert keys[0] == f"booked:{a['id']}" and all(k.startswith("cancel-code:") for k in keys[1:])
    env.clock.set_local(date(2026, 3, 9), "10:00")
    slots = env.client.get(f"{API}/halls/x-city/appointment-slots", params={"service_code": "S-001"}).json()
    assert slots["days"][0]["slots"][0]["available"] == 4
    # Same-day limit no longer counts the cancelled booking.
    assert book(env, start="10:00").status_code == 201


def test_three_no_shows_in_90_days_block_booking_for_30_days(env: Env) -> None:
    days = [date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12)]
    for d in days:
        assert book(env, day=d).status_code == 201
    env.clock.set_local(date(2026, 3, 13), "10:00")  # all three slots lapsed
    r = env.client.post(f"{API}/appointments/sweep", headers=env.h("admin"))
    assert r.json() == {"no_shows": 3}
    r = book(env, day=date(2026, 3, 16))
    assert r.status_code == 409 and code_of(r) == "booking.blocked"
    assert r.json()["error"]["detail"]["until"] == "2026-04-11"
    assert "2026-04-11" in r.json()["error"]["message"]
    assert book(env, day=date(2026, 3, 16), id_number=ID_B).status_code == 201  # others unaffected
    env.clock.set_local(date(2026, 4, 10), "10:00")  # Friday: still blocked (until 04-11)
    assert code_of(book(env, day=date(2026, 4, 13))) == "booking.blocked"
    env.clock.set_local(date(2026, 4, 13), "10:00")  # Monday: the block is over
    assert book(env, day=date(2026, 4, 14)).status_code == 201


def test_checkin_tolerance_gives_priority_ticket_once(env: Env) -> None:
    a = book(env, start="09:00").json()
    kiosk = env.h("kiosk:x-city")
    env.clock.set_local(TUE, "08:29")
    r = env.client.post(f"{API}/halls/x-city/checkin", json={"id_number": ID_A}, headers=kiosk)
    assert r.status_code == 409 and code_of(r) == "checkin.too_early"
    assert r.json()["error"]["detail"]["normal_ticket_allowed"] is True
    assert "09:00" in r.json()["error"]["message"]
    env.clock.set_local(TUE, "08:31")
    r = env.client.post(f"{API}/halls/x-city/checkin", json={"id_number": ID_A}, headers=kiosk)
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["priority"] is True or t["appointment_id"] == str(a["id"])
    assert t["appointment_id"] == str(a["id"]) and t["holder"]["id_masked"] == "1101**********4514"
    assert t["checkin"]["status"] == "ok"
    # A double tap returns the same ticket, not a second one.
    again = env.client.post(f"{API}/halls/x-city/checkin", json={"id_number": ID_A}, headers=kiosk)
    assert again.status_code == 201 and again.json()["id"] == t["id"]
    with env.ctx.db.read() as s:
        row = s.get(Appointment, a["id"])
        assert row.status == "checked_in" and row.ticket_id == t["id"]
    # Check-in needs a kiosk of that hall.
    other = env.client.post(
        f"{API}/halls/x-city/checkin", json={"id_number": ID_A}, headers=env.h("kiosk:y-city")
    )
    assert other.status_code == 403


def scan(env: Env, code: str, kiosk: str = "kiosk:x-city", **extra: object):
    """A kiosk scans the booking's QR (its code) for check-in."""
    return env.client.post(
        f"{API}/halls/x-city/checkin/by-code", json={"code": code, **extra}, headers=env.h(kiosk)
    )


def test_checkin_by_the_booking_qr_issues_the_id_card_ticket(env: Env) -> None:
    a = book(env, start="09:00").json()
    other = book(env, day=date(2026, 3, 11), start="10:00", id_number=ID_B).json()
    env.clock.set_local(TUE, "08:29")
    r = scan(env, a["code"])
    assert (
        r.status_code == 409 and code_of(r) == "checkin.too_early" and "09:00" in r.json()["error"]["message"]
    )
    env.clock.set_local(TUE, "08:40")
    r = scan(env, a["code"].lower())  # read or typed in lower case, the same code
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["appointment_id"] == str(a["id"])
    assert t["checkin"]["status"] == "ok" and t["checkin"]["appointment_code"] == a["code"]
    assert t["holder"]["id_masked"] == "1101**********4514"  # the booking's holder, as with the card
    # Scanned twice, or then the ID card: always the same ticket.
    assert scan(env, a["code"]).json()["id"] == t["id"]
    card = env.client.post(
        f"{API}/halls/x-city/checkin", json={"id_number": ID_A}, headers=env.h("kiosk:x-city")
    )
    assert card.status_code == 201 and card.json()["id"] == t["id"]
    with env.ctx.db.read() as s:
        assert s.get(Appointment, a["id"]).status == "checked_in"
        checked_in = s.scalars(select(Event).where(Event.type == "appointment.checked_in")).all()
        assert len(checked_in) == 1
    # Another day's booking, an unknown code, another city's kiosk: each its own clear refusal.
    r = scan(env, other["code"])
    assert r.status_code == 409 and code_of(r) == "checkin.wrong_day"
    assert "2026-03-11" in r.json()["error"]["message"]
    r = scan(env, "ZZZZ9999")
    assert r.status_code == 404 and code_of(r) == "checkin.code_unknown"
    r = env.client.post(
        f"{API}/halls/y-city/checkin/by-code", json={"code": other["code"]}, headers=env.h("kiosk:y-city")
    )
    assert r.status_code == 409 and code_of(r) == "checkin.other_hall"
    assert "测试市政务服务中心" in r.json()["error"]["message"]
    assert scan(env, other["code"], kiosk="kiosk:y-city").status_code == 403  # not its hall at all
    r = env.client.post(
        f"{API}/halls/x-city/checkin/by-code", json={"code": "<script>"}, headers=env.h("kiosk:x-city")
    )
    assert r.status_code == 422


def test_checkin_by_qr_of_a_cancelled_or_lapsed_booking_is_refused(env: Env) -> None:
    a = book(env, start="09:00").json()
    b = book(env, start="14:00", id_number=ID_B).json()
    env.clock.set_local(TUE, "07:00")
    assert env.cancel(a["code"], ID_A).status_code == 200
    env.clock.set_local(TUE, "08:45")
    r = scan(env, a["code"])
    assert r.status_code == 409 and code_of(r) == "checkin.cancelled"
    env.clock.set_local(TUE, "14:16")
    r = scan(env, b["code"])
    assert r.status_code == 409 and code_of(r) == "checkin.too_late"
    assert r.json()["error"]["detail"]["normal_ticket_allowed"] is True
    r = scan(env, b["code"], fallback_normal=True)
    assert r.status_code == 201 and r.json()["priority"] is False and r.json()["appointment_id"] is None


def test_checkin_too_late_offers_a_normal_ticket(env: Env) -> None:
    book(env, start="09:00")
    kiosk = env.h("kiosk:x-city")
    env.clock.set_local(TUE, "09:16")
    r = env.client.post(f"{API}/halls/x-city/checkin", json={"id_number": ID_A}, headers=kiosk)
    assert r.status_code == 409 and code_of(r) == "checkin.too_late"
    r = env.client.post(
        f"{API}/halls/x-city/checkin", json={"id_number": ID_A, "fallback_normal": True}, headers=kiosk
    )
    assert r.status_code == 201
    assert r.json()["appointment_id"] is None and r.json()["priority"] is False
    assert r.json()["checkin"]["code"] == "checkin.too_late"
    # No booking at all: a clear message.
    r = env.client.post(f"{API}/halls/x-city/checkin", json={"id_number": ID_C}, headers=kiosk)
    assert r.status_code == 404 and code_of(r) == "checkin.none"
    # A hall that does not allow the fallback says so.
    env.client.put(
        f"{API}/halls/x-city/ext-settings",
        json={"booking": {"fallback_normal_ticket": False}},
        headers=env.h("m-city"),
    )
    r = env.client.post(
        f"{API}/halls/x-city/checkin", json={"id_number": ID_A, "fallback_normal": True}, headers=kiosk
    )
    assert r.status_code == 409 and r.json()["error"]["detail"]["normal_ticket_allowed"] is False


def _second_booked_visitor_near(env: Env) -> dict[str, Any]:
    """Two bookings checked in behind a normal ticket; the first is called, so the second is
    next in line. Returns the second visitor's ticket."""
    book(env, start="09:00")
    book(env, start="09:00", id_number=ID_B)
    env.clock.set_local(TUE, "08:50")
    env.issue("x-city")  # a normal ticket already waiting
    kiosk = env.h("kiosk:x-city")
    first = env.client.post(f"{API}/halls/x-city/checkin", json={"id_number": ID_A}, headers=kiosk).json()
    second = env.client.post(f"{API}/halls/x-city/checkin", json={"id_number": ID_B}, headers=kiosk).json()
    called = env.serve_next("x-city", 1, finish=False)  # appointments first: ID_A's ticket is called
    assert called["id"] == first["id"]
    return second


def test_near_turn_notice_sent_once(env: Env) -> None:
    second = _second_booked_visitor_near(env)
    r = env.client.post(f"{API}/notify/flush", headers=env.h("admin"))
    assert r.status_code == 200 and r.json()["near_queued"] == 1
    r2 = env.client.post(f"{API}/notify/flush", headers=env.h("admin")).json()
    assert r2["near_queued"] == 0 and r2["sent"] == 0
    with env.ctx.db.read() as s:
        near = list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "ticket.near")))
        assert len(near) == 1 and near[0].payload["ticket_id"] == second["id"] and near[0].sent_at is not None
        assert second["number"] in near[0].text and "下一位就是您" in near[0].text


def test_near_turn_notice_reads_calls_archived_before_the_notifier_saw_them(env: Env) -> None:
    """The notifier was behind when event retention archived the hall's log (its worker was
    stopped while the owner ran `db archive-events`): the call that brings a booked visitor
    near is read from the archive once the hall goes on, so the notice still goes, once."""
    second = _second_booked_visitor_near(env)
    # Everything so far goes to the archive before the notifier reads it.
    later = max(env.ctx.now(), datetime.now(UTC)) + timedelta(days=3)  # events carry either time
    assert archive_closed_days(env.ctx.db, later, 1) > 0
    with env.ctx.db.read() as s:
        cursor = s.scalars(select(NotifyCursor.last_seq).where(NotifyCursor.hall_id == "x-city")).first()
        assert archived_upto(s, "x-city") > (cursor or 0)
    env.issue("x-city", "S-003")  # the hall goes on, in another queue

    r = env.client.post(f"{API}/notify/flush", headers=env.h("admin"))
    assert r.status_code == 200 and r.json()["near_queued"] == 1, r.text
    assert env.client.post(f"{API}/notify/flush", headers=env.h("admin")).json()["near_queued"] == 0
    with env.ctx.db.read() as s:
        near = list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "ticket.near")))
    assert [m.payload["ticket_id"] for m in near] == [second["id"]]
    assert "下一位就是您" in near[0].text


class FlakyGateway:
    """An SMS gateway that fails the first time."""

    def __init__(self) -> None:
        self.calls = 0
        self.delivered: list[str] = []

    def send(self, phone: str | None, text: str, kind: str, payload: dict) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("gateway down")
        self.delivered.append(text)


def test_outbox_retries_and_never_sends_twice(env: Env) -> None:
    a = book(env).json()
    gw = FlakyGateway()
    now = env.clock.now
    first = notify.flush(env.ctx.db, env.ctx.protector, gw, now)
    assert first == {
        "sent": 1,
        "failed": 1,
    }  # confirmation: first try failed, the reminder (due now) went out
    assert notify.flush(env.ctx.db, env.ctx.protector, gw, now) == {"sent": 0, "failed": 0}  # backing off
    later = now + timedelta(minutes=1)
    assert notify.flush(env.ctx.db, env.ctx.protector, gw, later) == {"sent": 1, "failed": 0}
    assert notify.flush(env.ctx.db, env.ctx.protector, gw, now + timedelta(days=1)) == {
        "sent": 0,
        "failed": 0,
    }
    with env.ctx.db.read() as s:
        rows = {m.dedupe_key: m for m in s.scalars(select(OutboxMessage))}
    assert len(gw.delivered) == 2 and rows[f"booked:{a['id']}"].attempts == 2
    assert all(m.sent_at is not None for m in rows.values())
    assert isinstance(rows[f"booked:{a['id']}"].created_at, datetime)


@pytest.fixture
def pg_env(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The same server on a fresh PostgreSQL database."""
    yield from postgres_env(pg_url, tmp_path, monkeypatch)


@pytest.mark.postgres
def test_postgres_booking_rules(pg_env: Env) -> None:
    """The same rules on PostgreSQL (upserts, conditional updates)."""
    test_booking_rules_refuse_with_typed_errors_and_change_nothing(pg_env)


@pytest.mark.postgres
def test_postgres_cancel(pg_env: Env) -> None:
    test_cancel_two_hours_ahead_frees_the_place(pg_env)


@pytest.mark.postgres
def test_postgres_checkin(pg_env: Env) -> None:
    test_checkin_tolerance_gives_priority_ticket_once(pg_env)


@pytest.mark.postgres
def test_postgres_near_turn_after_archive(pg_env: Env) -> None:
    test_near_turn_notice_reads_calls_archived_before_the_notifier_saw_them(pg_env)


@pytest.mark.postgres
def test_postgres_outbox(pg_env: Env) -> None:
    test_outbox_retries_and_never_sends_twice(pg_env)


def test_kiosk_lists_a_persons_bookings(env: Env) -> None:
    a = book(env).json()
    book(env, day=date(2026, 3, 11), start="14:00")
    r = env.client.post(
        f"{API}/appointments/by-person", json={"id_number": ID_A}, headers=env.h("kiosk:x-city")
    )
    assert r.status_code == 200
    first = r.json()[0]
    assert (first["code"], first["day"]) == (a["code"], "2026-03-10") and len(r.json()) == 2
    assert ID_A not in r.text
    r = env.client.post(f"{API}/appointments/by-person", json={"id_number": ID_A})
    assert r.status_code == 401
    r = env.client.post(f"{API}/appointments/lookup", json={"code": a["code"], "id_number": ID_B})
    assert r.status_code == 404


def test_cancelling_needs_proof_of_the_person(env: Env) -> None:
    """The booking code and an ID number are not enough: the phone's code, or the card at a hall kiosk."""
    a = book(env).json()
    url = f"{API}/appointments/{a['code']}/cancel"
    bare = env.client.post(url, json={"id_number": ID_A})
    assert bare.status_code == 403 and code_of(bare) == "booking.proof_required"
    guessed = env.client.post(url, json={"id_number": ID_A, "verification_code": "000000"})
    assert guessed.status_code == 403 and code_of(guessed) == "booking.proof_required"
    texted = env.texted_cancel_code(a["code"], ID_A)
    # The code of one booking does not cancel another.
    other = book(env, id_number=ID_B).json()
    crossed = env.client.post(
        f"{API}/appointments/{other['code']}/cancel", json={"id_number": ID_B, "verification_code": texted}
    )
    assert crossed.status_code == 403
    # A kiosk of another hall cannot cancel it; the city's kiosk, with the card present, can.
    county = env.client.post(
        f"{API}/halls/x-county/appointments/{a['code']}/cancel",
        json={"id_number": ID_A},
        headers=env.h("kiosk:x-county"),
    )
    assert county.status_code == 404 and code_of(county) == "booking.not_found"
    at_kiosk = env.client.post(
        f"{API}/halls/x-city/appointments/{a['code']}/cancel",
        json={"id_number": ID_A},
        headers=env.h("kiosk:x-city"),
    )
    assert at_kiosk.status_code == 200 and at_kiosk.json()["status"] == "cancelled"
    # No event carries a booking code to the hall's screens.
    assert all(
        "code" not in e["payload"] for e in env.events("x-city") if e["type"].startswith("appointment.")
    )


def test_a_person_lookup_stays_in_the_callers_halls(env: Env) -> None:
    book(env)
    url = f"{API}/appointments/by-person"
    assert len(env.client.post(url, json={"id_number": ID_A}, headers=env.h("kiosk:x-city")).json()) == 1
    for other in ("kiosk:x-county", "m-county"):
        answer = env.client.post(url, json={"id_number": ID_A}, headers=env.h(other))
        assert answer.status_code == 200 and answer.json() == [], other


def test_a_county_manager_sweeps_only_their_halls_and_cannot_run_the_citys_pass(env: Env) -> None:
    # A booking at the city hall lapses; a county manager's sweep must leave it alone (the city's
    # worker, or its own managers, mark it), and the whole server's pass is not theirs to run.
    assert book(env, day=TUE).status_code == 201
    env.clock.set_local(date(2026, 3, 13), "10:00")
    r = env.client.post(f"{API}/appointments/sweep", headers=env.h("m-county"))
    assert r.status_code == 200 and r.json() == {"no_shows": 0}
    r = env.client.post(f"{API}/notify/flush", headers=env.h("m-county"))
    assert r.status_code == 403 and code_of(r) == "auth.forbidden"
    with env.ctx.db.read() as s:
        assert [a.status for a in s.scalars(select(Appointment))] == ["booked"]
    r = env.client.post(f"{API}/appointments/sweep", headers=env.h("m-city"))
    assert r.json() == {"no_shows": 1}
