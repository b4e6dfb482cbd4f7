"""Document photos go up on a channel of their own, after the records (docs/sync.md, "Photos").

The push carries a document's metadata like any row (`protocol.UP_COLUMNS` leaves the bytes out:
a day's batch stays small and a photo never holds back the records). The parent stores the row
with empty `data_enc`: "photo not yet received" (the document's `received` is false and reading
it answers 409 document.not_received). After each round's push and pull the station asks which
photos its parent lacks (`GET /sync/photos`: at most SYNC_PHOTOS_WANTED ids of its halls, oldest
first; `after` pages past the ones it may not take) and sends each one's ciphertext as stored (`PUT /sync/photos/{id}`), at most
SYNC_PHOTO_ROUND_BYTES a round. Personal data never travels in clear: a station runs on the
city's data key (`station add --with-data-key`), and each ciphertext is bound to its ticket id,
which a station's rows keep verbatim at the city, so the city decrypts it with the key it has.

The parent checks a photo before it keeps it: the document is one of the station's (served)
halls and id ranges, and the ciphertext decrypts to the size and SHA-256 the record names (else
422 sync.bad_photo). It is written only where the bytes are still missing, so a photo sent again
(an answer lost on a cut link) changes nothing: exactly once in effect, resumable after any cut
since the parent keeps asking until it has it. A relay (township) keeps a village's photo the
same way; its capture trigger logs the row, so its next round asks its own parent, which then
wants it.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import and_, func, literal_column, or_, select, update
from sqlalchemy.orm import Session

from hall_server.crypto import DataProtector
from hall_server.db.models import TicketDocument
from hall_server.errors import HallError
from hall_server.services.documents import photo_context
from hall_server.sync import relay

logger = logging.getLogger(__name__)

D = TicketDocument.__table__
# The same predicate as the partial index ix_ticket_documents_photo_missing (literal 0, so the
# planner of either database can match it).
MISSING = func.length(D.c.data_enc) == literal_column("0")


# --- parent side ---------------------------------------------------------------------------------
def wanted(
    s: Session, halls: list[str], ranges: list[tuple[int, int]], limit: int, after: int = 0
) -> tuple[list[int], bool]:
    """Ids above `after` of the documents of these halls and ranges whose photo is not here yet; (ids, more)."""
    if not halls or not ranges:
        return [], False
    # The ranges in the query, not after it: missing photos of these halls outside them (a
    # replaced station's that will never come) must not fill the page and hide this one's.
    in_ranges = or_(*(and_(D.c.id >= lo, D.c.id < hi) for lo, hi in ranges))
    ids = [
        int(r[0])
        for r in s.execute(
            select(D.c.id)
            .where(D.c.hall_id.in_(halls), MISSING, in_ranges, D.c.id > after)
            .order_by(D.c.id)
            .limit(limit + 1)
        )
    ]
    return ids[:limit], len(ids) > limit


def store(
    s: Session,
    protector: DataProtector,
    document_id: int,
    blob: bytes,
    halls: set[str],
    ranges: list[tuple[int, int]],
) -> bool:
    """Keep a station's photo of one of its documents; False if it was here already."""
    row = s.execute(
        select(
            D.c.id, D.c.ticket_id, D.c.hall_id, D.c.size, D.c.sha256, func.length(D.c.data_enc).label("have")
        ).where(D.c.id == document_id)
    ).first()
    if row is None:
        raise HallError("sync.no_document", document_id=document_id)
    if row.hall_id not in halls or not relay.in_ranges(int(row.id), ranges):
        raise HallError("sync.wrong_hall", table="ticket_documents", hall_id=row.hall_id)
    if row.have:
        return False  # sent again after a lost answer: the first copy stands
    try:
        plain = protector.decrypt_bytes(blob, photo_context(int(row.ticket_id)))
    except (InvalidTag, ValueError):
        raise HallError("sync.bad_photo", document_id=document_id, reason="does not decrypt") from None
    if len(plain) != int(row.size) or hashlib.sha256(plain).hexdigest() != row.sha256:
        raise HallError("sync.bad_photo", document_id=document_id, reason="size or digest differs")
    done = s.execute(update(D).where(D.c.id == document_id, MISSING).values(data_enc=blob)).rowcount
    return bool(done)


# --- station side --------------------------------------------------------------------------------
def stored_photo(s: Session, document_id: int) -> bytes | None:
    """The station's ciphertext of a document's photo (None: deleted, or a relay without it yet)."""
    blob: Any = s.execute(select(D.c.data_enc).where(D.c.id == document_id)).scalar()
    return bytes(blob) if blob else None
