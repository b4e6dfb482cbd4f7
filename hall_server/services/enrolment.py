"""Devices registered from the dashboard: a one-time enrolment code a new device exchanges for its token.

A manager registers a kiosk, display or rating terminal and gets a short code (and a QR of it);
the device, at its first start, sends the code (POST /devices/enrol) and receives its own device
token, which only it ever sees. Codes are stored hashed, expire after ENROL_CODE_TTL_S and work
once. Rotating and revoking the token afterwards is services/tokens.py.
"""

from __future__ import annotations

import hashlib
import io
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from hall_server import audit
from hall_server.auth import Principal, create_token, manager_scope, require_not_station
from hall_server.const import (
    AU_DEVICE_ENROLLED,
    AU_ENROLMENT_ISSUED,
    DEVICE_ROLES,
    ENROL_CODE_ALPHABET,
    ENROL_CODE_LENGTH,
    ENROL_CODE_TTL_S,
    STATION_ID_SPAN,
)
from hall_server.context import ServerContext
from hall_server.db.models import ApiToken, Device, DeviceEnrolment, Window
from hall_server.errors import HallError
from hall_server.services import health
from hall_server.services.sittings import window_label

logger = logging.getLogger(__name__)

EN = DeviceEnrolment.__table__
TK = ApiToken.__table__
W = Window.__table__
ROLE_ZH = {"kiosk": "自助取号机", "display": "显示屏", "rating": "评价器"}


@dataclass(frozen=True)
class EnrolmentInput:
    """A device to register: its role, the window of a rating terminal, a label managers recognise."""

    role: str
    label: str
    window_id: int | None = None


def normalise_code(code: str) -> str:
    """The code as stored: upper case, without the dash or spaces people type."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode("ascii", "ignore")).hexdigest()


def _qr_svg(text: str) -> str | None:
    """An SVG of the QR code, when the qrcode library is installed (it is with the kiosk extras)."""
    try:
        # Optional: the code alone is enough to enrol.
        import qrcode
        import qrcode.image.svg
    except ImportError:
        return None
    out = io.BytesIO()
    qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).save(out)
    return out.getvalue().decode("utf-8")


def issue_enrolment(ctx: ServerContext, p: Principal, hall_id: str, new: EnrolmentInput) -> dict[str, Any]:
    """Use case: register a device of the hall; the code is shown once, and audited (never its value)."""
    manager_scope(ctx, p, hall_id, include_subtree=False)
    require_not_station(ctx, "tokens")
    if new.role not in DEVICE_ROLES:
        raise HallError(
            "request.invalid", reason="role must be kiosk, display or rating", roles=list(DEVICE_ROLES)
        )
    if new.role == "rating" and new.window_id is None:
        raise HallError("request.invalid", reason="a rating terminal belongs to a window")
    code = "".join(secrets.choice(ENROL_CODE_ALPHABET) for _ in range(ENROL_CODE_LENGTH))
    now = ctx.now()
    expires_at = now + timedelta(seconds=ENROL_CODE_TTL_S)
    with ctx.db.write() as s:
        window = None
        if new.window_id is not None:
            win = s.execute(select(W).where(W.c.id == new.window_id)).first()
            if win is None or win.hall_id != hall_id:
                raise HallError("window.unknown", window_id=new.window_id)
            window = window_label(ctx, hall_id, win.name, win.number)
        enrolment_id = s.execute(
            insert(EN)
            .values(
                code_hash=_hash(code),
                hall_id=hall_id,
                window_id=new.window_id,
                role=new.role,
                label=new.label,
                created_by=p.actor.id,
                created_at=now,
                expires_at=expires_at,
            )
            .returning(EN.c.id)
        ).scalar_one()
        audit.record(
            s,
            AU_ENROLMENT_ISSUED,
            p.actor,
            hall_id=hall_id,
            enrolment_id=int(enrolment_id),
            role=new.role,
            window_id=new.window_id,
            label=new.label,
        )
    shown = f"{code[:4]}-{code[4:]}"
    qr_text = f"hall-enrol:{ctx.settings.public_url or ''}#{shown}"
    return {
        "code": shown,
        "qr_text": qr_text,
        "qr_svg": _qr_svg(qr_text),
        "role": new.role,
        "label": new.label,
        "window": window,
        "expires_at": expires_at.isoformat(),
    }


def enrol(ctx: ServerContext, code: str, device_id: str = "") -> dict[str, Any]:
    """Use case (no token: the code is the credential): a device exchanges its code for its token, once."""
    require_not_station(ctx, "tokens")
    now = ctx.now()
    with ctx.db.write() as s:
        row = s.execute(select(EN).where(EN.c.code_hash == _hash(code)).with_for_update()).first()
        expires_at = _aware(row.expires_at) if row is not None else None
        if row is None or row.used_at is not None or expires_at is None or expires_at <= now:
            raise HallError("enrol.code_invalid")
        label = row.label or ROLE_ZH.get(row.role, row.role)
        token_id, token = create_token(
            s,
            row.role,
            hall_id=row.hall_id,
            window_id=row.window_id,
            label=label,
            actor=None,
        )
        claimed = s.execute(
            update(EN).where(EN.c.id == row.id, EN.c.used_at.is_(None)).values(used_at=now, token_id=token_id)
        ).rowcount
        if not claimed:
            raise HallError("enrol.code_invalid")
        audit.record(
            s,
            AU_DEVICE_ENROLLED,
            {"kind": "device", "id": device_id[:100] or f"{row.role}:{token_id}"},
            hall_id=row.hall_id,
            enrolment_id=row.id,
            token_id=token_id,
            role=row.role,
        )
    logger.info("device enrolled in %s as %s (token %d)", row.hall_id, row.role, token_id)
    return {
        "token": token,
        "token_id": token_id,
        "role": row.role,
        "hall_id": row.hall_id,
        "window_id": row.window_id,
        "label": label,
    }


def _aware(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def registry(ctx: ServerContext, p: Principal, hall_id: str) -> dict[str, Any]:
    """Use case: the hall's device tokens, codes not yet used, and the devices as last heard."""
    manager_scope(ctx, p, hall_id, include_subtree=False)
    now = ctx.now()
    with ctx.db.read() as s:
        windows = {
            r.id: window_label(ctx, hall_id, r.name, r.number)
            for r in s.execute(select(W.c.id, W.c.name, W.c.number).where(W.c.hall_id == hall_id))
        }
        tokens = s.execute(
            select(
                TK.c.id,
                TK.c.role,
                TK.c.label,
                TK.c.window_id,
                TK.c.created_at,
                TK.c.revoked_at,
                TK.c.last_used_at,
            )
            .where(TK.c.hall_id == hall_id, TK.c.role.in_(DEVICE_ROLES), TK.c.id < STATION_ID_SPAN)
            .order_by(TK.c.revoked_at.is_not(None), TK.c.role, TK.c.id)
        ).all()
        pending = s.execute(
            select(EN).where(EN.c.hall_id == hall_id, EN.c.used_at.is_(None)).order_by(EN.c.created_at)
        ).all()
        seen = health.devices(s, hall_id, now, ctx.settings.device_stale_seconds)
        versions = dict(
            s.execute(select(Device.device_id, Device.version).where(Device.hall_id == hall_id)).all()
        )
    return {
        "hall": ctx.catalog.hall(hall_id).name,
        "tokens": [
            {
                "id": t.id,
                "role": t.role,
                "role_zh": ROLE_ZH.get(t.role, t.role),
                "label": t.label,
                "window": windows.get(t.window_id) if t.window_id else None,
                "created_at": _iso(t.created_at),
                "last_used_at": _iso(t.last_used_at),
                "revoked": t.revoked_at is not None,
            }
            for t in tokens
        ],
        "pending": [
            {
                "role": e.role,
                "role_zh": ROLE_ZH.get(e.role, e.role),
                "label": e.label,
                "window": windows.get(e.window_id) if e.window_id else None,
                "expires_at": _iso(e.expires_at),
                "expired": (_aware(e.expires_at) or now) <= now,
            }
            for e in pending
        ],
        "devices": [{**d, "version": versions.get(d["device_id"])} for d in seen],
    }


def _iso(dt: datetime | None) -> str | None:
    return _aware(dt).isoformat() if dt is not None else None  # type: ignore[union-attr]
