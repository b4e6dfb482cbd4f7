"""When a hall's business day is over (queueing.dayend)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from queueing.dayend import closing_time, last_ended_day

BJ = ZoneInfo("Asia/Shanghai")
HOURS = ((time(9), time(12)), (time(13, 30), time(17, 30)))
TUE = date(2026, 3, 10)


def test_closing_time_is_the_last_span_end_plus_grace() -> None:
    assert closing_time(TUE, HOURS, BJ, 60) == datetime(2026, 3, 10, 18, 30, tzinfo=BJ)
    assert closing_time(TUE, HOURS, "Asia/Shanghai", 0) == datetime(2026, 3, 10, 17, 30, tzinfo=BJ)
    # Spans in any order; a negative grace counts as none.
    assert closing_time(TUE, tuple(reversed(HOURS)), BJ, -5) == datetime(2026, 3, 10, 17, 30, tzinfo=BJ)


def test_open_all_day_or_a_long_grace_ends_at_beijing_midnight() -> None:
    midnight = datetime(2026, 3, 11, 0, 0, tzinfo=BJ)
    assert closing_time(TUE, (), BJ) == midnight
    assert closing_time(TUE, ((time(9), time(23)),), BJ, 120) == midnight


def test_last_ended_day_across_closing_time_and_beijing_midnight() -> None:
    # 18:29 and 18:31 Beijing on Tuesday (10:29 and 10:31 UTC), default grace of an hour.
    assert last_ended_day(datetime(2026, 3, 10, 10, 29, tzinfo=UTC), HOURS, BJ) == date(2026, 3, 9)
    assert last_ended_day(datetime(2026, 3, 10, 10, 31, tzinfo=UTC), HOURS, BJ) == TUE
    # Open all day: 15:59 UTC is still Tuesday in Beijing, 16:00 UTC is Wednesday.
    assert last_ended_day(datetime(2026, 3, 10, 15, 59, tzinfo=UTC), (), BJ) == date(2026, 3, 9)
    assert last_ended_day(datetime(2026, 3, 10, 16, 0, tzinfo=UTC), (), BJ) == TUE
