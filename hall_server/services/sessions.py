"""Staff log-in and log-out: clerks bind to a window, managers and admins to their scope."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from hall_server.auth import Principal, create_token, revoke_token
from hall_server.const import EV_CLERK_LOGGED_IN, EV_CLERK_LOGGED_OUT
from hall_server.context import ServerContext
from hall_server.db.models import ApiToken, User, Window
from hall_server.errors import HallError
from hall_server.events import Actor, append_event
from hall_server.passwords import verify_password
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


def login(ctx: ServerContext, username: str, password: str, window_id: int | None) -> dict[str, Any]:
    """Check the password and hand out a token; a clerk takes over the chosen window."""
    with ctx.db.read() as s:
        user = s.execute(select(U).where(U.c.username == username, U.c.active.is_(True))).first()
    if user is None:
        verify_password(password, _DUMMY_HASH)
        raise HallError("auth.bad_credentials")
    if not verify_password(password, user.password_hash):
        raise HallError("auth.bad_credentials")
    with ctx.db.write() as s:
        window = None
        if user.role == "clerk":
            if window_id is None:
                raise HallError("auth.window_required")
            win = lock_window(s, window_id)
            if win.hall_id != user.hall_id:
                raise HallError("auth.wrong_hall", hall_id=win.hall_id)
            if win.clerk_id is not None and win.clerk_id != user.id:
                # The previous clerk's session at this window ends: one clerk per window.
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
            )
            window = window_out(ctx, s, win)
            append_event(
                s,
                win.hall_id,
                EV_CLERK_LOGGED_IN,
                {"clerk": {"id": user.id, "name": user.name}, "window": window},
                Actor("clerk", username),
            )
        else:
            token_id, token = create_token(
                s, user.role, hall_id=user.hall_id, user_id=user.id, label=f"login {username}"
            )
    return {
        "token": token,
        "token_id": token_id,
        "role": user.role,
        "clerk": user_view(user),
        "window": window,
    }


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
    """End this token; a clerk leaves the window (it keeps its status and queue)."""
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
