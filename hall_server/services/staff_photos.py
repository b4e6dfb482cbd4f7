"""A staff member's photo: set and removed by a manager, shown with name and 工号 at the window.

The national 好差评 rules ask that the rated person be identifiable, so the rating terminal
beside a window shows the photo, name and staff number of the clerk sitting there. The photo is
personal data: the upload (JPEG or PNG, bounded in bytes and pixels) is decoded and kept only as
a small JPEG thumbnail (no EXIF, no location), encrypted with the data key and bound to the
user id. The thumbnail is also what the config snapshot carries to a station.
"""

from __future__ import annotations

import base64
import io
import logging
from typing import Any

from PIL import UnidentifiedImageError
from sqlalchemy import select, update

from hall_server import audit
from hall_server.auth import Principal, require_hall, require_not_station, require_roles
from hall_server.const import (
    AU_STAFF_PHOTO_REMOVED,
    AU_STAFF_PHOTO_SET,
    STAFF_PHOTO_MAX_BYTES,
    STAFF_PHOTO_MAX_PIXELS,
    STAFF_PHOTO_QUALITY,
    STAFF_PHOTO_THUMB,
)
from hall_server.context import ServerContext
from hall_server.db.models import User, Window
from hall_server.errors import HallError
from hall_server.lazy import lazy_module
from hall_server.services.staff import staff_in_scope, staff_view

logger = logging.getLogger(__name__)

# Decoders load with the first photo, not at start-up.
Image = lazy_module("PIL.Image")
ImageOps = lazy_module("PIL.ImageOps")

U = User.__table__
W = Window.__table__

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Who may see the clerk at a window with the photo: the hall's people and its rating devices
# (the kiosk and the hall display have no use for a clerk's face).
WINDOW_CLERK_ROLES = ("rating", "clerk", "manager", "admin")


def photo_context(user_id: int) -> str:
    """The encryption context: a photo copied onto another account does not decrypt."""
    return f"staff_photo:{user_id}"


def thumbnail(data: bytes) -> bytes:
    """The upload as a JPEG thumbnail within STAFF_PHOTO_THUMB; typed 4xx errors for bad input."""
    if not data:
        raise HallError("staff.photo_empty")
    if len(data) > STAFF_PHOTO_MAX_BYTES:
        raise HallError("staff.photo_too_large", size=len(data), max_bytes=STAFF_PHOTO_MAX_BYTES)
    if not (data.startswith(JPEG_MAGIC) or data.startswith(PNG_MAGIC)):
        raise HallError("staff.photo_type", magic=data[:4].hex())
    try:
        with Image.open(io.BytesIO(data), formats=("JPEG", "PNG")) as img:
            # The header is read first: a decompression bomb stops here, before any pixel.
            if img.width * img.height > STAFF_PHOTO_MAX_PIXELS:
                raise HallError("staff.photo_unreadable", width=img.width, height=img.height)
            img.load()
            img = ImageOps.exif_transpose(img)  # upright, as the phone that took it meant
            img = img.convert("RGB")
            img.thumbnail(STAFF_PHOTO_THUMB, Image.Resampling.LANCZOS)
            out = io.BytesIO()
            img.save(out, "JPEG", quality=STAFF_PHOTO_QUALITY, optimize=True)
    except HallError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise HallError("staff.photo_unreadable", reason=type(exc).__name__) from None
    return out.getvalue()


def set_photo(ctx: ServerContext, p: Principal, user_id: int, data: bytes) -> dict[str, Any]:
    """Use case: a manager sets a staff member's photo (kept as an encrypted thumbnail); audited."""
    with ctx.db.read() as s:
        staff_in_scope(ctx, p, s, user_id)
    require_not_station(ctx, "staff accounts")
    thumb = thumbnail(data)  # decoding is slow: outside the transaction
    sealed = ctx.protector.encrypt_bytes(thumb, photo_context(user_id))
    with ctx.db.write() as s:
        row = staff_in_scope(ctx, p, s, user_id)
        s.execute(update(U).where(U.c.id == user_id).values(photo_enc=sealed))
        # The audit trail gets what happened and the sizes, never the image.
        audit.record(
            s,
            AU_STAFF_PHOTO_SET,
            p.actor,
            hall_id=row.hall_id,
            user_id=user_id,
            username=row.username,
            uploaded_bytes=len(data),
            stored_bytes=len(thumb),
        )
        row = s.execute(select(U).where(U.c.id == user_id)).one()
    logger.info("photo of staff %s set by %s (%d bytes kept)", user_id, p.actor, len(thumb))
    return staff_view(ctx, row)


def remove_photo(ctx: ServerContext, p: Principal, user_id: int) -> dict[str, Any]:
    """Use case: a manager removes a staff member's photo; audited."""
    with ctx.db.read() as s:
        staff_in_scope(ctx, p, s, user_id)
    require_not_station(ctx, "staff accounts")
    with ctx.db.write() as s:
        row = staff_in_scope(ctx, p, s, user_id)
        if row.photo_enc is not None:
            s.execute(update(U).where(U.c.id == user_id).values(photo_enc=None))
            audit.record(
                s,
                AU_STAFF_PHOTO_REMOVED,
                p.actor,
                hall_id=row.hall_id,
                user_id=user_id,
                username=row.username,
            )
        row = s.execute(select(U).where(U.c.id == user_id)).one()
    return staff_view(ctx, row)


def read_photo(ctx: ServerContext, p: Principal, user_id: int) -> bytes:
    """Use case: the decrypted thumbnail for the staff page (managers of the staff member's hall)."""
    with ctx.db.read() as s:
        row = staff_in_scope(ctx, p, s, user_id)
    if row.photo_enc is None:
        raise HallError("staff.no_photo", user_id=user_id)
    return ctx.protector.decrypt_bytes(row.photo_enc, photo_context(user_id))


def window_clerk(ctx: ServerContext, p: Principal, window_id: int) -> dict[str, Any]:
    """Use case: the clerk sitting at a window now, with 工号 and photo (the rating terminal's view).

    The hall's clerks, managers above it, admin, and the rating device of this very window.
    """
    require_roles(p, *WINDOW_CLERK_ROLES)
    win = ctx.catalog.window(window_id)
    if win is None:
        raise HallError("window.unknown", window_id=window_id)
    require_hall(p, win.hall_id, ctx.catalog)
    if p.role == "rating" and p.window_id is not None and p.window_id != window_id:
        raise HallError("rating.wrong_window", window_id=window_id, own_window_id=p.window_id)
    with ctx.db.read() as s:
        clerk_id = s.execute(select(W.c.clerk_id).where(W.c.id == window_id)).scalar()
        row = None
        if clerk_id is not None:
            row = s.execute(
                select(U.c.id, U.c.name, U.c.staff_number, U.c.photo_enc).where(U.c.id == clerk_id)
            ).first()
    clerk = None
    if row is not None:
        photo = None
        if row.photo_enc is not None:
            jpeg = ctx.protector.decrypt_bytes(row.photo_enc, photo_context(row.id))
            photo = base64.b64encode(jpeg).decode("ascii")
        clerk = {"id": row.id, "name": row.name, "staff_number": row.staff_number, "photo_jpeg": photo}
    return {"window_id": window_id, "window_number": win.number, "clerk": clerk}
