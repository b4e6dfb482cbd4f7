"""Staff log-in and log-out: clerks bind to a window, managers and admins to their scope."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from hall_server.auth import (
    Principal,
    create_token,
    require_not_station,
    revoke_token,
    revoke_user_sessions,
    successor_token,
    token_row,
)
from hall_server.const import (
    EV_AUTH_LOCKED,
    EV_AUTH_LOGIN,
    EV_AUTH_LOGIN_FAILED,
    EV_AUTH_PASSWORD_CHANGED,
    EV_CLERK_LOGGED_IN,
    EV_CLERK_LOGGED_OUT,
)
from hall_server.context import ServerContext
from hall_server.db.models import ApiToken, User, Window
from hall_server.errors import HallError
from hall_server.events import Actor, append_event
from hall_server.passwords import hash_password, password_problems, verify_password
from hall_server.services import sittings, throttle
from hall_server.services.windows import lock_window, window_out

logger = logging.getLogger(__name__)

U = User.__table__
W = Window.__table__
TK = ApiToken.__table__

# A fixed hash to spend the same time on unknown usernames (no user enumeration by timing).
_DUMMY_HASH = "scrypt$16384$8$1$00000000000000000000000000000000$" + "00" * 32


def user_view(row: Any) -> dict[str, Any]:
    """A staff member without secrets."""
    return {
        "id": row.id,
        "username": row.username,
        "name": row.name,
        "role": row.role,
        "hall_id": row.hall_id,
    }


def login(
    ctx: ServerContext, username: str, password: str, window_id: int | None, source: str = "unknown"
) -> dict[str, Any]:
    """Check the password and hand out an expiring session; a clerk takes over the chosen window.

    Failed attempts are counted per account and per source address: from a few failures on,
    an attempt is refused with 429 and Retry-After before the password is even checked, and
    after more the account is locked (423) for a while.
    """
    policy = ctx.settings.security
    now = _now()
    keys = [throttle.user_key(username), throttle.addr_key(source)]
    with ctx.db.read() as s:
        throttle.check(s, policy, keys, now)
        user = s.execute(select(U).where(U.c.username == username, U.c.active.is_(True))).first()
    if user is None:
        verify_password(password, _DUMMY_HASH)
        _failed(ctx, None, username, source, now)
        raise HallError("auth.bad_credentials")
    if not verify_password(password, user.password_hash):
        _failed(ctx, user, username, source, now)
        raise HallError("auth.bad_credentials")
    expires_at = now + timedelta(seconds=policy.session_absolute_s)
    idle_s = policy.idle_s(user.role)
    with ctx.db.write() as s:
        window = None
        if user.role == "clerk":
            if window_id is None:
                raise HallError("auth.window_required")
            win = lock_window(s, window_id)
            if win.hall_id != user.hall_id:
                raise HallError("auth.wrong_hall", hall_id=win.hall_id)
            # One clerk per window: another clerk's live session is never ended silently, and
            # a hall with a roster today admits only its rostered clerk (services/sittings.py).
            sittings.admit(ctx, s, user, win)
            if win.clerk_id is not None and win.clerk_id != user.id:
                # The previous clerk's session had lapsed: its token is closed for good.
                s.execute(
                    update(TK)
                    .where(TK.c.window_id == window_id, TK.c.role == "clerk", TK.c.revoked_at.is_(None))
                    .values(revoked_at=_now())
                )
            _leave_other_windows(ctx, s, user, window_id)
            s.execute(update(W).where(W.c.id == window_id).values(clerk_id=user.id))
            win = s.execute(select(W).where(W.c.id == window_id)).one()
            token_id, token = create_token(
                s,
                "clerk",
                hall_id=user.hall_id,
                window_id=window_id,
                user_id=user.id,
                label=f"login {username}",
                expires_at=expires_at,
                idle_s=idle_s,
            )
            window = window_out(ctx, s, win)
            # The audit record first: clients watch for clerk.logged_in as the window's news.
            _audit_login(ctx, s, user, source, token_id)
            append_event(
                s,
                win.hall_id,
                EV_CLERK_LOGGED_IN,
                {"clerk": {"id": user.id, "name": user.name}, "window": window},
                Actor("clerk", username),
            )
        else:
            token_id, token = create_token(
                s,
                user.role,
                hall_id=user.hall_id,
                user_id=user.id,
                label=f"login {username}",
                expires_at=expires_at,
                idle_s=idle_s,
            )
            _audit_login(ctx, s, user, source, token_id)
        throttle.clear(s, keys[0])
    return {
        "token": token,
        "token_id": token_id,
        "role": user.role,
        "clerk": user_view(user),
        "window": window,
        "expires_at": expires_at.isoformat(),
        "idle_s": idle_s,
    }


def _audit_login(ctx: ServerContext, s: Any, user: Any, source: str, token_id: int) -> None:
    """auth.login in the user's hall (the main hall for admins without one)."""
    hall_id = user.hall_id or _main_hall_id(ctx)
    if hall_id:
        append_event(
            s,
            hall_id,
            EV_AUTH_LOGIN,
            {"username": user.username, "role": user.role, "source": source, "token_id": token_id},
            Actor(user.role, user.username),
        )


def _main_hall_id(ctx: ServerContext) -> str | None:
    """The hall whose event log records what concerns no hall (admins, unknown usernames)."""
    hall = ctx.catalog.main_hall()
    return hall.id if hall else None


def _failed(ctx: ServerContext, user: Any, username: str, source: str, now: datetime) -> None:
    """Count a failed log-in for the account and the address; audit it, and the lock it causes."""
    policy = ctx.settings.security
    hall_id = (user.hall_id if user is not None else None) or _main_hall_id(ctx)
    with ctx.db.write() as s:
        failures, locked = throttle.record_failure(s, policy, throttle.user_key(username), hall_id, now)
        addr_failures, addr_locked = throttle.record_failure(
            s, policy, throttle.addr_key(source), hall_id, now
        )
        if hall_id is None:
            return
        # An unknown username is not echoed into the log: it is often a password typed in the wrong field.
        who = user.username if user is not None else None
        actor = Actor("anonymous", source)
        payload = {"username": who, "known_user": user is not None, "source": source, "failures": failures}
        append_event(s, hall_id, EV_AUTH_LOGIN_FAILED, payload, actor)
        for scope, until, count in (("user", locked, failures), ("addr", addr_locked, addr_failures)):
            if until is not None:
                append_event(
                    s,
                    hall_id,
                    EV_AUTH_LOCKED,
                    {
                        "scope": scope,
                        "username": who,
                        "source": source,
                        "failures": count,
                        "until": until.isoformat(),
                    },
                    actor,
                )
    logger.warning("failed log-in for %r from %s (%d in a row)", username[:100], source, failures)


def refresh(ctx: ServerContext, p: Principal) -> dict[str, Any]:
    """A new secret for this session and the old one revoked; the absolute lifetime is kept.

    Refreshing renews the idle clock and rotates the secret, but never extends the session
    beyond the lifetime set at log-in: after that the user logs in again.
    """
    if p.user_id is None:
        raise HallError("auth.forbidden", role=p.role, reason="only log-in sessions are refreshed")
    with ctx.db.write() as s:
        row = token_row(s, p.token_id)
        # A concurrent refresh of the same token already revoked it: only one of them wins.
        if row is None or not revoke_token(s, p.token_id):
            raise HallError("auth.invalid")
        token_id, token = successor_token(s, row)
    return _session_out(row, token_id, token)


def _session_out(row: Any, token_id: int, token: str) -> dict[str, Any]:
    expires_at = row.expires_at
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return {
        "token": token,
        "token_id": token_id,
        "role": row.role,
        "expires_at": expires_at.isoformat() if expires_at else None,
        "idle_s": row.idle_s,
    }


def require_strong_password(ctx: ServerContext, password: str, username: str, label: str = "密码") -> None:
    """Refuse a password the hall's policy rejects (422 auth.weak_password, naming every problem)."""
    policy = ctx.settings.security
    problems = password_problems(password, policy.password_min_length, policy.password_min_classes, username)
    if problems:
        raise HallError(
            "auth.weak_password",
            message=f"{label}不符合密码规则：" + "；".join(problems),
            problems=problems,
            min_length=policy.password_min_length,
            min_classes=policy.password_min_classes,
        )


def change_password(
    ctx: ServerContext, p: Principal, old: str, new: str, source: str = "unknown"
) -> dict[str, Any]:
    """Change one's own password: every session of the user ends, this one continues under a new token."""
    if p.user_id is None:
        raise HallError("auth.forbidden", role=p.role, reason="devices have no password")
    require_not_station(ctx, "staff accounts")
    policy = ctx.settings.security
    now = _now()
    with ctx.db.read() as s:
        user = s.execute(select(U).where(U.c.id == p.user_id)).first()
        if user is None:
            raise HallError("auth.invalid")
        throttle.check(s, policy, [throttle.user_key(user.username), throttle.addr_key(source)], now)
    if not verify_password(old, user.password_hash):
        # A stolen session must not become a way to guess the password: it counts as a failure.
        _failed(ctx, user, user.username, source, now)
        raise HallError("auth.bad_credentials")
    if new == old:
        raise HallError("auth.password_reused")
    require_strong_password(ctx, new, user.username, label="新密码")
    new_hash = hash_password(new)  # scrypt is slow on purpose: outside the transaction
    with ctx.db.write() as s:
        row = token_row(s, p.token_id)
        if row is None:
            raise HallError("auth.invalid")
        s.execute(update(U).where(U.c.id == user.id).values(password_hash=new_hash))
        ended = revoke_user_sessions(s, user.id)
        token_id, token = successor_token(s, row)
        throttle.clear(s, throttle.user_key(user.username))
        hall_id = user.hall_id or _main_hall_id(ctx)
        if hall_id:
            append_event(
                s,
                hall_id,
                EV_AUTH_PASSWORD_CHANGED,
                {"username": user.username, "sessions_ended": ended},
                p.actor,
            )
    return _session_out(row, token_id, token)


def _leave_other_windows(ctx: ServerContext, s: Any, user: Any, window_id: int) -> None:
    """A clerk sits at one window: logging in here ends the sessions at any other window."""
    s.execute(
        update(TK)
        .where(TK.c.user_id == user.id, TK.c.role == "clerk", TK.c.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
    others = s.execute(select(W).where(W.c.clerk_id == user.id, W.c.id != window_id)).all()
    for other in others:
        win = s.execute(update(W).where(W.c.id == other.id).values(clerk_id=None).returning(W)).one()
        append_event(
            s,
            win.hall_id,
            EV_CLERK_LOGGED_OUT,
            {"clerk": {"id": user.id, "name": user.name}, "window": window_out(ctx, s, win)},
            Actor("clerk", user.username),
        )


def logout(ctx: ServerContext, p: Principal) -> None:
    """End this token; a clerk leaves the window (it keeps its status and queue).

    Only a log-in session ends here: a device token (or a bare API token) is revoked by an admin or
    a manager of its hall, which the audit trail records (POST /tokens/{id}/revoke).
    """
    if p.user_id is None:
        raise HallError("auth.forbidden", role=p.role, reason="only log-in sessions log out")
    with ctx.db.write() as s:
        revoke_token(s, p.token_id)
        if p.role == "clerk" and p.window_id is not None:
            win = lock_window(s, p.window_id)
            if win.clerk_id == p.user_id:
                s.execute(update(W).where(W.c.id == win.id).values(clerk_id=None))
                win = s.execute(select(W).where(W.c.id == win.id)).one()
                append_event(
                    s,
                    win.hall_id,
                    EV_CLERK_LOGGED_OUT,
                    {"clerk": {"id": p.user_id, "name": p.name}, "window": window_out(ctx, s, win)},
                    p.actor,
                )


def me(ctx: ServerContext, p: Principal) -> dict[str, Any]:
    """Who the token belongs to."""
    out: dict[str, Any] = {
        "role": p.role,
        "hall_id": p.hall_id,
        "window_id": p.window_id,
        "user": None,
        "token_id": p.token_id,
    }
    if p.user_id is not None:
        with ctx.db.read() as s:
            row = s.execute(select(U).where(U.c.id == p.user_id)).first()
            out["user"] = user_view(row) if row else None
    return out


def _now() -> datetime:
    return datetime.now(UTC)
