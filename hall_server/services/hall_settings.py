"""Per-hall settings of issue 5 (booking rules, follow-up days, alert thresholds), validated and merged over defaults."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from hall_server import audit
from hall_server.auth import Principal, manager_scope
from hall_server.const import (
    AU_SETTINGS_CHANGED,
    DEFAULT_ALERT_QUEUE_LENGTH,
    DEFAULT_FOLLOWUP_WORKING_DAYS,
    DEFAULT_NEAR_AHEAD,
    DEFAULT_SLOT_CAPACITY,
    POLICY_ALERT_QUEUE,
    POLICY_ALERT_WAIT,
    POLICY_BOOKING,
    POLICY_DAY_END_GRACE,
    POLICY_FOLLOWUP_DAYS,
    POLICY_NEAR_AHEAD,
)
from hall_server.db.models_ext import HallExtSettings
from hall_server.errors import HallError
from hall_server.events import Actor
from queueing.calendar import BookingRules
from queueing.dayend import DEFAULT_GRACE_MINUTES

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
    row = session.get(HallExtSettings, hall_id)
    stored = dict(row.settings or {}) if row else {}
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    for key, value in stored.items():
        if key == POLICY_BOOKING and isinstance(value, dict):
            out[POLICY_BOOKING].update(value)
        elif key in out:
            out[key] = value
    return out


def validate(patch: dict[str, Any]) -> dict[str, Any]:
    """Check a settings patch; raises request.invalid naming the bad key."""
    for key, value in patch.items():
        if key not in DEFAULTS:
            raise _invalid(f"未知设置项 {key}", key=key)
        if key in _INT_RANGES:
            lo, hi = _INT_RANGES[key]
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise _invalid(f"{key} 须为 {lo}..{hi} 的整数", key=key)
        if (
            key == POLICY_ALERT_WAIT
            and value is not None
            and not (isinstance(value, int | float) and value > 0)
        ):
            raise _invalid(f"{key} 须为正数", key=key)
        if key == POLICY_BOOKING:
            if not isinstance(value, dict):
                raise _invalid("booking 须为对象", key=key)
            extra = set(value) - set(DEFAULTS[POLICY_BOOKING])
            if extra:
                raise _invalid(f"未知预约规则 {', '.join(sorted(extra))}", key=key)
            try:
                rules = BookingRules.from_dict(
                    {k: v for k, v in value.items() if k in BookingRules.__dataclass_fields__}
                )
            except TypeError as exc:
                raise _invalid(str(exc), key=key) from exc
            if rules.slot_minutes <= 0 or rules.max_working_days_ahead < 1 or rules.min_days_ahead < 0:
                raise _invalid("预约时段与提前天数须为正", key=key)
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
    row = session.get(HallExtSettings, hall_id)
    if row is None:
        row = HallExtSettings(hall_id=hall_id, settings={}, updated_at=now)
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
    with ctx.db.write() as s:
        return update_settings(s, hall_id, patch, ctx.now(), p.actor)
