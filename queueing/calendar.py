"""Working-day calendar (holidays and 调休 make-up days) and appointment-time arithmetic; pure, no I/O."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

logger = logging.getLogger(__name__)

# Saturday and Sunday (date.weekday() numbering) are rest days unless a make-up day says otherwise.
DEFAULT_WEEKEND: frozenset[int] = frozenset({5, 6})


class CalendarDataError(ValueError):
    """The calendar data (holidays / make-up days) is malformed or contradictory."""


@dataclass(frozen=True)
class WorkCalendar:
    """A working-day calendar: weekdays work, weekends rest, except listed holidays and make-up days."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    weekend: frozenset[int] = DEFAULT_WEEKEND
    names: Mapping[date, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        both = self.holidays & self.workdays
        if both:
            raise CalendarDataError(f"days both holiday and make-up working day: {sorted(both)}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkCalendar:
        """Build from the assets JSON shape: {"holidays": [{"name", "days": [...]}], "workdays": [...]}."""
        holidays: set[date] = set()
        workdays: set[date] = set()
        names: dict[date, str] = {}
        try:
            for entry in data.get("holidays", []):
                if isinstance(entry, str):
                    holidays.add(date.fromisoformat(entry))
                    continue
                for d in _expand_days(entry["days"]):
                    holidays.add(d)
                    names[d] = str(entry.get("name", ""))
                for d in _expand_days(entry.get("workdays", [])):
                    workdays.add(d)
                    names[d] = f"{entry.get('name', '')}调休上班"
            for d in _expand_days(data.get("workdays", [])):
                workdays.add(d)
        except (KeyError, TypeError, ValueError) as exc:
            raise CalendarDataError(f"bad calendar data: {exc}") from exc
        weekend = frozenset(int(x) for x in data.get("weekend", sorted(DEFAULT_WEEKEND)))
        return cls(frozenset(holidays), frozenset(workdays), weekend, names)

    def merged(self, other: WorkCalendar) -> WorkCalendar:
        """This calendar with another's days added (e.g. 2026 + 2027, or national + a city's own)."""
        holidays = (self.holidays - other.workdays) | other.holidays
        workdays = (self.workdays - other.holidays) | other.workdays
        return WorkCalendar(
            frozenset(holidays), frozenset(workdays), self.weekend, {**self.names, **other.names}
        )

    def is_working_day(self, day: date) -> bool:
        """True when offices are open that day."""
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() not in self.weekend

    def next_working_day(self, day: date, *, include: bool = False) -> date:
        """The first working day after `day` (or `day` itself when include and it works)."""
        d = day if include else day + timedelta(days=1)
        for _ in range(400):
            if self.is_working_day(d):
                return d
            d += timedelta(days=1)
        raise CalendarDataError("no working day within 400 days")

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after start (n >= 0; n == 0 gives start's own or next working day)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        if n == 0:
            return self.next_working_day(start, include=True)
        d = start
        for _ in range(n):
            d = self.next_working_day(d)
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days lie in (start, end]; negative when end is before start."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(1 for d in _days(start + timedelta(days=1), end) if self.is_working_day(d))

    def working_days(self, start: date, end: date) -> Iterator[date]:
        """The working days in [start, end]."""
        return (d for d in _days(start, end) if self.is_working_day(d))


def _days(start: date, end: date) -> Iterator[date]:
    d = start
    while d <= end:
        yield d
        d += timedelta(days=1)


def _expand_days(items: Iterable[Any]) -> Iterator[date]:
    """ISO days or "YYYY-MM-DD/YYYY-MM-DD" inclusive ranges."""
    for item in items:
        text = str(item)
        if "/" in text:
            a, b = (date.fromisoformat(p) for p in text.split("/", 1))
            if b < a:
                raise CalendarDataError(f"range ends before it starts: {text}")
            yield from _days(a, b)
        else:
            yield date.fromisoformat(text)


# ---- appointment arithmetic -------------------------------------------------------------------


@dataclass(frozen=True)
class BookingRules:
    """A hall's booking rules; defaults follow common practice (see hall-conventions.md)."""

    min_days_ahead: int = 1
    max_working_days_ahead: int = 5
    cancel_min_hours: float = 2.0
    per_person_per_day: int = 1
    noshow_limit: int = 3
    noshow_window_days: int = 90
    block_days: int = 30
    checkin_before_minutes: int = 30
    checkin_after_minutes: int = 15
    fallback_normal_ticket: bool = True
    slot_minutes: int = 30

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> BookingRules:
        """Rules from a hall's policy mapping; unknown keys are ignored, missing ones keep defaults."""
        if not data:
            return cls()
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def bookable_days(today: date, cal: WorkCalendar, rules: BookingRules) -> list[date]:
    """The working days a booking may be made for, from `today`: min_days_ahead calendar days
    up to max_working_days_ahead working days ahead."""
    last = cal.add_working_days(today, rules.max_working_days_ahead)
    first = today + timedelta(days=rules.min_days_ahead)
    return list(cal.working_days(first, last))


def can_cancel(now: datetime, slot_start: datetime, rules: BookingRules) -> bool:
    """True while the slot starts at least cancel_min_hours after now."""
    return slot_start - now >= timedelta(hours=rules.cancel_min_hours)


def checkin_state(now: datetime, slot_start: datetime, rules: BookingRules) -> str:
    """'early', 'ok' or 'late' for a check-in at `now` against a slot's tolerance."""
    if now < slot_start - timedelta(minutes=rules.checkin_before_minutes):
        return "early"
    if now > slot_start + timedelta(minutes=rules.checkin_after_minutes):
        return "late"
    return "ok"


def noshow_block_until(noshow_days: Iterable[date], today: date, rules: BookingRules) -> date | None:
    """The day booking is allowed again, or None when the person is not blocked.

    Blocked when noshow_limit no-shows fall within any noshow_window_days; the block runs
    block_days from the no-show that reached the limit.
    """
    days = sorted(d for d in noshow_days if d <= today)
    if rules.noshow_limit <= 0 or len(days) < rules.noshow_limit:
        return None
    span = timedelta(days=rules.noshow_window_days)
    until: date | None = None
    for i in range(rules.noshow_limit - 1, len(days)):
        if days[i] - days[i - rules.noshow_limit + 1] < span:
            candidate = days[i] + timedelta(days=rules.block_days)
            until = candidate if until is None or candidate > until else until
    if until is not None and until > today:
        return until
    return None


def day_slots(opening_hours: Iterable[tuple[time, time]], slot_minutes: int) -> list[tuple[time, time]]:
    """Cut the opening hours into slots of slot_minutes (a trailing partial slot is dropped)."""
    if slot_minutes <= 0:
        raise ValueError("slot_minutes must be positive")
    out: list[tuple[time, time]] = []
    step = timedelta(minutes=slot_minutes)
    for start, end in opening_hours:
        t = datetime.combine(date(2000, 1, 1), start)
        stop = datetime.combine(date(2000, 1, 1), end)
        while t + step <= stop:
            out.append((t.time(), (t + step).time()))
            t += step
    return out
