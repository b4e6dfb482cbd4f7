"""The working-day calendar with 2026 holidays and 调休, and the pure booking arithmetic."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queueing.calendar import (
    BookingRules,
    CalendarDataError,
    WorkCalendar,
    bookable_days,
    can_cancel,
    checkin_state,
    day_slots,
    noshow_block_until,
)

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "calendar"


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    data26 = json.loads((ASSETS / "CN-2026.json").read_text(encoding="utf-8"))
    data27 = json.loads((ASSETS / "CN-2027.json").read_text(encoding="utf-8"))
    return WorkCalendar.from_dict(data26).merged(WorkCalendar.from_dict(data27))


def test_holidays_and_makeup_days(cal: WorkCalendar) -> None:
    assert not cal.is_working_day(date(2026, 1, 1))  # 元旦, Thursday
    assert cal.is_working_day(date(2026, 1, 4))  # Sunday, 调休上班
    assert cal.is_working_day(date(2026, 2, 14))  # Saturday before 春节, works
    assert not cal.is_working_day(date(2026, 2, 16))  # Monday of 春节
    assert not cal.is_working_day(date(2026, 10, 7))  # Wednesday inside 国庆
    assert cal.is_working_day(date(2026, 10, 8))  # Thursday after it
    assert cal.is_working_day(date(2026, 10, 10))  # Saturday make-up
    assert not cal.is_working_day(date(2026, 3, 7))  # ordinary Saturday
    assert cal.is_working_day(date(2026, 3, 9))  # ordinary Monday
    assert cal.names[date(2026, 2, 16)] == "春节"


def test_add_working_days_across_spring_festival(cal: WorkCalendar) -> None:
    # Friday 2026-02-13; next working day is Saturday 02-14 (make-up), then 02-24 after the holiday.
    assert cal.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert cal.add_working_days(date(2026, 2, 13), 2) == date(2026, 2, 24)
    assert cal.working_days_between(date(2026, 2, 13), date(2026, 2, 24)) == 2
    assert cal.working_days_between(date(2026, 2, 24), date(2026, 2, 13)) == -2
    assert cal.add_working_days(date(2026, 2, 15), 0) == date(2026, 2, 24)


def test_fifteen_working_days_across_national_day(cal: WorkCalendar) -> None:
    # Bad rating on Fri 2026-09-25 (中秋 holiday itself); 15 working days, counting 9-28, 9-29, 9-30,
    # then 10-08 (Thu), 10-09, 10-10 (Sat make-up), 10-12 .. 10-16, 10-19 .. 10-22 -> 10-22.
    assert cal.add_working_days(date(2026, 9, 25), 15) == date(2026, 10, 22)
    # The same count ignoring the calendar would end on 10-16.
    plain = WorkCalendar()
    assert plain.add_working_days(date(2026, 9, 25), 15) == date(2026, 10, 16)


def test_bookable_days_skip_holidays(cal: WorkCalendar) -> None:
    rules = BookingRules()
    # On Wed 2026-09-30: tomorrow starts 国庆; 5 working days ahead = 10-08, 10-09, 10-10, 10-12, 10-13.
    days = bookable_days(date(2026, 9, 30), cal, rules)
    assert days == [
        date(2026, 10, 8),
        date(2026, 10, 9),
        date(2026, 10, 10),
        date(2026, 10, 12),
        date(2026, 10, 13),
    ]
    # An ordinary Monday: Tue .. Mon next week (weekend skipped).
    days = bookable_days(date(2026, 3, 9), cal, rules)
    assert days[0] == date(2026, 3, 10) and days[-1] == date(2026, 3, 16) and len(days) == 5


def test_cancel_and_checkin_tolerance() -> None:
    rules = BookingRules()
    slot = datetime(2026, 3, 10, 9, 30)
    assert can_cancel(datetime(2026, 3, 10, 7, 30), slot, rules)
    assert not can_cancel(datetime(2026, 3, 10, 7, 31), slot, rules)
    assert checkin_state(datetime(2026, 3, 10, 8, 59), slot, rules) == "early"
    assert checkin_state(datetime(2026, 3, 10, 9, 0), slot, rules) == "ok"
    assert checkin_state(datetime(2026, 3, 10, 9, 45), slot, rules) == "ok"
    assert checkin_state(datetime(2026, 3, 10, 9, 46), slot, rules) == "late"


def test_noshow_block() -> None:
    rules = BookingRules()  # 3 in 90 days -> 30 days
    today = date(2026, 4, 1)
    assert noshow_block_until([date(2026, 3, 1), date(2026, 3, 20)], today, rules) is None
    three = [date(2026, 1, 10), date(2026, 3, 1), date(2026, 3, 20)]
    assert noshow_block_until(three, today, rules) == date(2026, 4, 19)
    assert noshow_block_until(three, date(2026, 4, 19), rules) is None
    # Three no-shows spread over more than 90 days do not block.
    spread = [date(2025, 12, 1), date(2026, 2, 1), date(2026, 3, 20)]
    assert noshow_block_until(spread, today, rules) is None


def test_day_slots_and_rules_from_dict() -> None:
    slots = day_slots([(time(9), time(10, 15)), (time(14), time(15))], 30)
    assert slots == [
        (time(9), time(9, 30)),
        (time(9, 30), time(10)),
        (time(14), time(14, 30)),
        (time(14, 30), time(15)),
    ]
    rules = BookingRules.from_dict({"max_working_days_ahead": 7, "unknown": 1})
    assert rules.max_working_days_ahead == 7 and rules.cancel_min_hours == 2.0
    with pytest.raises(ValueError):
        day_slots([(time(9), time(10))], 0)


def test_bad_calendar_data_is_a_typed_error() -> None:
    with pytest.raises(CalendarDataError):
        WorkCalendar.from_dict({"holidays": [{"name": "x", "days": ["2026-13-01"]}]})
    with pytest.raises(CalendarDataError):
        WorkCalendar.from_dict(
            {"holidays": [{"name": "x", "days": ["2026-01-05"]}], "workdays": ["2026-01-05"]}
        )
    with pytest.raises(CalendarDataError):
        WorkCalendar.from_dict({"holidays": [{"name": "x", "days": ["2026-01-05/2026-01-01"]}]})


def test_city_file_merges_over_the_national_calendar(tmp_path: Path) -> None:
    from hall_server.services.calendars import load_calendar

    (tmp_path / "CN-2026.json").write_text(
        (ASSETS / "CN-2026.json").read_text(encoding="utf-8"), encoding="utf-8"
    )
    # A city adds a local holiday and turns one national holiday into a working day.
    city = {"holidays": [{"name": "本地节日", "days": ["2026-03-10"]}], "workdays": ["2026-10-07"]}
    (tmp_path / "bz-city-2026.json").write_text(json.dumps(city, ensure_ascii=False), encoding="utf-8")
    national = load_calendar(None, tmp_path)
    local = load_calendar("bz-city", tmp_path)
    assert national.is_working_day(date(2026, 3, 10)) and not local.is_working_day(date(2026, 3, 10))
    assert not national.is_working_day(date(2026, 10, 7)) and local.is_working_day(date(2026, 10, 7))
    assert not local.is_working_day(date(2026, 10, 1))  # the rest of 国庆 stays


@settings(max_examples=200, deadline=None)
@given(start=st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 11, 30)), n=st.integers(0, 40))
def test_add_and_count_working_days_agree(start: date, n: int) -> None:
    cal = _CAL
    end = cal.add_working_days(start, n)
    assert cal.is_working_day(end)
    if n > 0:
        assert cal.working_days_between(start, end) == n
        assert end > start


_CAL = WorkCalendar.from_dict(json.loads((ASSETS / "CN-2026.json").read_text(encoding="utf-8"))).merged(
    WorkCalendar.from_dict(json.loads((ASSETS / "CN-2027.json").read_text(encoding="utf-8")))
)
