"""Bearer-token principals and the checks of who may do what (401 vs 403, stable codes)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from hall_server import audit
from hall_server.catalog import Catalog
from hall_server.const import AU_TOKEN_CREATED, AU_TOKEN_REVOKED, DEVICE_ROLES, ROLES
from hall_server.db.models import ApiToken, User, Window
from hall_server.errors import ApiError
from hall_server.events import SYSTEM, Actor
from hall_server.passwords import new_token, token_hash

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


_RESOLVE = (
    select(
        _TOKENS.c.id,
        _TOKENS.c.role,
        _TOKENS.c.hall_id,
        _TOKENS.c.window_id,
        _TOKENS.c.user_id,
        _USERS.c.username,
        _USERS.c.name,
    )
    .select_from(_TOKENS.outerjoin(_USERS, _USERS.c.id == _TOKENS.c.user_id))
    .where(_TOKENS.c.token_hash == bindparam("h"), _TOKENS.c.revoked_at.is_(None))
)


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
        raise ApiError("auth.invalid", reason="expected 'Authorization: Bearer <token>'")
    return token


def resolve_token(session: Session | Connection, token: str) -> Principal | None:
    """The principal of a live token, or None."""
    row = session.execute(_RESOLVE, {"h": token_hash(token)}).first()
    return None if row is None else _principal(row)


def authenticate(conn: Session | Connection, token: str) -> Principal:
    """The principal of a live token; 401 auth.invalid for an unknown or revoked one."""
    principal = resolve_token(conn, token)
    if principal is None:
        raise ApiError("auth.invalid")
    return principal


def _principal(row: Sequence[Any]) -> Principal:
    """A Principal from a row in the column order of _RESOLVE."""
    token_id, role, hall_id, window_id, user_id, username, name = row
    return Principal(
        role=role,
        token_id=token_id,
        hall_id=hall_id,
        window_id=window_id,
        user_id=user_id,
        username=username,
        name=name or "",
    )


def create_token(
    session: Session,
    role: str,
    *,
    hall_id: str | None = None,
    window_id: int | None = None,
    user_id: int | None = None,
    label: str = "",
    actor: Actor | None = None,
) -> tuple[int, str]:
    """Store a new token (hashed) and return (id, plaintext); the plaintext is shown only once."""
    if role not in ROLES:
        raise ApiError("request.invalid", reason=f"unknown role {role!r}", roles=list(ROLES))
    if window_id is not None:
        win = session.execute(select(Window.hall_id).where(Window.id == window_id)).first()
        if win is None:
            raise ApiError("window.unknown", window_id=window_id)
        if hall_id is not None and hall_id != win.hall_id:
            raise ApiError("request.invalid", reason="the window is in another hall", window_id=window_id)
        hall_id = win.hall_id
    if role in ("kiosk", "display", "manager", "clerk") and not hall_id:
        raise ApiError("request.invalid", reason=f"a {role} token needs a hall")
    if role in ("rating", "clerk") and window_id is None:
        raise ApiError("request.invalid", reason=f"a {role} token needs a window")
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
            "revoked": r.revoked_at is not None,
        }
        for r in rows
    ]


# --- authorisation -------------------------------------------------------------------------
def require_roles(p: Principal, *roles: str) -> None:
    """403 auth.forbidden unless the principal has one of roles."""
    if p.role not in roles:
        raise ApiError("auth.forbidden", role=p.role, allowed=list(roles))


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
        raise ApiError("auth.wrong_hall", hall_id=hall_id)


def require_window_operator(p: Principal, window_id: int, window_hall_id: str, catalog: Catalog) -> None:
    """Only the clerk logged in at this window, a manager of its hall, or an admin."""
    if p.role == "clerk":
        if p.window_id != window_id:
            raise ApiError("auth.wrong_window", window_id=window_id, own_window_id=p.window_id)
        return
    if p.role in ("manager", "admin"):
        require_hall(p, window_hall_id, catalog)
        return
    raise ApiError("auth.forbidden", role=p.role)
