"""Per-hall settings of issue 5 (booking rules, follow-up days, alert thresholds), validated and merged over defaults."""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from hall_server import audit
from hall_server.auth import Principal, manager_scope, require_not_station
from hall_server.const import (
    AU_RULES_CHANGED,
    AU_SETTINGS_CHANGED,
    DEFAULT_ALERT_QUEUE_LENGTH,
    DEFAULT_FOLLOWUP_WORKING_DAYS,
    DEFAULT_NEAR_AHEAD,
    DEFAULT_SLOT_CAPACITY,
    EV_HALL_UPDATED,
    POLICY_ALERT_QUEUE,
    POLICY_ALERT_WAIT,
    POLICY_BOOKING,
    POLICY_DAY_END_GRACE,
    POLICY_FOLLOWUP_DAYS,
    POLICY_NEAR_AHEAD,
)
from hall_server.db.models import Hall, HallSettings
from hall_server.errors import HallError
from hall_server.events import Actor, append_event
from queueing.calendar import BookingRules
from queueing.dayend import DEFAULT_GRACE_MINUTES
from queueing.model import HallPolicy

if TYPE_CHECKING:
    from hall_server.context import ServerContext

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    POLICY_BOOKING: {**BookingRules().__dict__, "capacity": DEFAULT_SLOT_CAPACITY, "capacity_by_service": {}},
    POLICY_FOLLOWUP_DAYS: DEFAULT_FOLLOWUP_WORKING_DAYS,
    POLICY_ALERT_QUEUE: DEFAULT_ALERT_QUEUE_LENGTH,
    POLICY_ALERT_WAIT: None,  # None: the core policy's target_wait_minutes
    POLICY_NEAR_AHEAD: DEFAULT_NEAR_AHEAD,
    # Minutes after the last opening span ends before the day's open tickets are closed.
    POLICY_DAY_END_GRACE: DEFAULT_GRACE_MINUTES,
}
_INT_RANGES = {
    POLICY_FOLLOWUP_DAYS: (1, 60),
    POLICY_ALERT_QUEUE: (1, 10000),
    POLICY_NEAR_AHEAD: (0, 50),
    POLICY_DAY_END_GRACE: (0, 360),
}


def _invalid(reason: str, **detail: Any) -> HallError:
    return HallError(
        "request.invalid",
        message=f"大厅设置不正确：{reason}",
        message_en=f"invalid hall settings: {reason}",
        **detail,
    )


def settings_of(session: Session, hall_id: str) -> dict[str, Any]:
    """The effective settings of a hall: stored values over the defaults."""
    row = session.get(HallSettings, hall_id)
    stored = dict(row.settings or {}) if row else {}
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    for key, value in stored.items():
        if key == POLICY_BOOKING and isinstance(value, dict):
            out[POLICY_BOOKING].update(value)
        elif key in out:
            out[key] = value
    return out


# Every booking rule, its type and its bounds: a stored value is later used in date arithmetic,
# loops over days and the slot grid, so none may be a string, a float where a count is meant,
# infinite or absurdly large (a 500 then, or a loop over a million years).
_BOOKING_INTS = {
    "min_days_ahead": (0, 60),
    "max_working_days_ahead": (1, 120),
    "per_person_per_day": (1, 100),
    "noshow_limit": (1, 1000),
    "noshow_window_days": (1, 3660),
    "block_days": (0, 3660),
    "checkin_before_minutes": (0, 24 * 60),
    "checkin_after_minutes": (0, 24 * 60),
    "slot_minutes": (5, 24 * 60),
    "capacity": (0, 10000),
}
_BOOKING_NUMBERS = {"cancel_min_hours": (0.0, 24.0 * 60)}
_BOOKING_BOOLS = ("fallback_normal_ticket",)
CAPACITY_BY_SERVICE_MAX = 1000
SERVICE_CODE_MAX = 64
ALERT_WAIT_MAX_MINUTES = 24 * 60


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _check_int(key: str, value: Any, lo: int, hi: int, where: str) -> None:
    if not _is_int(value) or not lo <= value <= hi:
        raise _invalid(f"{where} 须为 {lo}..{hi} 的整数", key=key)


def _check_booking(value: Any) -> None:
    key = POLICY_BOOKING
    if not isinstance(value, dict):
        raise _invalid("booking 须为对象", key=key)
    extra = set(value) - set(DEFAULTS[POLICY_BOOKING])
    if extra:
        raise _invalid(f"未知预约规则 {', '.join(sorted(map(str, extra)))}", key=key)
    for name, item in value.items():
        if name in _BOOKING_INTS:
            _check_int(key, item, *_BOOKING_INTS[name], where=f"booking.{name}")
        elif name in _BOOKING_NUMBERS:
            lo, hi = _BOOKING_NUMBERS[name]
            if not _is_number(item) or not lo <= item <= hi:
                raise _invalid(f"booking.{name} 须为 {lo:g}..{hi:g} 的数", key=key)
        elif name in _BOOKING_BOOLS:
            if not isinstance(item, bool):
                raise _invalid(f"booking.{name} 须为 true 或 false", key=key)
        elif name == "capacity_by_service":
            if not isinstance(item, dict) or len(item) > CAPACITY_BY_SERVICE_MAX:
                raise _invalid(f"booking.{name} 须为至多 {CAPACITY_BY_SERVICE_MAX} 项的对象", key=key)
            for code, cap in item.items():
                if not 1 <= len(code) <= SERVICE_CODE_MAX:
                    raise _invalid(f"booking.{name} 的事项编码过长或为空", key=key)
                _check_int(key, cap, *_BOOKING_INTS["capacity"], where=f"booking.{name}.{code}")


def validate(patch: dict[str, Any]) -> dict[str, Any]:
    """Check a settings patch; raises request.invalid naming the bad key.

    Every value is checked for its type and bounds here, at the edge: a stored setting is read
    later by slot grids, alerts and the day's end, where a wrong type or a huge value would fail.
    """
    for key, value in patch.items():
        if key not in DEFAULTS:
            raise _invalid(f"未知设置项 {key}", key=key)
        if key in _INT_RANGES:
            _check_int(key, value, *_INT_RANGES[key], where=key)
        if (
            key == POLICY_ALERT_WAIT
            and value is not None
            and not (_is_number(value) and 0 < value <= ALERT_WAIT_MAX_MINUTES)
        ):
            raise _invalid(f"{key} 须为 0..{ALERT_WAIT_MAX_MINUTES} 的正数", key=key)
        if key == POLICY_BOOKING:
            _check_booking(value)
    return patch


def update_settings(
    session: Session, hall_id: str, patch: dict[str, Any], now: datetime, actor: Actor | None = None
) -> dict[str, Any]:
    """Merge a validated patch into the stored settings; returns the effective settings."""
    validate(patch)
    before = settings_of(session, hall_id)
    audit.record(
        session,
        AU_SETTINGS_CHANGED,
        actor,
        hall_id=hall_id,
        changes={k: {"from": before.get(k), "to": v} for k, v in patch.items()},
    )
    row = session.get(HallSettings, hall_id)
    if row is None:
        row = HallSettings(hall_id=hall_id, settings={}, updated_at=now)
        session.add(row)
    merged = dict(row.settings or {})
    for key, value in patch.items():
        if key == POLICY_BOOKING:
            merged[key] = {**(merged.get(key) or {}), **value}
        else:
            merged[key] = value
    row.settings = merged
    row.updated_at = now
    session.flush()
    return settings_of(session, hall_id)


def settings_for(ctx: ServerContext, p: Principal, hall_id: str) -> dict[str, Any]:
    """Use case: the hall's booking rules, follow-up days, alert thresholds and day end (its managers)."""
    manager_scope(ctx, p, hall_id, include_subtree=False)
    with ctx.db.read() as s:
        return settings_of(s, hall_id)


def change_settings(ctx: ServerContext, p: Principal, hall_id: str, patch: dict[str, Any]) -> dict[str, Any]:
    """Use case: change some of those settings (keys not given stay; unknown keys are refused)."""
    manager_scope(ctx, p, hall_id, include_subtree=False)
    require_not_station(ctx, "hall settings")
    with ctx.db.write() as s:
        return update_settings(s, hall_id, patch, ctx.now(), p.actor)


# --- hall rules: the core's policy, opening hours and notices, changed live -------------------
RULE_FIELDS = (
    "green_mode",
    "green_ratio",
    "recall_cap",
    "daily_cap_per_group",
    "per_person_daily_limit",
    "target_wait_minutes",
    "allow_anonymous",
)
NOTICES_MAX = 10
NOTICE_MAX_CHARS = 200
OPENING_SPANS_MAX = 4


def rules_of(session: Session, hall_id: str) -> dict[str, Any]:
    """A hall's rules as the rules page edits them, with its settings (booking rules among them)."""
    hall = session.get(Hall, hall_id)
    if hall is None:
        raise HallError("hall.unknown", hall_id=hall_id)
    data = HallPolicy.from_dict(dict(hall.policy or {})).to_dict()
    return {
        "hall_id": hall.id,
        "hall_name": hall.name,
        **{k: data[k] for k in RULE_FIELDS},
        "opening_hours": list(hall.opening_hours or []),
        "notices": list(hall.notices or []),
        "settings": settings_of(session, hall_id),
    }


def _check_rules(patch: dict[str, Any]) -> None:
    unknown = set(patch) - {*RULE_FIELDS, "opening_hours", "notices"}
    if unknown:
        raise _invalid(f"未知规则项 {', '.join(sorted(map(str, unknown)))}", key=sorted(unknown)[0])
    notices = patch.get("notices")
    if notices is not None and (
        not isinstance(notices, list)
        or len(notices) > NOTICES_MAX
        or any(not isinstance(n, str) or not n.strip() or len(n) > NOTICE_MAX_CHARS for n in notices)
    ):
        raise _invalid(f"公告至多 {NOTICES_MAX} 条，每条 1..{NOTICE_MAX_CHARS} 字", key="notices")
    hours = patch.get("opening_hours")
    if hours is not None:
        if not isinstance(hours, list) or len(hours) > OPENING_SPANS_MAX:
            raise _invalid(f"营业时间至多 {OPENING_SPANS_MAX} 段", key="opening_hours")
        spans = []
        for span in hours:
            if not (
                isinstance(span, list)
                and len(span) == 2
                and all(isinstance(t, str) and len(t) == 5 for t in span)
            ):
                raise _invalid("营业时间须为 [开始, 结束]（HH:MM）", key="opening_hours")
            spans.append(tuple(span))
        if any(a[1] > b[0] for a, b in zip(sorted(spans), sorted(spans)[1:], strict=False)):
            raise _invalid("营业时间段不能重叠", key="opening_hours")
    for key in ("recall_cap", "daily_cap_per_group", "per_person_daily_limit", "target_wait_minutes"):
        value = patch.get(key)
        if value is not None and not (_is_int(value) and 0 <= value <= 100000):
            raise _invalid(f"{key} 须为 0..100000 的整数", key=key)


def update_rules(
    session: Session, hall_id: str, patch: dict[str, Any], now: datetime, actor: Actor | None = None
) -> dict[str, Any]:
    """Apply a rules patch (validated by the core's HallPolicy), audited, announced as hall.updated."""
    _check_rules(patch)
    hall = session.get(Hall, hall_id)
    if hall is None:
        raise HallError("hall.unknown", hall_id=hall_id)
    before = rules_of(session, hall_id)
    policy = dict(hall.policy or {})
    policy.update({k: v for k, v in patch.items() if k in RULE_FIELDS})
    if "opening_hours" in patch:
        policy["opening_hours"] = patch["opening_hours"]
        hall.opening_hours = patch["opening_hours"]
    hall.policy = HallPolicy.from_dict(policy).to_dict()  # the core refuses what it cannot run
    if "notices" in patch:
        hall.notices = [n.strip() for n in patch["notices"]]
    audit.record(
        session,
        AU_RULES_CHANGED,
        actor,
        hall_id=hall_id,
        changes={k: {"from": before.get(k), "to": v} for k, v in patch.items() if before.get(k) != v},
    )
    session.flush()
    after = rules_of(session, hall_id)
    rules = {k: after[k] for k in (*RULE_FIELDS, "opening_hours", "notices")}
    append_event(
        session, hall_id, EV_HALL_UPDATED, {"hall": {"id": hall_id, "name": hall.name}, "rules": rules}, actor
    )
    return after


def hall_rules(ctx: ServerContext, p: Principal, hall_id: str) -> dict[str, Any]:
    """Use case (manager of the hall's subtree): the hall's rules and settings."""
    manager_scope(ctx, p, hall_id, include_subtree=False)
    with ctx.db.read() as s:
        return rules_of(s, hall_id)


def change_rules(ctx: ServerContext, p: Principal, hall_id: str, patch: dict[str, Any]) -> dict[str, Any]:
    """Use case: change the hall's rules; kiosks and displays hear hall.updated, no restart needed."""
    manager_scope(ctx, p, hall_id, include_subtree=False)
    require_not_station(ctx, "hall rules")
    settings_patch = patch.pop("settings", None)
    with ctx.db.write() as s:
        if settings_patch:
            if not isinstance(settings_patch, dict):
                raise _invalid("settings 须为对象", key="settings")
            update_settings(s, hall_id, settings_patch, ctx.now(), p.actor)
        out = update_rules(s, hall_id, patch, ctx.now(), p.actor)
    ctx.catalog.invalidate()
    return out
