"""Domain vocabulary: enums, the hall policy, halls, service items, queue groups, windows, tickets."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from . import const
from .errors import CallRefused, InvalidConfiguration

logger = logging.getLogger(__name__)

_PREFIX = re.compile(rf"^[A-Z]{{1,{const.PREFIX_MAX_LENGTH}}}$")


class HallLevel(StrEnum):
    """Level of a hall in the city's hierarchy, from the top down."""

    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"

    @property
    def depth(self) -> int:
        """0 for the city, 3 for a village station."""
        return list(HallLevel).index(self)

    @property
    def label_zh(self) -> str:
        return const.LEVEL_LABELS[self.value][0]


class WindowStatus(StrEnum):
    """Whether a window is taking visitors."""

    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"

    @property
    def label_zh(self) -> str:
        return const.WINDOW_STATUS_LABELS[self.value][0]


class TicketStatus(StrEnum):
    """Where a ticket is in its life."""

    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    SUSPENDED = "suspended"
    FINISHED = "finished"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    # Closed unserved when the business day ended (reason "day_end"): not the visitor's no-show.
    EXPIRED = "expired"

    @property
    def label_zh(self) -> str:
        return const.STATUS_LABELS[self.value][0]

    @property
    def label_en(self) -> str:
        return const.STATUS_LABELS[self.value][1]

    @property
    def is_terminal(self) -> bool:
        """Finished, no-show, cancelled and expired tickets never change again."""
        return self in TERMINAL_STATUSES

    @property
    def is_at_window(self) -> bool:
        """Called or being served: the ticket occupies a window."""
        return self in (TicketStatus.CALLED, TicketStatus.SERVING)


TERMINAL_STATUSES = frozenset(
    {TicketStatus.FINISHED, TicketStatus.NO_SHOW, TicketStatus.CANCELLED, TicketStatus.EXPIRED}
)
# Tickets the business day's end closes: everything not terminal yet.
OPEN_STATUSES = frozenset(
    {TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING, TicketStatus.SUSPENDED}
)


class Channel(StrEnum):
    """Where a ticket was taken."""

    KIOSK = "kiosk"
    WINDOW = "window"
    PHONE = "phone"


class GreenReason(StrEnum):
    """Why a visitor may use the green channel (绿色通道)."""

    ELDERLY = "elderly"
    DISABLED = "disabled"
    SERVICEMAN = "serviceman"
    PREGNANT = "pregnant"

    @property
    def label_zh(self) -> str:
        return const.GREEN_LABELS[self.value][0]


def check_prefix(prefix: str) -> str:
    """Return a valid queue-group prefix (1-2 capital letters) or raise InvalidConfiguration."""
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        raise InvalidConfiguration(
            "group.invalid_prefix",
            f"队列前缀“{prefix}”无效，应为1至{const.PREFIX_MAX_LENGTH}个大写字母",
            f"queue prefix {prefix!r} is invalid: use 1-{const.PREFIX_MAX_LENGTH} capital letters",
            prefix=str(prefix),
        )
    return prefix


@dataclass(frozen=True)
class HallPolicy:
    """A hall's queueing rules; defaults follow common practice (see hall-conventions.md)."""

    green_mode: str = "absolute"
    green_ratio: tuple[int, int] = const.DEFAULT_GREEN_RATIO
    recall_cap: int = const.DEFAULT_RECALL_CAP
    elderly_age: int = const.DEFAULT_ELDERLY_AGE
    appointment_first: bool = True
    daily_cap_per_group: int | None = None
    per_person_daily_limit: int | None = None
    opening_hours: tuple[tuple[time, time], ...] = ()
    number_width: int = const.DEFAULT_NUMBER_WIDTH
    wrap_at: int | None = None
    target_wait_minutes: int = const.DEFAULT_TARGET_WAIT_MINUTES
    allow_anonymous: bool = True
    calling_policy: str = "default"

    def __post_init__(self) -> None:
        def bad(field_name: str, why_zh: str, why_en: str) -> InvalidConfiguration:
            return InvalidConfiguration(
                "policy.invalid", f"大厅规则“{field_name}”无效：{why_zh}", f"policy {field_name}: {why_en}"
            )

        if self.green_mode not in const.GREEN_MODES:
            raise bad("green_mode", "应为 absolute 或 ratio", "must be 'absolute' or 'ratio'")
        ratio = tuple(self.green_ratio)
        if len(ratio) != 2 or any(not isinstance(n, int) or n < 1 for n in ratio):
            raise bad("green_ratio", "应为两个正整数", "must be two positive integers")
        object.__setattr__(self, "green_ratio", ratio)
        if self.recall_cap < 0:
            raise bad("recall_cap", "不能为负数", "cannot be negative")
        if not 0 < self.elderly_age < 150:
            raise bad("elderly_age", "超出范围", "out of range")
        for name in ("daily_cap_per_group", "per_person_daily_limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise bad(name, "应为正整数或不限", "must be a positive integer or None")
        if not 1 <= self.number_width <= 6:
            raise bad("number_width", "应在1到6之间", "must be between 1 and 6")
        if self.wrap_at is not None and self.wrap_at < 1:
            raise bad("wrap_at", "应为正整数或不回绕", "must be a positive integer or None")
        try:
            hours = tuple((_as_time(start), _as_time(end)) for start, end in self.opening_hours)
        except (TypeError, ValueError):
            raise bad(
                "opening_hours", "应为（开始, 结束）时间段列表", "must be (start, end) time pairs"
            ) from None
        for start, end in hours:
            if not (isinstance(start, time) and isinstance(end, time) and start < end):
                raise bad(
                    "opening_hours", "每段应为开始早于结束的时间", "each span must be (start < end) times"
                )
        object.__setattr__(self, "opening_hours", hours)

    def is_open_at(self, moment: datetime | time) -> bool:
        """True when tickets may be issued at this local wall time (no hours configured: always)."""
        if not self.opening_hours:
            return True
        t = moment.time() if isinstance(moment, datetime) else moment
        t = t.replace(tzinfo=None)
        return any(start <= t < end for start, end in self.opening_hours)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HallPolicy:
        """Build a policy from plain JSON-like data (times as "HH:MM")."""
        values = dict(data)
        if "opening_hours" in values:
            values["opening_hours"] = tuple(
                (_as_time(a), _as_time(b)) for a, b in values["opening_hours"] or ()
            )
        if "green_ratio" in values:
            values["green_ratio"] = tuple(values["green_ratio"])
        known = set(cls.__dataclass_fields__)
        unknown = set(values) - known
        if unknown:
            raise InvalidConfiguration(
                "policy.invalid",
                f"未知的大厅规则项：{', '.join(sorted(unknown))}",
                f"unknown policy fields: {', '.join(sorted(unknown))}",
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-like data (times as "HH:MM"), the inverse of from_dict."""
        return {
            "green_mode": self.green_mode,
            "green_ratio": list(self.green_ratio),
            "recall_cap": self.recall_cap,
            "elderly_age": self.elderly_age,
            "appointment_first": self.appointment_first,
            "daily_cap_per_group": self.daily_cap_per_group,
            "per_person_daily_limit": self.per_person_daily_limit,
            "opening_hours": [[a.strftime("%H:%M"), b.strftime("%H:%M")] for a, b in self.opening_hours],
            "number_width": self.number_width,
            "wrap_at": self.wrap_at,
            "target_wait_minutes": self.target_wait_minutes,
            "allow_anonymous": self.allow_anonymous,
            "calling_policy": self.calling_policy,
        }


def _as_time(value: time | str) -> time:
    """A time from a time or "HH:MM"."""
    return value if isinstance(value, time) else time.fromisoformat(value)


@dataclass(frozen=True)
class Hall:
    """A service hall or station; `parent_id` links it into the city's hierarchy."""

    id: str
    name: str
    level: HallLevel
    parent_id: str | None = None
    policy: HallPolicy = field(default_factory=HallPolicy)


@dataclass(frozen=True)
class ServiceGuide:
    """The service guide (办事指南) of an item: the published "eight unified" points."""

    main_item: str
    sub_item: str = ""
    legal_basis: tuple[str, ...] = ()
    time_limit: str = ""
    materials: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    fee: str = "不收费"
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Lists from JSON become tuples so a guide stays immutable and hashable.
        for name in ("legal_basis", "materials", "forms", "steps", "notes"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))


@dataclass(frozen=True)
class ServiceItem:
    """A service item (政务服务事项) defined once for the city and claimed by halls."""

    code: str
    name: str
    category: str
    department: str
    guide: ServiceGuide
    name_en: str = ""
    appointment_allowed: bool = True


@dataclass(frozen=True)
class QueueGroup:
    """A hall's queue for one or more service items, named by its prefix letter (A, B, ...)."""

    hall_id: str
    prefix: str
    name: str
    service_codes: frozenset[str] = frozenset()
    daily_cap: int | None = None

    def __post_init__(self) -> None:
        check_prefix(self.prefix)
        object.__setattr__(self, "service_codes", frozenset(self.service_codes))

    def serves(self, service_code: str) -> bool:
        """True when the item is queued in this group."""
        return service_code in self.service_codes


@dataclass(frozen=True)
class Window:
    """A service window: which groups it serves (prefix -> weight), its status and clerk."""

    id: int
    hall_id: str
    number: int
    name: str = ""
    groups: Mapping[str, int] = field(default_factory=dict, hash=False)
    status: WindowStatus = WindowStatus.CLOSED
    clerk_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", check_weights(self.groups))

    @property
    def is_comprehensive(self) -> bool:
        """A 综合窗口 serves more than one queue group."""
        return len(self.groups) > 1

    @property
    def can_call(self) -> bool:
        """Only an open window with a clerk logged in may call."""
        return self.status is WindowStatus.OPEN and bool(self.clerk_id)


def check_weights(groups: Mapping[str, int]) -> dict[str, int]:
    """Validate a window's weight table: prefixes valid, weights integers from 1 to MAX_GROUP_WEIGHT."""
    out: dict[str, int] = {}
    for prefix, weight in dict(groups).items():
        check_prefix(prefix)
        if (
            not isinstance(weight, int)
            or isinstance(weight, bool)
            or not 1 <= weight <= const.MAX_GROUP_WEIGHT
        ):
            raise InvalidConfiguration(
                "window.invalid_weight",
                f"队列“{prefix}”的权重应为1至{const.MAX_GROUP_WEIGHT}的整数，实际为“{weight}”",
                f"the weight of group {prefix} must be an integer from 1 to {const.MAX_GROUP_WEIGHT}, got {weight!r}",
                prefix=prefix,
            )
        out[prefix] = weight
    return out


def check_zone(zone: str | None) -> str | None:
    """A window's zone as stored: trimmed, None when empty; printable text of at most WINDOW_ZONE_MAX."""
    if zone is None:
        return None
    if not isinstance(zone, str):
        raise InvalidConfiguration(
            "window.invalid_zone", "窗口分区应为文字", "a window's zone must be text", zone=repr(zone)[:40]
        )
    text = zone.strip()
    if len(text) > const.WINDOW_ZONE_MAX or not text.isprintable():
        raise InvalidConfiguration(
            "window.invalid_zone",
            f"窗口分区应为不超过{const.WINDOW_ZONE_MAX}个字的文字（如“B区”），实际为“{text[:40]}”",
            f"a window's zone is printable text of at most {const.WINDOW_ZONE_MAX} characters, got {text[:40]!r}",
            zone=text[:40],
        )
    return text or None


def check_window_can_call(window: Window) -> None:
    """Raise CallRefused unless the window is open and has a clerk."""
    if window.status is not WindowStatus.OPEN:
        raise CallRefused(
            "window.not_open",
            f"{window.number}号窗口当前状态为“{window.status.label_zh}”，不能叫号",
            f"window {window.number} is {window.status.value}; it cannot call",
            window_id=window.id,
            status=window.status.value,
        )
    if not window.clerk_id:
        raise CallRefused(
            "window.no_clerk",
            f"{window.number}号窗口没有工作人员登录，不能叫号",
            f"no clerk is logged in at window {window.number}; it cannot call",
            window_id=window.id,
        )


@dataclass(frozen=True)
class Ticket:
    """A ticket as the domain sees it; the server keeps the same fields in its table."""

    id: int
    hall_id: str
    prefix: str
    seq: int
    number: str
    service_code: str
    business_day: date
    issued_order: int
    status: TicketStatus = TicketStatus.WAITING
    priority: bool = False
    green_reason: GreenReason | None = None
    appointment: bool = False
    window_id: int | None = None
    bound_window_id: int | None = None
    recall_count: int = 0
    transfer_count: int = 0
