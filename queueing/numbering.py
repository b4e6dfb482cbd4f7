"""Ticket numbers (prefix + digits) and the business day they belong to."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from . import const
from .errors import InvalidConfiguration
from .model import check_prefix

logger = logging.getLogger(__name__)

_NUMBER = re.compile(rf"^([A-Z]{{1,{const.PREFIX_MAX_LENGTH}}})(\d+)$")


def display_seq(seq: int, wrap_at: int | None = None) -> int:
    """The number shown for counter value `seq`: itself, or wrapped back to 1 after `wrap_at`."""
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise InvalidConfiguration(
            "number.invalid_seq",
            f"票号序号应为正整数，实际为“{seq}”",
            f"a ticket sequence must be a positive integer, got {seq!r}",
        )
    if wrap_at is None:
        return seq
    return (seq - 1) % wrap_at + 1


def format_number(
    prefix: str, seq: int, width: int = const.DEFAULT_NUMBER_WIDTH, wrap_at: int | None = None
) -> str:
    """A001 for (A, 1); A999 is followed by A1000 unless the hall wraps (then A001 again)."""
    check_prefix(prefix)
    return f"{prefix}{display_seq(seq, wrap_at):0{width}d}"


def parse_number(number: str) -> tuple[str, int]:
    """Split A001 into ("A", 1); raise InvalidConfiguration for anything else."""
    m = _NUMBER.match(number.strip().upper()) if isinstance(number, str) else None
    if not m:
        raise InvalidConfiguration(
            "number.invalid",
            f"票号“{number}”格式无效，应为字母加数字，如A001",
            f"ticket number {number!r} is invalid; expected letters and digits such as A001",
        )
    return m.group(1), int(m.group(2))


def _zone(tz: tzinfo | str | None) -> tzinfo | None:
    if tz is None or isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (KeyError, ValueError) as exc:
        raise InvalidConfiguration(
            "hall.invalid_timezone", f"时区“{tz}”无效", f"time zone {tz!r} is unknown"
        ) from exc


def business_day(
    now: datetime, tz: tzinfo | str | None = "Asia/Shanghai", day_starts: time = time(0)
) -> date:
    """The hall's business day for `now`: the local date, counted from `day_starts` (naive = local)."""
    zone = _zone(tz)
    local = now.astimezone(zone) if (now.tzinfo is not None and zone is not None) else now
    local = local.replace(tzinfo=None)
    start = datetime.combine(local.date(), day_starts)
    return local.date() if local >= start else local.date() - timedelta(days=1)


def counter_key(hall_id: str, prefix: str, day: date) -> tuple[str, str, str]:
    """The key of the daily counter a number is drawn from: (hall, prefix, ISO day)."""
    return (hall_id, check_prefix(prefix), day.isoformat())
