"""Appointments across the city network (docs/sync.md, "Appointments"), end to end over HTTP: a
real city server (subprocess, on SQLite and on PostgreSQL) and a real station (SQLite, in-process
app with its sync thread, its clock moved to the booked day). No mocks.

The city owns a station hall's capacity and its bookings; the station owns the attendance."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import text

from hall_server.config import Settings
from hall_server.context import ServerContext
from hall_server.services import dayend
from hall_server.services.appointments import sweep_no_shows
from tests.hall_server.hs_city import ID_ELDERLY, ID_YOUNG, ID_YOUNG_2, PASSWORD
from tests.hall_server.test_sync_station import (
    API,
    KEY,
    VILLAGE,
    City,
    Station,
    _h,
    events_of,
    run_station,
    synced,
    wait_until,
)
from tests.hall_server.test_sync_station import city as station_city  # noqa: F401 - a fixture

ID_A = "110101199003074514"
ID_B = "440524198001010013"
ID_C = "11010519491231002X"
PHONE = "13800138000"
ZONE = ZoneInfo("Asia/Shanghai")
DEAD_PARENT = "http://127.0.0.1:9/api/v1"  # nothing listens: the station's link is down


@pytest.fixture
def city(station_city: City) -> City:  # noqa: F811 - the imported fixture, requested
    """test_sync_station's city (on SQLite and on PostgreSQL) with its village station registered."""
    return station_city


def first_slots(city: City) -> tuple[str, list[str]]:
    """The first bookable day of the village hall and its slots' start times (public, at the city)."""
    r = requests.get(
        f"{city.api}/halls/{VILLAGE}/appointment-slots", params={"service_code": "S-A1"}, timeout=30
    )
    assert r.status_code == 200, r.text
    day = next(d for d in r.json()["days"] if d["slots"])
    return day["day"], [s["start"] for s in day["slots"]]


def book(city: City, day: str, start: str, id_number: str) -> requests.Response:
    body = {"service_code": "S-A1", "day": day, "start": start, "id_number": id_number, "phone": PHONE}
    return requests.post(f"{city.api}/halls/{VILLAGE}/appointments", json=body, timeout=30)


def local(day: str, hhmm: str, minutes: int = 0) -> datetime:
    at = datetime.combine(date.fromisoformat(day), time.fromisoformat(hhmm), tzinfo=ZONE)
    return (at + timedelta(minutes=minutes)).astimezone(UTC)


def bookings_at_station(st: Station, mgr: str, day: str) -> dict[int, dict[str, Any]]:
    r = st.client.get(f"{API}/halls/{VILLAGE}/appointments", params={"day": day}, headers=_h(mgr))
    assert r.status_code == 200, r.text
    return {b["id"]: b for b in r.json()}


def bookings_at_city(city: City, day: str) -> dict[int, dict[str, Any]]:
    r = city.get(f"/halls/{VILLAGE}/appointments", params={"day": day})
    assert r.status_code == 200, r.text
    return {b["id"]: b for b in r.json()}


def code_of(r: requests.Response | Any) -> str | None:
    try:
        return r.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def test_bookings_go_down_and_attendance_comes_up(city: City, tmp_path: Path) -> None:
    """Booked at the city -> at the station; cancelled at the city -> at the station; checked in
    at the station with the link down -> priority ticket; link back -> the city has the check-in
    and the station's ticket; a no-show at the station comes up; a check-in of a booking the city
    cancelled meanwhile is honoured at the station and recorded as a conflict at the city."""
    with run_station(city, tmp_path) as st:
        wait_until(lambda: synced(st), what="first round")
        day, starts = first_slots(city)
        first = starts[0]
        made = {}
        for who, idn in (
            ("kept", ID_YOUNG),
            ("missed", ID_YOUNG_2),
            ("cancelled", ID_ELDERLY),
            ("late", ID_A),
        ):
            r = book(city, day, first, idn)
            assert r.status_code == 201, r.text
            made[who] = r.json()
        assert all(b["id"] < city.bundle["station_no"] * 10**10 for b in made.values())  # city ids
        mgr = st.login("m-v")

        # The bookings (and the slot's capacity) reach the station after a sync round.
        wait_until(
            lambda: set(bookings_at_station(st, mgr, day)) == {b["id"] for b in made.values()},
            what="the bookings at the station",
        )
        with st.ctx.db.read() as s:
            slot = s.execute(
                text(
                    "SELECT capacity, booked FROM appointment_slots WHERE hall_id = :h AND day = :d AND start = :s"
                ),
                {"h": VILLAGE, "d": day, "s": first},
            ).one()
        assert (slot.capacity, slot.booked) == (4, 4)

        # A cancellation at the city reaches the station too.
        r = city.post(
            f"/halls/{VILLAGE}/appointments/{made['cancelled']['code']}/cancel",
            json={"id_number": ID_ELDERLY},
        )
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        wait_until(
            lambda: bookings_at_station(st, mgr, day)[made["cancelled"]["id"]]["status"] == "cancelled",
            what="the cancellation at the station",
        )

        # The link goes down; meanwhile the city cancels another booking the station still has.
        sync = st.ctx.station_sync  # type: ignore[attr-defined]
        parent_base = sync.base
        sync.base = DEAD_PARENT
        wait_until(lambda: st.link()["state"] == "down", what="link down")
        r = city.post(
            f"/halls/{VILLAGE}/appointments/{made['late']['code']}/cancel", json={"id_number": ID_A}
        )
        assert r.status_code == 200, r.text

        # The booked day at the station: check-ins at its kiosk, offline.
        kiosk = _h(st.tokens["kiosk"])
        st.ctx.clock = lambda: local(day, first, -10)
        walk_in = st.issue()
        r = st.client.post(f"{API}/halls/{VILLAGE}/checkin", json={"id_number": ID_YOUNG}, headers=kiosk)
        assert r.status_code == 201, r.text
        ticket = r.json()
        assert ticket["appointment_id"] == str(made["kept"]["id"]) and ticket["checkin"]["status"] == "ok"
        assert ticket["id"] >= city.bundle["station_no"] * 10**10
        # A repeated check-in gives the same ticket.
        again = st.client.post(f"{API}/halls/{VILLAGE}/checkin", json={"id_number": ID_YOUNG}, headers=kiosk)
        assert again.status_code == 201 and again.json()["id"] == ticket["id"], again.text
        # A cancellation the station knows is honoured: no booking to check in.
        r = st.client.post(f"{API}/halls/{VILLAGE}/checkin", json={"id_number": ID_ELDERLY}, headers=kiosk)
        assert r.status_code == 404 and code_of(r) == "checkin.none", r.text
        # One it does not know yet: the station honours what it knew (a priority ticket).
        r = st.client.post(f"{API}/halls/{VILLAGE}/checkin", json={"id_number": ID_A}, headers=kiosk)
        assert r.status_code == 201 and r.json()["appointment_id"] == str(made["late"]["id"]), r.text
        late_ticket = r.json()["id"]
        # The appointment tickets go first (priority): called before the earlier walk-in.
        clerk = st.login("v1", city.window)
        called = st.client.post(f"{API}/windows/{city.window}/call-next", headers=_h(clerk))
        assert called.status_code == 200 and called.json()["id"] == ticket["id"], called.text
        assert walk_in["id"] not in (ticket["id"], late_ticket)
        # The slot's tolerance passes: the station's sweep marks the one not come a no-show.
        st.ctx.clock = lambda: local(day, first, 16)
        r = st.client.post(f"{API}/appointments/sweep", headers=_h(mgr))
        assert r.status_code == 200 and r.json()["no_shows"] == 1, r.text
        at_station = bookings_at_station(st, mgr, day)
        assert at_station[made["kept"]["id"]]["status"] == "checked_in"
        assert at_station[made["kept"]["id"]]["ticket_id"] == ticket["id"]
        assert at_station[made["missed"]["id"]]["status"] == "no_show"
        # The station never wrote the city's booking rows; its attendance waits for the link.
        with st.ctx.db.read() as s:
            assert set(s.execute(text("SELECT status FROM appointments")).scalars()) == {
                "booked",
                "cancelled",
            }
            attendance = dict(
                s.execute(text("SELECT appointment_id, status FROM appointment_attendance")).all()
            )
        assert attendance == {
            made["kept"]["id"]: "checked_in",
            made["late"]["id"]: "checked_in",
            made["missed"]["id"]: "no_show",
        }
        link = st.link()
        assert link["state"] == "down" and link["waiting"] >= 3

        # The link comes back: everything goes up, the city's copies come back down.
        sync.base = parent_base
        wait_until(lambda: synced(st), timeout=45, what="catching up")
        at_city = bookings_at_city(city, day)
        assert at_city[made["kept"]["id"]]["status"] == "checked_in"
        assert at_city[made["kept"]["id"]]["ticket_id"] == ticket["id"]
        assert at_city[made["missed"]["id"]]["status"] == "no_show"
        assert at_city[made["cancelled"]["id"]]["status"] == "cancelled"
        # The city's cancellation stands (the place may have been sold again) ...
        assert at_city[made["late"]["id"]]["status"] == "cancelled"
        r = city.get(f"/tickets/{ticket['id']}")
        assert r.status_code == 200 and r.json()["appointment_id"] == str(made["kept"]["id"]), r.text
        assert city.get(f"/tickets/{late_ticket}").status_code == 200
        # The manager's conflict list (站点同步 panel): the late booking with the station's ticket, once.
        login = requests.post(
            city.api + "/auth/login", json={"username": "m-v", "password": PASSWORD}, timeout=30
        )
        assert login.status_code == 200, login.text
        r = requests.get(city.api + "/stations/conflicts", headers=_h(login.json()["token"]), timeout=30)
        assert r.status_code == 200, r.text
        conflicts = r.json()["conflicts"]
        assert [c["appointment_id"] for c in conflicts] == [made["late"]["id"]], conflicts
        assert conflicts[0]["ticket_id"] == late_ticket and conflicts[0]["hall_id"] == VILLAGE
        assert (
            conflicts[0]["ticket_number"] and conflicts[0]["cancelled_at"] and conflicts[0]["checked_in_at"]
        )
        assert "*" in conflicts[0]["id_masked"]  # personal data masked
        assert city.get("/stations/conflicts", who="kiosk").status_code == 403

        city_db = city.db()
        try:
            # ... and the conflict is recorded once, on the city's own stream of the hall.
            city_events = [t for _, t, _ in events_of(city_db, VILLAGE + "@city")]
            assert city_events.count("appointment.attendance_conflict") == 1
            assert "appointment.checked_in" not in city_events and "appointment.no_show" not in city_events
            # The attendance events are the station's, once each, in the hall's own log.
            hall_events = [t for _, t, _ in events_of(city_db, VILLAGE)]
            assert hall_events.count("appointment.checked_in") == 2
            assert hall_events.count("appointment.no_show") == 1
            with city_db.read() as s:
                stored = dict(
                    s.execute(text("SELECT appointment_id, status FROM appointment_attendance")).all()
                )
            assert stored == attendance
        finally:
            city_db.dispose()

        # The city's copy of the booking came back down: the station shows the same.
        wait_until(
            lambda: _statuses(st) == {b["id"]: at_city[b["id"]]["status"] for b in made.values()},
            what="the city's bookings back at the station",
        )
        assert {k: v["status"] for k, v in bookings_at_station(st, mgr, day).items()} == {
            k: v["status"] for k, v in at_city.items()
        }
        # The statistics of the booked day agree.
        st_stats = st.client.get(
            f"{API}/halls/{VILLAGE}/stats", params={"from": day, "to": day}, headers=_h(mgr)
        ).json()
        city_stats = city.get(f"/halls/{VILLAGE}/stats", params={"from": day, "to": day}).json()
        assert (
            _appointment_totals(st_stats)
            == _appointment_totals(city_stats)
            == {
                "issued": 3,
                "appointment_tickets": 2,
                "appointments_booked": 4,
                "appointments_kept": 1,
                "appointments_missed": 1,
            }
        )


def _appointment_totals(stats: dict[str, Any]) -> dict[str, int]:
    totals = stats["totals"]
    return {k: totals[k] for k in totals if k.startswith("appointment") or k == "issued"}


def _statuses(st: Station) -> dict[int, str]:
    with st.ctx.db.read() as s:
        return dict(s.execute(text("SELECT id, status FROM appointments")).all())


def test_the_last_place_of_a_station_slot_is_sold_once(city: City, tmp_path: Path) -> None:
    """Two concurrent bookings at the city for the last place of a station hall's slot: one wins;
    the station receives the slot full and the one booking."""
    day, starts = first_slots(city)
    start = starts[1]
    assert book(city, day, start, ID_B).status_code == 201
    db = city.db()
    try:
        with db.write() as s:
            s.execute(
                text(
                    "UPDATE appointment_slots SET capacity = 2 WHERE hall_id = :h AND day = :d AND start = :s"
                ),
                {"h": VILLAGE, "d": day, "s": start},
            )
    finally:
        db.dispose()
    answers: list[requests.Response] = []
    gate = threading.Barrier(2)

    def racer(idn: str) -> None:
        gate.wait()
        answers.append(book(city, day, start, idn))

    threads = [threading.Thread(target=racer, args=(idn,)) for idn in (ID_C, ID_YOUNG)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    codes = sorted(r.status_code for r in answers)
    assert codes == [201, 409], [r.text for r in answers]
    assert code_of(next(r for r in answers if r.status_code == 409)) == "booking.slot_full"
    with run_station(city, tmp_path) as st:
        wait_until(lambda: synced(st), what="first round")
        with st.ctx.db.read() as s:
            slot = s.execute(
                text(
                    "SELECT id, capacity, booked FROM appointment_slots WHERE hall_id = :h AND day = :d AND start = :s"
                ),
                {"h": VILLAGE, "d": day, "s": start},
            ).one()
            held = s.execute(
                text("SELECT count(*) FROM appointments WHERE slot_id = :id AND status = 'booked'"),
                {"id": slot.id},
            ).scalar()
        assert (slot.capacity, slot.booked, held) == (2, 2, 2)


def test_each_side_refuses_what_the_other_owns(city: City, tmp_path: Path) -> None:
    """The station takes no bookings (the city's page does); the city neither checks in nor
    sweeps a station's bookings (the station does)."""
    day, starts = first_slots(city)
    r = book(city, day, starts[2], ID_YOUNG)
    assert r.status_code == 201, r.text
    booking = r.json()
    # The city's kiosk check-in and its no-show sweep leave the station's hall alone.
    r = city.post(f"/halls/{VILLAGE}/checkin", who="kiosk", json={"id_number": ID_YOUNG})
    assert r.status_code == 409 and code_of(r) == "sync.managed_by_station", r.text
    db = city.db()
    try:
        with db.write() as s:
            assert sweep_no_shows(s, local(day, starts[2], 24 * 60)) == 0
            assert (
                s.execute(
                    text("SELECT status FROM appointments WHERE id = :i"), {"i": booking["id"]}
                ).scalar()
                == "booked"
            )
    finally:
        db.dispose()
    with run_station(city, tmp_path) as st:
        wait_until(lambda: synced(st), what="first round")
        body = {"service_code": "S-A1", "day": day, "start": starts[3], "id_number": ID_B, "phone": PHONE}
        r = st.client.post(f"{API}/halls/{VILLAGE}/appointments", json=body)
        assert r.status_code == 409 and code_of(r) == "sync.booking_at_city", r.text
        assert r.json()["error"]["message"] and r.json()["error"]["message_en"]
        r = st.client.get(f"{API}/halls/{VILLAGE}/appointment-slots", params={"service_code": "S-A1"})
        assert r.status_code == 409 and code_of(r) == "sync.booking_at_city"
        r = st.client.post(
            f"{API}/halls/{VILLAGE}/appointments/{booking['code']}/cancel",
            json={"id_number": ID_YOUNG},
            headers=_h(st.tokens["kiosk"]),
        )
        assert r.status_code == 409 and code_of(r) == "sync.booking_at_city"
        # The city's day end leaves the station's open tickets and bookings alone too.
        st.issue()
        wait_until(lambda: synced(st), what="the ticket up")
        ctx = ServerContext.create(
            Settings(data_dir=tmp_path / "tool", db_url=city.url, data_key=KEY, pool_size=1)
        )
        try:
            later = local(day, starts[2], 3 * 24 * 60)
            assert not any(dayend.close_ended_days(ctx, later).values())
            with ctx.db.read() as s:
                assert s.execute(text("SELECT count(*) FROM tickets WHERE status = 'waiting'")).scalar() == 1
        finally:
            ctx.close()
        # Looking a booking up works offline (the station has the city's copy).
        r = st.client.post(
            f"{API}/appointments/lookup", json={"code": booking["code"], "id_number": ID_YOUNG}
        )
        assert r.status_code == 200 and r.json()["status"] == "booked", r.text
        with st.ctx.db.read() as s:
            assert (
                s.execute(text("SELECT count(*) FROM appointment_slots WHERE id >= 10000000000")).scalar()
                == 0
            )
