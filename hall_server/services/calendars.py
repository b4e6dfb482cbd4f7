"""Working-day calendars per city: the city's edited years (database) over the files in assets/calendar.

A year's calendar comes from one place: the city's row in work_calendars when it has one (edited
on the dashboard, sent down to stations in the configuration snapshot), else the shipped files
(the national CN-<year>.json with the city's own <city>-<year>.json merged over it). Each year
says whether someone checked it against the State Council notice (`verified`); a year with no
calendar at all counts weekends only and is never verified. Deadlines that fall in a year
without a verified calendar are flagged (`unverified_years`), never silently trusted.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall_server import audit
from hall_server.auth import Principal, require_hall, require_not_station, require_roles
from hall_server.const import AU_CALENDAR_CHANGED, CALENDAR_COUNTRY, CALENDAR_DIR_NAME, CALENDAR_YEARS_SHOWN
from hall_server.db.models import Hall, WorkCalendarYear
from hall_server.errors import HallError
from queueing.calendar import CalendarDataError, WorkCalendar
from wire.catalogue import CalendarIn

if TYPE_CHECKING:
    from hall_server.context import ServerContext

logger = logging.getLogger(__name__)

CALENDAR_DIR = Path(__file__).resolve().parents[2] / "assets" / CALENDAR_DIR_NAME
YEAR_MIN, YEAR_MAX = 2000, 2100


@dataclass(frozen=True)
class YearCalendar:
    """One year's calendar data and where it comes from."""

    year: int
    data: dict[str, Any]
    verified: bool
    origin: str  # database | file | none
    source: str = ""
    updated_at: str | None = None
    updated_by: str = ""
    # The calendars laid one over the other in order (the national file, then the city's own).
    layers: tuple[dict[str, Any], ...] = ()

    def calendar(self) -> WorkCalendar:
        """This year's working-day calendar (the layers merged in order)."""
        cal = WorkCalendar()
        for layer in self.layers or ((self.data,) if self.data else ()):
            cal = cal.merged(WorkCalendar.from_dict(layer))
        return cal


@functools.lru_cache(maxsize=64)
def _file_year(city: str | None, year: int, directory: Path = CALENDAR_DIR) -> YearCalendar:
    """The shipped files of a year (national, then the city's own over it)."""
    holidays: list[Any] = []
    workdays: list[Any] = []
    verified = True
    sources: list[str] = []
    layers: list[dict[str, Any]] = []
    found = False
    names = [f"{CALENDAR_COUNTRY}-{year}.json"] + ([f"{city}-{year}.json"] if city else [])
    for name in names:
        path = directory / name
        if not path.is_file():
            continue
        found = True
        data = json.loads(path.read_text(encoding="utf-8"))
        layers.append({"holidays": data.get("holidays", []), "workdays": data.get("workdays", [])})
        holidays += data.get("holidays", [])
        workdays += data.get("workdays", [])
        verified = verified and bool(data.get("verified", True))
        if data.get("source"):
            sources.append(str(data["source"]))
    if not found:
        return YearCalendar(year, {}, False, "none")
    return YearCalendar(
        year,
        {"holidays": holidays, "workdays": workdays},
        verified,
        "file",
        "；".join(sources),
        layers=tuple(layers),
    )


def _file_years(directory: Path = CALENDAR_DIR) -> set[int]:
    years = set()
    for path in directory.glob("*-*.json"):
        tail = path.stem.rsplit("-", 1)[-1]
        if tail.isdigit():
            years.add(int(tail))
    return years


def load_calendar(city: str | None, directory: Path = CALENDAR_DIR) -> WorkCalendar:
    """The shipped files alone (no database): every year on file, the city's own over the national."""
    cal = WorkCalendar()
    for year in sorted(_file_years(directory)):
        yc = _file_year(city, year, directory)
        if yc.origin != "none":
            cal = cal.merged(yc.calendar())
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


def year_calendar(session: Session, city: str | None, year: int) -> YearCalendar:
    """The calendar of one year for a city: its edited row, else the files, else none."""
    row = session.get(WorkCalendarYear, (city or CALENDAR_COUNTRY, year))
    if row is not None:
        data = dict(row.data or {})
        return YearCalendar(
            year,
            data,
            bool(row.verified),
            "database",
            str(data.get("source", "")),
            row.updated_at.isoformat() if row.updated_at else None,
            row.updated_by,
        )
    return _file_year(city, year)


def _years(session: Session, city: str | None) -> set[int]:
    stored = session.scalars(
        select(WorkCalendarYear.year).where(WorkCalendarYear.region == (city or CALENDAR_COUNTRY))
    ).all()
    return _file_years() | set(stored)


def calendar_of_city(session: Session, city: str | None) -> WorkCalendar:
    """The working-day calendar of a city over every year it has (weekends only outside them)."""
    cal = WorkCalendar()
    for year in sorted(_years(session, city)):
        yc = year_calendar(session, city, year)
        if yc.origin != "none":
            cal = cal.merged(yc.calendar())
    return cal


def calendar_for_hall(session: Session, hall_id: str) -> WorkCalendar:
    """The working-day calendar that applies to a hall."""
    return calendar_of_city(session, city_of(session, hall_id))


def unverified_years(session: Session, hall_id: str, start: date, end: date) -> list[int]:
    """The years from start to end that have no verified calendar for the hall's city."""
    city = city_of(session, hall_id)
    return [y for y in range(start.year, end.year + 1) if not year_calendar(session, city, y).verified]


# --- use cases ---------------------------------------------------------------------------
def _city_for(ctx: ServerContext, p: Principal, hall_id: str | None) -> str | None:
    """The city whose calendar the caller reads or edits: their own (admins name a hall)."""
    target = hall_id or p.hall_id
    if target is None:
        with ctx.db.read() as s:
            return s.scalar(select(Hall.id).where(Hall.level == "city").order_by(Hall.id).limit(1))
    ctx.catalog.hall(target)
    with ctx.db.read() as s:
        return city_of(s, target)


def _view(city: str | None, yc: YearCalendar) -> dict[str, Any]:
    return {
        "year": yc.year,
        "region": city or CALENDAR_COUNTRY,
        "holidays": list(yc.data.get("holidays", [])),
        "verified": yc.verified,
        "source": yc.source,
        "origin": yc.origin,
        "updated_at": yc.updated_at,
        "updated_by": yc.updated_by,
    }


def _check_year(year: int) -> None:
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise HallError("calendar.invalid", year=year, message=f"年份须在 {YEAR_MIN}..{YEAR_MAX}")


def calendar_year(ctx: ServerContext, p: Principal, year: int, hall_id: str | None = None) -> dict[str, Any]:
    """Use case (manager): one year's calendar of the caller's city."""
    _require_manager(ctx, p, hall_id)
    _check_year(year)
    city = _city_for(ctx, p, hall_id)
    with ctx.db.read() as s:
        return _view(city, year_calendar(s, city, year))


def calendar_status(ctx: ServerContext, p: Principal, hall_id: str | None = None) -> list[dict[str, Any]]:
    """Use case (manager): this year and the next ones, each verified or not (the dashboard's flag)."""
    _require_manager(ctx, p, hall_id)
    city = _city_for(ctx, p, hall_id)
    this_year = ctx.now().year
    with ctx.db.read() as s:
        out = []
        for year in range(this_year, this_year + CALENDAR_YEARS_SHOWN):
            yc = year_calendar(s, city, year)
            out.append({"year": year, "verified": yc.verified, "origin": yc.origin})
        return out


def _require_manager(ctx: ServerContext, p: Principal, hall_id: str | None) -> None:
    require_roles(p, "admin", "manager")
    if hall_id is not None:
        ctx.catalog.hall(hall_id)
        require_hall(p, hall_id, ctx.catalog)


def save_calendar(ctx: ServerContext, p: Principal, year: int, body: CalendarIn) -> dict[str, Any]:
    """Use case (the city's managers, admins): store a year's calendar; audited; stations get it."""
    from hall_server.services.catalogue import require_catalogue_owner

    require_catalogue_owner(ctx, p)
    require_not_station(ctx, "calendar")
    _check_year(year)
    data = body.model_dump(mode="json")
    try:
        WorkCalendar.from_dict(data)
    except CalendarDataError as exc:
        raise HallError("calendar.invalid", reason=str(exc)) from None
    outside = sorted(
        d
        for h in data["holidays"]
        for d in (*h["days"], *h["workdays"])
        if not all(part[:4] == str(year) for part in d.split("/"))
    )
    if outside:
        raise HallError("calendar.invalid", reason="days outside the year", days=outside[:5])
    city = _city_for(ctx, p, None)
    region = city or CALENDAR_COUNTRY
    who = p.name or p.username or p.role
    with ctx.db.write() as s:
        before = year_calendar(s, city, year)
        row = s.get(WorkCalendarYear, (region, year))
        if row is None:
            row = WorkCalendarYear(region=region, year=year)
            s.add(row)
        row.data = {"holidays": data["holidays"], "source": data["source"]}
        row.verified = data["verified"]
        row.updated_at = ctx.now()
        row.updated_by = who
        audit.record(
            s,
            AU_CALENDAR_CHANGED,
            p.actor,
            region=region,
            year=year,
            verified={"from": before.verified, "to": data["verified"]},
            holidays=len(data["holidays"]),
        )
        s.flush()
        return _view(city, year_calendar(s, city, year))
