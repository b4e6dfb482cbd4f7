"""Working-day calendars per city, read from assets/calendar and cached."""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall_server.const import CALENDAR_COUNTRY, CALENDAR_DIR_NAME
from hall_server.db.models import Hall
from queueing.calendar import WorkCalendar

logger = logging.getLogger(__name__)

CALENDAR_DIR = Path(__file__).resolve().parents[2] / "assets" / CALENDAR_DIR_NAME


@functools.lru_cache(maxsize=64)
def load_calendar(city: str | None, directory: Path = CALENDAR_DIR) -> WorkCalendar:
    """The national calendar for every year on file, with the city's own files merged over it."""
    cal = WorkCalendar()
    files = sorted(directory.glob(f"{CALENDAR_COUNTRY}-*.json"))
    if city:
        files += sorted(directory.glob(f"{city}-*.json"))
    for path in files:
        cal = cal.merged(WorkCalendar.from_dict(json.loads(path.read_text(encoding="utf-8"))))
    if not files:
        logger.warning("no calendar files in %s: weekends only", directory)
    return cal


def city_of(session: Session, hall_id: str) -> str | None:
    """The id of the city-level hall above hall_id (or the top of its tree)."""
    seen: set[str] = set()
    current: str | None = hall_id
    top: str | None = None
    while current and current not in seen:
        seen.add(current)
        row = session.execute(select(Hall.id, Hall.parent_id, Hall.level).where(Hall.id == current)).first()
        if row is None:
            break
        top = row.id
        if row.level == "city":
            return row.id
        current = row.parent_id
    return top


def calendar_for_hall(session: Session, hall_id: str) -> WorkCalendar:
    """The working-day calendar that applies to a hall."""
    return load_calendar(city_of(session, hall_id))
