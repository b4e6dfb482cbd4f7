"""Ticket numbers and the business day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queueing.errors import InvalidConfiguration
from queueing.numbering import business_day, counter_key, format_number, parse_number


def test_prefix_and_three_digits() -> None:
    assert format_number("A", 1) == "A001"
    assert format_number("B", 42) == "B042"
    assert format_number("A", 999) == "A999"


def test_rolls_past_999_unless_wrapping() -> None:
    assert format_number("A", 1000) == "A1000"
    assert format_number("A", 1000, wrap_at=999) == "A001"
    assert format_number("A", 1998, wrap_at=999) == "A999"
    assert format_number("VP", 7, width=4) == "VP0007"


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_bad_sequences_are_refused(bad: object) -> None:
    with pytest.raises(InvalidConfiguration):
        format_number("A", bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix", ["", "a", "ABC", "1", "Ａ"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(InvalidConfiguration) as err:
        format_number(prefix, 1)
    assert err.value.code == "group.invalid_prefix"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["A", "B", "Z", "AB"]), st.integers(min_value=1, max_value=3000))
def test_numbers_never_repeat_without_wrap_and_parse_back(prefix: str, n: int) -> None:
    numbers = [format_number(prefix, s) for s in range(max(1, n - 20), n + 1)]
    assert len(set(numbers)) == len(numbers)
    assert parse_number(numbers[-1]) == (prefix, n)


def test_parse_number_rejects_garbage() -> None:
    assert parse_number("a012") == ("A", 12)
    for bad in ("", "001", "A", "A-1", "ABC1"):
        with pytest.raises(InvalidConfiguration):
            parse_number(bad)


def test_business_day_uses_the_hall_time_zone() -> None:
    # 17:30 UTC is 01:30 the next day in China.
    assert business_day(datetime(2026, 11, 26, 17, 30, tzinfo=UTC), "Asia/Shanghai") == date(2026, 11, 27)
    assert business_day(datetime(2026, 11, 26, 15, 59, tzinfo=UTC), ZoneInfo("Asia/Shanghai")) == date(
        2026, 11, 26
    )
    assert business_day(datetime(2026, 11, 27, 0, 5)) == date(2026, 11, 27)  # naive = local


def test_business_day_can_start_later_than_midnight() -> None:
    assert business_day(datetime(2026, 11, 27, 2, 0), None, day_starts=time(4)) == date(2026, 11, 26)
    assert business_day(datetime(2026, 11, 27, 4, 0), None, day_starts=time(4)) == date(2026, 11, 27)


def test_unknown_time_zone_is_a_clear_error() -> None:
    with pytest.raises(InvalidConfiguration) as err:
        business_day(datetime(2026, 1, 1, tzinfo=UTC), "Mars/Olympus")
    assert err.value.code == "hall.invalid_timezone"


def test_counter_key() -> None:
    assert counter_key("bz-city", "A", date(2026, 11, 27)) == ("bz-city", "A", "2026-11-27")
