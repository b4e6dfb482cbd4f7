"""Staff accounts managed from the dashboard: clerks and managers of the manager's subtree.

Every change is recorded in the audit trail of the staff member's hall. An account may later be
bound to an external identity (`external_subject`, single sign-on); nothing here needs it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from hall_server import audit
from hall_server.auth import (
    MANAGER_ROLES,
    Principal,
    require_hall,
    require_not_station,
    require_roles,
    revoke_user_sessions,
    visible_halls,
)
from hall_server.const import (
    AU_STAFF_CHANGED,
    AU_STAFF_CREATED,
    AU_STAFF_PASSWORD_RESET,
    EV_CLERK_LOGGED_OUT,
    STAFF_ROLES,
)
from hall_server.context import ServerContext
from hall_server.db.models import User, Window
from hall_server.errors import HallError
from hall_server.events import append_event
from hall_server.passwords import hash_password
from hall_server.services.sessions import require_strong_password
from hall_server.services.windows import window_out

logger = logging.getLogger(__name__)

U = User.__table__
W = Window.__table__
# A listing reads whether there is a photo, not the photo.
_LISTED = [c for c in U.c if c.name != "photo_enc"] + [U.c.photo_enc.is_not(None).label("has_photo")]


@dataclass(frozen=True)
class StaffInput:
    """A new staff member."""

    username: str
    name: str
    role: str
    hall_id: str
    password: str
    staff_number: str | None = None


@dataclass(frozen=True)
class StaffPatch:
    """Changes to a staff member (None: unchanged; an empty staff_number clears it)."""

    name: str | None = None
    role: str | None = None
    hall_id: str | None = None
    active: bool | None = None
    staff_number: str | None = None


def staff_view(ctx: ServerContext, row: Any) -> dict[str, Any]:
    """A staff member as managers see it: names, never the password hash."""
    hall_name = ""
    if row.hall_id:
        try:
            hall_name = ctx.catalog.hall(row.hall_id).name
        except HallError:
            hall_name = row.hall_id
    return {
        "id": row.id,
        "username": row.username,
        "name": row.name,
        "role": row.role,
        "hall_id": row.hall_id,
        "hall_name": hall_name,
        "active": bool(row.active),
        "sso_linked": row.external_subject is not None,
        "staff_number": row.staff_number,
        "has_photo": bool(row.has_photo) if "has_photo" in row._mapping else row.photo_enc is not None,
    }


def _check_number_free(s: Session, staff_number: str | None, user_id: int | None = None) -> None:
    """409 staff.number_taken when another account already has this 工号 (the city's, one list)."""
    if not staff_number:
        return
    stmt = select(U.c.id).where(U.c.staff_number == staff_number)
    if user_id is not None:
        stmt = stmt.where(U.c.id != user_id)
    if s.execute(stmt.limit(1)).first() is not None:
        raise HallError("staff.number_taken", staff_number=staff_number)


def list_staff(ctx: ServerContext, p: Principal, hall_id: str | None = None) -> list[dict[str, Any]]:
    """Use case: clerks and managers of the caller's subtree (or of one hall in it)."""
    require_roles(p, *MANAGER_ROLES)
    halls = visible_halls(ctx, p)
    if hall_id is not None:
        ctx.catalog.hall(hall_id)
        require_hall(p, hall_id, ctx.catalog)
        halls = [hall_id]
    with ctx.db.read() as s:
        rows = s.execute(
            select(*_LISTED)
            .where(U.c.hall_id.in_(halls), U.c.role.in_(STAFF_ROLES))
            .order_by(U.c.hall_id, U.c.role, U.c.username)
        ).all()
    return [staff_view(ctx, r) for r in rows]


def staff_in_scope(ctx: ServerContext, p: Principal, s: Session, user_id: int) -> Any:
    """The staff row the caller may manage; 404 staff.unknown outside the subtree (not even its existence)."""
    require_roles(p, *MANAGER_ROLES)
    row = s.execute(select(U).where(U.c.id == user_id)).first()
    if row is None or row.role not in STAFF_ROLES or row.hall_id not in visible_halls(ctx, p):
        raise HallError("staff.unknown", user_id=user_id)
    return row


def _check_target(ctx: ServerContext, p: Principal, role: str, hall_id: str) -> None:
    if role not in STAFF_ROLES:
        raise HallError("request.invalid", reason="role must be clerk or manager", roles=list(STAFF_ROLES))
    ctx.catalog.hall(hall_id)
    require_hall(p, hall_id, ctx.catalog)


def create_staff(ctx: ServerContext, p: Principal, new: StaffInput) -> dict[str, Any]:
    """Use case: a clerk or manager in a hall of the caller's subtree, audited."""
    require_roles(p, *MANAGER_ROLES)
    _check_target(ctx, p, new.role, new.hall_id)
    require_not_station(ctx, "staff accounts")
    require_strong_password(ctx, new.password, new.username)
    pw_hash = hash_password(new.password)  # slow on purpose: outside the transaction
    with ctx.db.write() as s:
        taken = s.execute(
            select(func.count()).select_from(U).where(U.c.username == new.username)
        ).scalar_one()
        if taken:
            raise HallError("staff.username_taken", username=new.username)
        _check_number_free(s, new.staff_number)
        user_id = s.execute(
            insert(U)
            .values(
                username=new.username,
                name=new.name,
                role=new.role,
                hall_id=new.hall_id,
                password_hash=pw_hash,
                active=True,
                staff_number=new.staff_number or None,
            )
            .returning(U.c.id)
        ).scalar_one()
        audit.record(
            s,
            AU_STAFF_CREATED,
            p.actor,
            hall_id=new.hall_id,
            user_id=int(user_id),
            username=new.username,
            role=new.role,
            staff_number=new.staff_number or None,
        )
        row = s.execute(select(U).where(U.c.id == user_id)).one()
    logger.info("staff %s (%s) created in %s by %s", new.username, new.role, new.hall_id, p.actor)
    return staff_view(ctx, row)


def update_staff(ctx: ServerContext, p: Principal, user_id: int, patch: StaffPatch) -> dict[str, Any]:
    """Use case: rename, change role or hall, disable or enable; disabling ends every session."""
    with ctx.db.read() as s:
        before = staff_in_scope(ctx, p, s, user_id)
    role = patch.role or before.role
    hall_id = patch.hall_id or before.hall_id
    _check_target(ctx, p, role, hall_id)
    if user_id == p.user_id and (patch.active is False or role != before.role or hall_id != before.hall_id):
        raise HallError("staff.self")
    require_not_station(ctx, "staff accounts")
    values: dict[str, Any] = {}
    for key, value in (("name", patch.name), ("role", role), ("hall_id", hall_id), ("active", patch.active)):
        if value is not None and value != getattr(before, key):
            values[key] = value
    if patch.staff_number is not None and (patch.staff_number or None) != before.staff_number:
        values["staff_number"] = patch.staff_number or None
    with ctx.db.write() as s:
        staff_in_scope(ctx, p, s, user_id)
        _check_number_free(s, values.get("staff_number"), user_id)
        if values:
            s.execute(update(U).where(U.c.id == user_id).values(**values))
        ended = 0
        # A disabled account, or one moved to another hall or role, keeps no session or window.
        if values.keys() & {"active", "role", "hall_id"} and not (
            values.get("active") is True and len(values) == 1
        ):
            ended = revoke_user_sessions(s, user_id)
            _leave_windows(ctx, s, p, before)
        if values:
            audit.record(
                s,
                AU_STAFF_CHANGED,
                p.actor,
                hall_id=before.hall_id,
                user_id=user_id,
                username=before.username,
                changes={k: {"from": getattr(before, k), "to": v} for k, v in values.items()},
                sessions_ended=ended,
            )
            if hall_id != before.hall_id:
                audit.record(
                    s,
                    AU_STAFF_CHANGED,
                    p.actor,
                    hall_id=hall_id,
                    user_id=user_id,
                    username=before.username,
                    changes={"hall_id": {"from": before.hall_id, "to": hall_id}},
                )
        row = s.execute(select(U).where(U.c.id == user_id)).one()
    return staff_view(ctx, row)


def _leave_windows(ctx: ServerContext, s: Session, p: Principal, user: Any) -> None:
    """The account's windows are freed (its clerk.logged_out tells the clerk terminal)."""
    for win in s.execute(select(W).where(W.c.clerk_id == user.id)).all():
        freed = s.execute(update(W).where(W.c.id == win.id).values(clerk_id=None).returning(W)).one()
        append_event(
            s,
            freed.hall_id,
            EV_CLERK_LOGGED_OUT,
            {
                "clerk": {"id": user.id, "name": user.name},
                "window": window_out(ctx, s, freed),
                "reason": "account_changed",
            },
            p.actor,
        )


def reset_password(ctx: ServerContext, p: Principal, user_id: int, password: str) -> dict[str, Any]:
    """Use case: a manager sets a new password; every session of the account ends."""
    with ctx.db.read() as s:
        row = staff_in_scope(ctx, p, s, user_id)
    require_not_station(ctx, "staff accounts")
    require_strong_password(ctx, password, row.username)
    pw_hash = hash_password(password)
    with ctx.db.write() as s:
        staff_in_scope(ctx, p, s, user_id)
        s.execute(update(U).where(U.c.id == user_id).values(password_hash=pw_hash))
        ended = revoke_user_sessions(s, user_id)
        _leave_windows(ctx, s, p, row)
        audit.record(
            s,
            AU_STAFF_PASSWORD_RESET,
            p.actor,
            hall_id=row.hall_id,
            user_id=user_id,
            username=row.username,
            sessions_ended=ended,
        )
        row = s.execute(select(U).where(U.c.id == user_id)).one()
    return staff_view(ctx, row)
