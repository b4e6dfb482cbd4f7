"""Document photos kept with a ticket (材料留存): add one, list a ticket's, read one back.

The JPEG is stored encrypted with the server's data protector (bound to its ticket), with the
SHA-256 of the plaintext so a retry of the same photo is the same document.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from hall_server import audit
from hall_server.auth import Principal, can_access_hall, require_roles
from hall_server.const import (
    AU_DOCUMENT_DELETED,
    AU_DOCUMENT_VIEWED,
    DOCUMENT_CONTENT_TYPE,
    DOCUMENT_LATE_SLACK_S,
    DOCUMENT_MAX_BYTES,
    EV_DOCUMENTS_PURGED,
    EV_TICKET_DOCUMENT_ADDED,
    EV_TICKET_DOCUMENT_DELETED,
)
from hall_server.context import ServerContext
from hall_server.db.models import Ticket, TicketDocument
from hall_server.errors import HallError
from hall_server.events import append_event
from hall_server.services.views import local_iso

logger = logging.getLogger(__name__)

D = TicketDocument.__table__
T = Ticket.__table__

UPLOADER_ROLES = ("clerk", "admin")
READER_ROLES = ("clerk", "manager", "admin")
DELETER_ROLES = ("manager", "admin")
IN_HAND = ("called", "serving")
# A queued photo may reach the server after its ticket left the window this way.
LATE_STATUSES = ("serving", "finished", "no_show", "suspended", "waiting")
JPEG_MAGIC = b"\xff\xd8\xff"

# Columns of a listing: never the encrypted bytes.
_META = [c for c in D.c if c.name != "data_enc"]
# At a parent, a station's document whose photo has not come up yet (sync/photos.py).
_RECEIVED = (func.length(D.c.data_enc) > 0).label("received")


@dataclass(frozen=True)
class DocumentInput:
    """A photo as posted: the bytes, an optional label and, from a queued upload, when it was taken."""

    data: bytes
    label: str = ""
    taken_at: datetime | None = None


def check_jpeg(data: bytes) -> None:
    """Refuse an empty, oversized or non-JPEG body with a typed error."""
    if not data:
        raise HallError("document.empty")
    if len(data) > DOCUMENT_MAX_BYTES:
        raise HallError("document.too_large", size=len(data), max_bytes=DOCUMENT_MAX_BYTES)
    if not data.startswith(JPEG_MAGIC):
        raise HallError("document.not_jpeg", magic=data[:4].hex())


def parse_taken_at(text: str | None) -> datetime | None:
    """An ISO 8601 time (UTC if it names no zone), or None; document.bad_taken_at if malformed."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise HallError("document.bad_taken_at", taken_at=text[:40]) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def photo_context(ticket_id: int) -> str:
    # Binds each ciphertext to its ticket: a blob copied onto another row does not decrypt.
    return f"ticket_document:{ticket_id}"


def document_view(ctx: ServerContext, row: Any) -> dict[str, Any]:
    """The `Document` of the wire (metadata only)."""
    hall = ctx.catalog.hall(row.hall_id)
    win = ctx.catalog.window(row.window_id) if row.window_id is not None else None
    return {
        "id": row.id,
        "ticket_id": row.ticket_id,
        "hall_id": row.hall_id,
        "window_id": row.window_id,
        "window_number": win.number if win else None,
        "clerk_id": row.clerk_id,
        "taken_at": local_iso(row.taken_at, hall),
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "label": row.label,
        # False at a parent while the photo is still on its way from the station.
        "received": bool(getattr(row, "received", True)),
        "url": f"/api/v1/documents/{row.id}",
    }


def _may_take(p: Principal, ticket: Any, taken_at: datetime | None, now: datetime) -> None:
    """The ticket is in hand at the caller's window, or was when a queued photo was taken."""
    if ticket.status in IN_HAND and ticket.window_id is not None:
        return
    if taken_at is not None and ticket.status in LATE_STATUSES and ticket.called_at is not None:
        slack = timedelta(seconds=DOCUMENT_LATE_SLACK_S)
        start = _aware(ticket.called_at)
        end = _aware(ticket.finished_at) or now
        # The photo was taken while this window had the ticket (a late delivery from the outbox).
        if start - slack <= taken_at <= end + slack and (
            p.role != "clerk" or ticket.window_id == p.window_id
        ):
            return
    raise HallError("document.not_in_hand", ticket_id=ticket.id, ticket_status=ticket.status)


def add_document(
    ctx: ServerContext, p: Principal, ticket_id: int, doc: DocumentInput
) -> tuple[dict[str, Any], bool]:
    """Keep a photo with a ticket; (document, created). The same bytes again return the first one."""
    require_roles(p, *UPLOADER_ROLES)
    check_jpeg(doc.data)
    now = ctx.now()
    if doc.taken_at is not None and doc.taken_at > now + timedelta(seconds=DOCUMENT_LATE_SLACK_S):
        raise HallError("document.bad_taken_at", taken_at=doc.taken_at.isoformat(), reason="in the future")
    sha = hashlib.sha256(doc.data).hexdigest()
    try:
        with ctx.db.write() as s:
            ticket = s.execute(select(T).where(T.c.id == ticket_id)).first()
            if ticket is None:
                raise HallError("ticket.unknown", ticket_id=ticket_id)
            if p.role == "clerk" and ticket.window_id is not None and ticket.window_id != p.window_id:
                raise HallError("auth.wrong_window", window_id=ticket.window_id, own_window_id=p.window_id)
            existing = s.execute(select(*_META).where(D.c.ticket_id == ticket_id, D.c.sha256 == sha)).first()
            if existing is not None:
                # A retry whose first answer was lost, even if the ticket has left the window since.
                return document_view(ctx, existing), False
            _may_take(p, ticket, doc.taken_at, now)
            window_id = ticket.window_id if p.role == "admin" else p.window_id
            row = s.execute(
                insert(D)
                .values(
                    ticket_id=ticket.id,
                    hall_id=ticket.hall_id,
                    window_id=window_id,
                    clerk_id=p.user_id if p.role == "clerk" else ticket.clerk_id,
                    taken_at=doc.taken_at or now,
                    content_type=DOCUMENT_CONTENT_TYPE,
                    size=len(doc.data),
                    sha256=sha,
                    label=doc.label.strip(),
                    data_enc=ctx.protector.encrypt_bytes(doc.data, photo_context(ticket.id)),
                )
                .returning(*_META)
            ).one()
            view = document_view(ctx, row)
            win = ctx.catalog.window(window_id) if window_id is not None else None
            # The audit trail gets what happened, never the image or who is in it.
            append_event(
                s,
                ticket.hall_id,
                EV_TICKET_DOCUMENT_ADDED,
                {
                    "ticket_id": ticket.id,
                    "number": ticket.number,
                    "window": win.brief() if win else None,
                    "document": {
                        "id": row.id,
                        "size": row.size,
                        "content_type": row.content_type,
                        "sha256": sha,
                    },
                },
                p.actor,
            )
            return view, True
    except IntegrityError:
        # The same photo raced in twice (two retries at once): the first one stored wins.
        logger.info("document of ticket %s stored by a concurrent request", ticket_id)
        with ctx.db.read() as s:
            row = s.execute(select(*_META).where(D.c.ticket_id == ticket_id, D.c.sha256 == sha)).first()
        if row is None:
            raise
        return document_view(ctx, row), False


def _check_reader(ctx: ServerContext, p: Principal, ticket: Any, doc_window_ids: set[int | None]) -> None:
    """The clerk of the window that holds the ticket or took a photo, the hall's managers, admin."""
    require_roles(p, *READER_ROLES)
    if p.role == "clerk":
        if p.window_id is None or (p.window_id != ticket.window_id and p.window_id not in doc_window_ids):
            raise HallError("auth.wrong_window", window_id=ticket.window_id, own_window_id=p.window_id)
    elif p.role == "manager" and not can_access_hall(p, ticket.hall_id, ctx.catalog):
        raise HallError("auth.wrong_hall", hall_id=ticket.hall_id)


def list_documents(ctx: ServerContext, p: Principal, ticket_id: int) -> list[dict[str, Any]]:
    """A ticket's documents, oldest first (metadata only)."""
    require_roles(p, *READER_ROLES)
    with ctx.db.read() as s:
        ticket = s.execute(select(T.c.id, T.c.hall_id, T.c.window_id).where(T.c.id == ticket_id)).first()
        if ticket is None:
            raise HallError("ticket.unknown", ticket_id=ticket_id)
        rows = s.execute(select(*_META, _RECEIVED).where(D.c.ticket_id == ticket_id).order_by(D.c.id)).all()
    _check_reader(ctx, p, ticket, {r.window_id for r in rows})
    return [document_view(ctx, r) for r in rows]


def read_document(ctx: ServerContext, p: Principal, document_id: int) -> tuple[bytes, dict[str, Any]]:
    """The decrypted JPEG of one document and its metadata."""
    require_roles(p, *READER_ROLES)
    with ctx.db.read() as s:
        row = s.execute(select(D).where(D.c.id == document_id)).first()
        if row is None:
            raise HallError("document.unknown", document_id=document_id)
        ticket = s.execute(select(T.c.id, T.c.hall_id, T.c.window_id).where(T.c.id == row.ticket_id)).one()
    _check_reader(ctx, p, ticket, {row.window_id})
    if not row.data_enc:
        # A station's document whose photo has not reached this server yet (sync/photos.py).
        raise HallError("document.not_received", document_id=document_id, hall_id=row.hall_id)
    data = ctx.protector.decrypt_bytes(row.data_enc, photo_context(row.ticket_id))
    with ctx.db.write() as s:
        audit.record(
            s, AU_DOCUMENT_VIEWED, p.actor, hall_id=row.hall_id, ticket_id=row.ticket_id, document_id=row.id
        )
    return data, document_view(ctx, row)


def delete_document(ctx: ServerContext, p: Principal, document_id: int) -> None:
    """Remove one document (a manager of its hall or admin); the audit trail keeps that it was."""
    require_roles(p, *DELETER_ROLES)
    with ctx.db.write() as s:
        row = s.execute(select(*_META).where(D.c.id == document_id)).first()
        if row is None:
            raise HallError("document.unknown", document_id=document_id)
        if p.role == "manager" and not can_access_hall(p, row.hall_id, ctx.catalog):
            raise HallError("auth.wrong_hall", hall_id=row.hall_id)
        s.execute(delete(D).where(D.c.id == document_id))
        append_event(
            s,
            row.hall_id,
            EV_TICKET_DOCUMENT_DELETED,
            {"ticket_id": row.ticket_id, "document": {"id": row.id, "sha256": row.sha256}},
            p.actor,
        )
        audit.record(
            s,
            AU_DOCUMENT_DELETED,
            p.actor,
            hall_id=row.hall_id,
            ticket_id=row.ticket_id,
            document_id=row.id,
            sha256=row.sha256,
        )


def purge_documents(ctx: ServerContext, now: datetime, retention_days: int) -> int:
    """Delete the photos taken more than retention_days ago (0 keeps all); how many went.

    One `documents.purged` event per hall says how many and up to when, so the audit trail shows
    the photos were removed by the retention rule and not by someone.
    """
    if retention_days <= 0:
        return 0
    before = now - timedelta(days=retention_days)
    with ctx.db.write() as s:
        per_hall = s.execute(
            select(D.c.hall_id, func.count()).where(D.c.taken_at < before).group_by(D.c.hall_id)
        ).all()
        if not per_hall:
            return 0
        s.execute(delete(D).where(D.c.taken_at < before))
        for hall_id, count in per_hall:
            append_event(
                s,
                hall_id,
                EV_DOCUMENTS_PURGED,
                {"count": count, "taken_before": before.isoformat(), "retention_days": retention_days},
            )
    total = sum(c for _h, c in per_hall)
    logger.info("purged %d document photos taken before %s", total, before.isoformat())
    return total
