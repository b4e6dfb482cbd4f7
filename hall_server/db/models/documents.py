"""Document photos a clerk keeps with a ticket (材料留存)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hall_server.db.models.base import BIG_ID, STATION_RANGED, Base


class TicketDocument(Base):
    """One JPEG of a document handed in with a ticket, stored encrypted; sha256 is of the plaintext."""

    __tablename__ = "ticket_documents"
    __table_args__ = (
        # The same photo sent twice for one ticket (a retry after a dropped link) is one document.
        UniqueConstraint("ticket_id", "sha256", name="uq_ticket_documents_content"),
        Index("ix_ticket_documents_hall", "hall_id", "taken_at"),
        # A station's documents whose photo has not reached this server yet (sync/photos.py):
        # the parent asks it for them every round, so the look-up must not scan every document.
        Index(
            "ix_ticket_documents_photo_missing",
            "hall_id",
            "id",
            sqlite_where=text("length(data_enc) = 0"),
            postgresql_where=text("length(data_enc) = 0"),
        ),
        STATION_RANGED,
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey("tickets.id"))
    hall_id: Mapped[str] = mapped_column(String(64))
    window_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    clerk_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100), default="")
    data_enc: Mapped[bytes] = mapped_column(LargeBinary)
