"""The catalogue (事项) and its service guide (办事指南, 八统一), hall overrides and work calendars."""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Interval
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from wire.base import WireIn, WireOut

Short = Annotated[str, Field(max_length=200)]
Text = Annotated[str, Field(max_length=2000)]
Phone = Annotated[str, Field(max_length=50, pattern=r"^[0-9+\-() 转,，、]*$")]
Days = Annotated[int, Interval(ge=0, le=3650)]
Count = Annotated[int, Interval(ge=0, le=99)]


class Material(WireIn):
    """One material to bring: how many originals and how many copies, never a bare 'original: yes'."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    originals: Count = 1
    copies: Count = 0
    note: Short = ""


class GuideIn(BaseModel):
    """A service item's guide as the city edits it: every field of the 八统一 guide."""

    # BaseModel itself (lint knows its list defaults are copied), deferred like WireIn.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Annotated[str, Field(min_length=1, max_length=200)]
    department: Short = ""
    category: Annotated[str, Field(max_length=100)] = ""
    legal_basis: Text = ""
    conditions: Text = ""
    materials: Annotated[list[Material], Field(max_length=50)] = []
    fee: Short = ""
    time_limit_days: Days | None = None
    promise_days: Days | None = None
    steps: Annotated[list[Short], Field(max_length=30)] = []
    forms: Annotated[list[Short], Field(max_length=30)] = []
    location: Short = ""
    consult_phone: Phone = ""
    complaint_phone: Phone = ""
    online_url: HttpUrl | Literal[""] = ""
    id_required: bool = False
    daily_cap: Annotated[int, Interval(ge=1, le=100000)] | None = None
    notes: Text = ""


class HallGuideIn(WireIn):
    """What a hall may set for itself on an item it handles (catalogue.HALL_FIELDS); null: the city's value."""

    model_config = ConfigDict(extra="forbid")

    location: Short | None = None
    consult_phone: Phone | None = None
    complaint_phone: Phone | None = None
    daily_cap: Annotated[int, Interval(ge=1, le=100000)] | None = None
    id_required: bool | None = None


class GuideVersionOut(WireOut):
    """One version of a guide in its history."""

    version: int
    valid_from: str
    changed_by: str
    name: str


class Holiday(BaseModel):
    """A named holiday: its days off and the weekend days worked instead (ISO dates or ranges a/b)."""

    # BaseModel itself (lint knows its list defaults are copied), deferred like WireIn.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Annotated[str, Field(min_length=1, max_length=50)]
    days: Annotated[list[Annotated[str, Field(max_length=21)]], Field(max_length=20)] = []
    workdays: Annotated[list[Annotated[str, Field(max_length=10)]], Field(max_length=10)] = []


class CalendarIn(WireIn):
    """A year's calendar as the city edits it."""

    model_config = ConfigDict(extra="forbid")

    holidays: Annotated[list[Holiday], Field(max_length=30)]
    verified: bool = False
    source: Text = ""


class CalendarOut(WireOut):
    """A year's calendar, where it comes from and whether someone checked it against the notice."""

    year: int
    region: str
    holidays: list[dict]
    verified: bool
    source: str
    origin: Literal["database", "file", "none"]
    updated_at: str | None
    updated_by: str


class CalendarYearOut(WireOut):
    """Whether a year has a verified calendar (the dashboard flags one that does not)."""

    year: int
    verified: bool
    origin: Literal["database", "file", "none"]
