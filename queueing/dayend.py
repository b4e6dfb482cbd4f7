"""When a hall's business day is over, so that its open tickets can be closed; pure, no I/O."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, tzinfo

from .numbering import _zone, business_day

logger = logging.getLogger(__name__)

# Clerks finish the visitors still in the hall at closing time; the day is closed this long after.
DEFAULT_GRACE_MINUTES = 60
DAY_END_REASON = "day_end"


def closing_time(
    day: date,
    opening_hours: Iterable[tuple[time, time]],
    tz: tzinfo | str | None = "Asia/Shanghai",
    grace_minutes: int = DEFAULT_GRACE_MINUTES,
) -> datetime:
    """The moment `day` is closed: the last opening span's end plus grace, never past midnight.

    A hall without opening hours (open all day) closes at the next local midnight. The result
    is aware when tz is given, naive local time otherwise.
    """
    zone = _zone(tz)
    midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    ends = [end for _start, end in opening_hours]
    if not ends:
        return midnight
    at = datetime.combine(day, max(ends), tzinfo=zone) + timedelta(minutes=max(0, grace_minutes))
    return min(at, midnight)


def last_ended_day(
    now: datetime,
    opening_hours: Iterable[tuple[time, time]],
    tz: tzinfo | str | None = "Asia/Shanghai",
    grace_minutes: int = DEFAULT_GRACE_MINUTES,
) -> date:
    """The newest business day that is over at `now`: today once closed, else yesterday."""
    zone = _zone(tz)
    today = business_day(now, zone)
    local_now = now.astimezone(zone) if (now.tzinfo is not None and zone is not None) else now
    if local_now >= closing_time(today, opening_hours, zone, grace_minutes):
        return today
    return today - timedelta(days=1)
