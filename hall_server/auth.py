"""Bearer-token principals and the checks of who may do what (401 vs 403, stable codes)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from hall_server import audit
from hall_server.catalog import Catalog
from hall_server.const import AU_TOKEN_CREATED, AU_TOKEN_REVOKED, DEVICE_ROLES, ROLES, SESSION_TOUCH_S
from hall_server.db.models import ApiToken, User, Window
from hall_server.errors import HallError
from hall_server.events import SYSTEM, Actor
from hall_server.passwords import new_token, token_hash
from queueing.hierarchy import subtree

if TYPE_CHECKING:
    from hall_server.context import ServerContext

logger = logging.getLogger(__name__)

_TOKENS = ApiToken.__table__
_USERS = User.__table__


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: role, the hall/window they are bound to, and the user behind a login."""

    role: str
    token_id: int
    hall_id: str | None = None
    window_id: int | None = None
    user_id: int | None = None
    username: str | None = None
    name: str = ""
    # The session's last_used_at is older than SESSION_TOUCH_S: the caller records this use.
    stale_use: bool = field(default=False, compare=False)

    @property
    def actor(self) -> Actor:
        """The audit-trail actor of this principal."""
        if self.role in DEVICE_ROLES:
            return Actor("device", f"{self.role}:{self.token_id}")
        return Actor(self.role, self.username or str(self.user_id))

    @property
    def is_device(self) -> bool:
        """Kiosks, displays and rating terminals."""
        return self.role in DEVICE_ROLES


_RESOLVE_BY = (
    select(
        _TOKENS.c.id,
        _TOKENS.c.role,
        _TOKENS.c.hall_id,
        _TOKENS.c.window_id,
        _TOKENS.c.user_id,
        _USERS.c.username,
        _USERS.c.name,
        _TOKENS.c.expires_at,
        _TOKENS.c.idle_s,
        _TOKENS.c.last_used_at,
        _TOKENS.c.created_at,
    )
    .select_from(_TOKENS.outerjoin(_USERS, _USERS.c.id == _TOKENS.c.user_id))
    .where(_TOKENS.c.revoked_at.is_(None))
)
_RESOLVE = _RESOLVE_BY.where(_TOKENS.c.token_hash == bindparam("h"))
_RESOLVE_ID = _RESOLVE_BY.where(_TOKENS.c.id == bindparam("id"))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None without one; 401 if malformed.

    The one parser of the header: the routes, the lean hot routes and the event socket all use it,
    so a malformed header gets the same answer (auth.invalid) everywhere.
    """
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    token = value.strip()
    if scheme.lower() != "bearer" or not token:
        raise HallError("auth.invalid", reason="expected 'Authorization: Bearer <token>'")
    return token


def resolve_token(session: Session | Connection, token: str) -> Principal | None:
    """The principal of a live, unexpired token, or None."""
    try:
        return authenticate(session, token)
    except HallError:
        return None


def authenticate(conn: Session | Connection, token: str, now: datetime | None = None) -> Principal:
    """The principal of a live token; 401 auth.invalid (unknown, revoked) or auth.expired (session)."""
    row = conn.execute(_RESOLVE, {"h": token_hash(token)}).first()
    if row is None:
        raise HallError("auth.invalid")
    return _principal(row, now or datetime.now(UTC))


def authenticate_id(conn: Session | Connection, token_id: int, now: datetime | None = None) -> Principal:
    """The principal of a live token by id (a redeemed socket ticket); 401 like authenticate."""
    row = conn.execute(_RESOLVE_ID, {"id": token_id}).first()
    if row is None:
        raise HallError("auth.invalid")
    return _principal(row, now or datetime.now(UTC))


def _aware(dt: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every time stored here is UTC.
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def _principal(row: Sequence[Any], now: datetime) -> Principal:
    """A Principal from a row in the column order of _RESOLVE; 401 auth.expired past its lifetime."""
    token_id, role, hall_id, window_id, user_id, username, name, expires_at, idle_s, last_used, created = row
    stale = False
    if expires_at is not None or idle_s is not None:
        expires_at = _aware(expires_at)
        last = _aware(last_used) or _aware(created) or now
        if expires_at is not None and now >= expires_at:
            raise HallError("auth.expired", reason="lifetime")
        if idle_s is not None and now - last >= timedelta(seconds=idle_s):
            raise HallError("auth.expired", reason="idle")
        # Touch at most once a minute, or a tenth of the idle time when that is shorter,
        # so a session in use never lapses for lack of a recorded use.
        touch_s = SESSION_TOUCH_S if idle_s is None else min(SESSION_TOUCH_S, idle_s / 10)
        stale = now - last >= timedelta(seconds=touch_s)
    return Principal(
        role=role,
        token_id=token_id,
        hall_id=hall_id,
        window_id=window_id,
        user_id=user_id,
        username=username,
        name=name or "",
        stale_use=stale,
    )


def touch_token(session: Session | Connection, token_id: int, now: datetime | None = None) -> None:
    """Record a use of a session (called at most once a SESSION_TOUCH_S per token)."""
    now = now or datetime.now(UTC)
    session.execute(
        update(_TOKENS)
        .where(_TOKENS.c.id == token_id, _TOKENS.c.revoked_at.is_(None))
        .values(last_used_at=now)
    )


def create_token(
    session: Session,
    role: str,
    *,
    hall_id: str | None = None,
    window_id: int | None = None,
    user_id: int | None = None,
    label: str = "",
    expires_at: datetime | None = None,
    idle_s: int | None = None,
    actor: Actor | None = None,
) -> tuple[int, str]:
    """Store a new token (hashed) and return (id, plaintext); the plaintext is shown only once.

    A session (from log-in) gives expires_at and idle_s; a device token gives neither and lives
    until it is rotated or revoked.
    """
    if role not in ROLES:
        raise HallError("request.invalid", reason=f"unknown role {role!r}", roles=list(ROLES))
    if window_id is not None:
        win = session.execute(select(Window.hall_id).where(Window.id == window_id)).first()
        if win is None:
            raise HallError("window.unknown", window_id=window_id)
        if hall_id is not None and hall_id != win.hall_id:
            raise HallError("request.invalid", reason="the window is in another hall", window_id=window_id)
        hall_id = win.hall_id
    if role in ("kiosk", "display", "manager", "clerk") and not hall_id:
        raise HallError("request.invalid", reason=f"a {role} token needs a hall")
    if role in ("rating", "clerk") and window_id is None:
        raise HallError("request.invalid", reason=f"a {role} token needs a window")
    token = new_token()
    token_id = session.execute(
        insert(_TOKENS)
        .values(
            token_hash=token_hash(token),
            role=role,
            hall_id=hall_id,
            window_id=window_id,
            user_id=user_id,
            label=label,
            created_at=datetime.now(UTC),
            expires_at=expires_at,
            idle_s=idle_s,
        )
        .returning(_TOKENS.c.id)
    ).scalar_one()
    # The secret never goes into the trail: only which token, for what, by whom.
    audit.record(
        session,
        AU_TOKEN_CREATED,
        actor or SYSTEM,
        hall_id=hall_id,
        token_id=int(token_id),
        role=role,
        window_id=window_id,
        user_id=user_id,
        label=label,
    )
    return int(token_id), token


def revoke_token(session: Session, token_id: int, actor: Actor | None = None) -> bool:
    """Revoke a token by id; False if it was unknown or already revoked."""
    row = session.execute(
        update(_TOKENS)
        .where(_TOKENS.c.id == token_id, _TOKENS.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
        .returning(_TOKENS.c.hall_id, _TOKENS.c.role)
    ).first()
    if row is None:
        return False
    audit.record(
        session, AU_TOKEN_REVOKED, actor or SYSTEM, hall_id=row.hall_id, token_id=token_id, role=row.role
    )
    return True


def token_row(session: Session, token_id: int) -> Any:
    """The row of a live token by id, or None."""
    return session.execute(
        select(_TOKENS).where(_TOKENS.c.id == token_id, _TOKENS.c.revoked_at.is_(None))
    ).first()


def rotate_token(session: Session, token_id: int) -> tuple[int, str] | None:
    """Replace a live device token by a new one with the same binding; None if it is not live.

    The old secret stops working in the same transaction, so a leaked copy is useless at once.
    """
    row = token_row(session, token_id)
    if row is None:
        return None
    revoke_token(session, token_id)
    return successor_token(session, row)


def successor_token(session: Session, row: Any) -> tuple[int, str]:
    """A new token with the binding and deadline of a token row (rotation, refresh, password change)."""
    return create_token(
        session,
        row.role,
        hall_id=row.hall_id,
        window_id=row.window_id,
        user_id=row.user_id,
        label=row.label,
        expires_at=row.expires_at,
        idle_s=row.idle_s,
    )


def revoke_user_sessions(session: Session, user_id: int, keep_token_id: int | None = None) -> int:
    """Revoke every live token of a user (password change); returns how many."""
    cond = [_TOKENS.c.user_id == user_id, _TOKENS.c.revoked_at.is_(None)]
    if keep_token_id is not None:
        cond.append(_TOKENS.c.id != keep_token_id)
    result = session.execute(update(_TOKENS).where(*cond).values(revoked_at=datetime.now(UTC)))
    return int(result.rowcount or 0)


def list_tokens(session: Session) -> list[dict[str, Any]]:
    """Every token without its secret."""
    rows = session.execute(select(_TOKENS).order_by(_TOKENS.c.id)).all()
    return [
        {
            "id": r.id,
            "role": r.role,
            "hall_id": r.hall_id,
            "window_id": r.window_id,
            "user_id": r.user_id,
            "label": r.label,
            "created_at": r.created_at.isoformat() if r.created_at else None,
            "expires_at": r.expires_at.isoformat() if r.expires_at else None,
            "revoked": r.revoked_at is not None,
        }
        for r in rows
    ]


# --- authorisation -------------------------------------------------------------------------
MANAGER_ROLES = ("manager", "admin")


def visible_halls(ctx: ServerContext, p: Principal) -> list[str]:
    """Halls a principal may see: admin every hall, a manager their subtree, others their own hall."""
    parents = ctx.catalog.parents()
    if p.role == "admin":
        return sorted(parents)
    if p.hall_id is None:
        return []
    if p.role == "manager":
        return subtree(p.hall_id, parents)
    return [p.hall_id]


def manager_scope(ctx: ServerContext, p: Principal, hall_id: str, include_subtree: bool = True) -> list[str]:
    """The halls a manager's request about hall_id covers; 403 outside the manager's own subtree."""
    require_roles(p, *MANAGER_ROLES)
    ctx.catalog.hall(hall_id)  # 404 hall.unknown first
    require_hall(p, hall_id, ctx.catalog)
    return subtree(hall_id, ctx.catalog.parents()) if include_subtree else [hall_id]


def require_roles(p: Principal, *roles: str) -> None:
    """403 auth.forbidden unless the principal has one of roles."""
    if p.role not in roles:
        raise HallError("auth.forbidden", role=p.role, allowed=list(roles))


def can_access_hall(p: Principal, hall_id: str, catalog: Catalog) -> bool:
    """Admins see every hall, managers their subtree, everyone else their own hall."""
    if p.role == "admin":
        return True
    if p.hall_id is None:
        return False
    if p.role == "manager":
        return catalog.in_subtree(hall_id, p.hall_id)
    return p.hall_id == hall_id


def require_hall(p: Principal, hall_id: str, catalog: Catalog) -> None:
    """403 auth.wrong_hall unless the principal may access the hall."""
    if not can_access_hall(p, hall_id, catalog):
        raise HallError("auth.wrong_hall", hall_id=hall_id)


def require_window_operator(p: Principal, window_id: int, window_hall_id: str, catalog: Catalog) -> None:
    """Only the clerk logged in at this window, a manager of its hall, or an admin."""
    if p.role == "clerk":
        if p.window_id != window_id:
            raise HallError("auth.wrong_window", window_id=window_id, own_window_id=p.window_id)
        return
    if p.role in ("manager", "admin"):
        require_hall(p, window_hall_id, catalog)
        return
    raise HallError("auth.forbidden", role=p.role)


def require_not_station(ctx: ServerContext, what: str) -> None:
    """409 sync.managed_by_city at a station: the city owns this (catalogue, settings, staff,
    tokens, follow-up cases) and sends it down; a station only applies it (docs/sync.md)."""
    if ctx.settings.station_mode:
        raise HallError("sync.managed_by_city", what=what)
