"""The classes of 5xx the OpenAPI fuzzing found, each pinned by a small deterministic test.

Hall settings (PUT /halls/{id}/ext-settings) are a free-form object on the wire: every value
must be checked for its type and bounds when it is written, because the slot grid, the booking
rules and the alerts read it later, where a string or a huge number was a 500 (or a loop over
millions of days) on every request of the hall.
"""

from __future__ import annotations

import pytest

from hall_server.services.hall_settings import DEFAULTS
from queueing.calendar import BookingRules
from tests.hall_server.conftest import API, Hall, error_code
from tests.hall_server.hs_city import CITY

BAD_BOOKING = [
    {"slot_minutes": "30"},
    {"slot_minutes": 10**30},
    {"slot_minutes": 0},
    {"capacity": "x"},
    {"capacity": -1},
    {"capacity": 2**70},
    {"capacity": 1.5},
    {"capacity_by_service": {"S-A1": "x"}},
    {"capacity_by_service": {"S-A1": 10**20}},
    {"capacity_by_service": ["S-A1"]},
    {"capacity_by_service": {"S" * 65: 1}},
    {"max_working_days_ahead": 10**9},
    {"min_days_ahead": 10**12},
    {"cancel_min_hours": 1e308},
    {"cancel_min_hours": "2"},
    {"checkin_before_minutes": 10**15},
    {"noshow_window_days": 10**10},
    {"per_person_per_day": True},
    {"fallback_normal_ticket": "yes"},
    {"block_days": None},
]
BAD_TOP = [
    {"alert_wait_minutes": 1e308},
    {"alert_wait_minutes": 10**400},
    {"alert_wait_minutes": "15"},
    {"alert_wait_minutes": 0},
    {"alert_queue_length": 2**70},
    {"followup_working_days": 1.0},
    {"booking": "fast"},
]


def test_every_booking_rule_has_a_bound() -> None:
    """A rule added to BookingRules without a check here would be stored unchecked."""
    from hall_server.services import hall_settings as hs

    checked = (
        set(hs._BOOKING_INTS) | set(hs._BOOKING_NUMBERS) | set(hs._BOOKING_BOOLS) | {"capacity_by_service"}
    )
    assert set(BookingRules.__dataclass_fields__) <= checked
    assert set(DEFAULTS["booking"]) <= checked


@pytest.mark.parametrize("patch", [{"booking": b} for b in BAD_BOOKING] + BAD_TOP, ids=repr)
def test_a_bad_setting_is_refused_and_the_hall_keeps_working(hall: Hall, patch: dict) -> None:
    """422 request.invalid naming the key; nothing stored; the hall's reads still answer 200."""
    m = hall.auth("m-city")
    r = hall.client.put(f"{API}/halls/{CITY}/ext-settings", json=patch, headers=m)
    assert r.status_code == 422, r.text
    assert error_code(r) == "request.invalid"
    assert r.json()["error"]["detail"]["key"] == next(iter(patch))
    assert hall.client.get(f"{API}/halls/{CITY}/ext-settings", headers=m).json() == DEFAULTS | {
        "booking": DEFAULTS["booking"]
    }
    kiosk = hall.auth(f"kiosk:{CITY}")
    r = hall.client.get(
        f"{API}/halls/{CITY}/appointment-slots", params={"service_code": "S-A1"}, headers=kiosk
    )
    assert r.status_code < 500, r.text
    assert hall.client.get(f"{API}/halls/{CITY}/alerts", headers=m).status_code == 200


def test_good_settings_at_their_bounds_are_kept(hall: Hall) -> None:
    m = hall.auth("m-city")
    patch = {
        "booking": {
            "slot_minutes": 60,
            "capacity": 0,
            "capacity_by_service": {"S-A1": 10000},
            "cancel_min_hours": 0.5,
            "fallback_normal_ticket": False,
            "max_working_days_ahead": 120,
        },
        "alert_wait_minutes": 12.5,
    }
    r = hall.client.put(f"{API}/halls/{CITY}/ext-settings", json=patch, headers=m)
    assert r.status_code == 200, r.text
    assert r.json()["booking"]["capacity_by_service"] == {"S-A1": 10000}
    assert r.json()["alert_wait_minutes"] == 12.5
    kiosk = hall.auth(f"kiosk:{CITY}")
    r = hall.client.get(
        f"{API}/halls/{CITY}/appointment-slots", params={"service_code": "S-A1"}, headers=kiosk
    )
    assert r.status_code == 200, r.text
    assert hall.client.get(f"{API}/halls/{CITY}/alerts", headers=m).status_code == 200


# A lone UTF-16 surrogate escaped in JSON decodes to a str that cannot be encoded as UTF-8. Typed
# string fields refuse it, but free-form keys (hall settings, window groups) carried it into the
# error message or the stored JSON, and the answer's encoder failed: a 500. The guard refuses it.
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("put", f"/halls/{CITY}/ext-settings", '{"\\ud800": 1}'),
        ("put", f"/halls/{CITY}/ext-settings", '{"booking": {"capacity_by_service": {"\\ud800": 1}}}'),
        ("put", "/windows/{wid}/groups", '{"groups": {"\\udbff": 1}}'),
        ("put", "/windows/{wid}/groups", '{"groups": {"A\\udc00": 1}}'),
        ("post", "/auth/login", '{"username": "\\ud800", "password": "x"}'),
        # The guard's refusals keep their 422 on ordinary (not lean) routes too, not a bare 400.
        ("put", f"/halls/{CITY}/ext-settings", '{"a\\u0000": 1}'),
    ],
)
def test_a_lone_surrogate_is_refused_at_the_door(hall: Hall, method: str, path: str, body: str) -> None:
    path = path.format(wid=hall.wid(1))
    headers = {**hall.auth("m-city"), "Content-Type": "application/json"}
    r = hall.client.request(method, f"{API}{path}", content=body.encode(), headers=headers)
    assert r.status_code == 422, r.text
    assert error_code(r) == "request.invalid"


def test_a_whole_surrogate_pair_is_an_ordinary_character(hall: Hall) -> None:
    """An emoji escaped as a pair is not refused: the name is kept."""
    body = (
        '{"service_code": "S-A1", "identity": {"id_number": "110101199003074565", "name": "\\ud83d\\ude00"}}'
    )
    headers = {**hall.auth(f"kiosk:{CITY}"), "Content-Type": "application/json"}
    r = hall.client.post(f"{API}/halls/{CITY}/tickets", content=body.encode(), headers=headers)
    assert r.status_code == 201, r.text
