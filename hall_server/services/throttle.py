"""Log-in throttling: back off and lock per account and per source address, kept in the database.

The counters live in the database (not in process memory) so that every worker of a city
server sees the same failures, and a restart does not reset a lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from hall_server.config import SecurityPolicy
from hall_server.const import DEFAULT_TIMEZONE, LOGIN_BACKOFF_MAX_S, LOGIN_FAILURE_WINDOW_S
from hall_server.db.models import LoginThrottle
from hall_server.db.upsert import upsert_returning
from hall_server.errors import HallError

logger = logging.getLogger(__name__)

T = LoginThrottle.__table__


@dataclass(frozen=True)
class Limits:
    """When one key starts backing off and when it is locked."""

    backoff_after: int
    lock_after: int


def user_key(username: str) -> str:
    """The throttle key of an account (usernames are compared as typed, lower-cased)."""
    return "user:" + username.strip().lower()[:150]


def addr_key(address: str) -> str:
    """The throttle key of a source address."""
    return "addr:" + address[:150]


def limits(policy: SecurityPolicy, key: str) -> Limits:
    """The limits of a key: an address may fail more often than one account."""
    if key.startswith("addr:"):
        return Limits(policy.login_addr_backoff_after, policy.login_addr_lock_after)
    return Limits(policy.login_backoff_after, policy.login_lock_after)


def _aware(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def backoff_s(failures: int, lim: Limits) -> int:
    """Seconds to wait after `failures` failures in a row: 0 below the limit, then 1, 2, 4 … (capped)."""
    if failures < lim.backoff_after:
        return 0
    return int(min(LOGIN_BACKOFF_MAX_S, 2 ** (failures - lim.backoff_after)))


def _refusal(code: str, retry_after: float, key: str) -> HallError:
    seconds = max(1, int(retry_after + 0.999))
    err = HallError(code, retry_after=seconds, scope=key.split(":", 1)[0])
    err.headers = {"Retry-After": str(seconds)}
    return err


def check(session: Session, policy: SecurityPolicy, keys: list[str], now: datetime) -> None:
    """Refuse a log-in attempt before its password is checked: 423 locked or 429 back off."""
    rows = session.execute(select(T).where(T.c.key.in_(keys))).all()
    for row in rows:
        last = _aware(row.last_failure_at)
        locked_until = _aware(row.locked_until)
        if locked_until is not None and now < locked_until:
            raise _refusal("auth.locked", (locked_until - now).total_seconds(), row.key)
        if last is None or now - last > timedelta(seconds=LOGIN_FAILURE_WINDOW_S):
            continue
        wait = backoff_s(row.failures, limits(policy, row.key))
        ready = last + timedelta(seconds=wait)
        if wait and now < ready:
            raise _refusal("auth.throttled", (ready - now).total_seconds(), row.key)


def record_failure(
    session: Session, policy: SecurityPolicy, key: str, hall_id: str | None, now: datetime
) -> tuple[int, datetime | None]:
    """Count one failure of key; returns (failures in a row, locked_until if this failure locked it)."""
    cutoff = now - timedelta(seconds=LOGIN_FAILURE_WINDOW_S)
    stmt = upsert_returning(
        session,
        T,
        {"key": key, "hall_id": hall_id, "failures": 1, "last_failure_at": now, "locked_until": None},
        index_elements=["key"],
        # An old streak (no failure within the window) starts again from one.
        set_={
            "failures": case((T.c.last_failure_at < cutoff, 1), else_=T.c.failures + 1),
            "last_failure_at": now,
            "hall_id": hall_id,
        },
        returning=T.c.failures,
    )
    failures = int(session.execute(stmt).scalar_one())
    # Streaks that ended long ago are forgotten, so guessed usernames do not pile up.
    session.execute(
        delete(T).where(T.c.last_failure_at < cutoff, (T.c.locked_until.is_(None)) | (T.c.locked_until < now))
    )
    if failures < limits(policy, key).lock_after:
        return failures, None
    until = now + timedelta(seconds=policy.login_lock_s)
    session.execute(update(T).where(T.c.key == key).values(locked_until=until))
    return failures, until


def clear(session: Session, key: str) -> None:
    """Forget the failures of key (a successful log-in of the account)."""
    session.execute(delete(T).where(T.c.key == key))


def login_alerts(session: Session, hall_id: str, now: datetime) -> list[dict[str, Any]]:
    """Dashboard alerts: accounts and addresses of this hall locked now after failed log-ins."""
    out = []
    rows = session.execute(
        select(T.c.key, T.c.locked_until, T.c.failures).where(
            T.c.hall_id == hall_id, T.c.locked_until.is_not(None)
        )
    ).all()
    for key, until, failures in rows:
        until = _aware(until)
        if until is None or until <= now:
            continue
        kind, _, who = key.partition(":")
        what_zh = f"账号 {who}" if kind == "user" else f"地址 {who}"
        out.append(
            {
                "code": "auth.locked",
                "level": "critical",
                "message": f"{what_zh} 连续登录失败 {failures} 次，已锁定至 {until.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).strftime('%H:%M')}",
                "message_en": f"{kind} {who} locked after {failures} failed log-ins",
                "detail": {"scope": kind, "who": who, "until": until.isoformat(), "failures": int(failures)},
            }
        )
    return out
