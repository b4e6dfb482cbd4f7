"""The event log (全过程留痕): per-hall sequence rows and events."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hall_server.db.models.base import Base


class HallSeq(Base):
    """The last event sequence number of a hall; updated in every writing transaction."""

    __tablename__ = "hall_seq"

    hall_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # The audit chain's head (hash of the newest event), and its start: events up to
    # chain_start were written before the chain existed (genesis marked at migration).
    last_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    chain_start: Mapped[int] = mapped_column(BigInteger, server_default="0")


class Event(Base):
    """One state change of a hall: the event stream and the audit trail (全过程留痕)."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("hall_id", "seq", name="uq_events_hall_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    hall_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    payload: Mapped[str] = mapped_column(Text)
    # The audit chain: hash of the hall's previous event, and hash(prev_hash || this record).
    prev_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(80), nullable=True)


class EventArchive(Base):
    """A closed day's events of one stream, taken out of `events`: compressed rows and chain ends."""

    __tablename__ = "event_archive"

    hall_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    # The UTC day the events were recorded on (one row holds one day, or part of a long one).
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer)
    # The chain around the block: the hash the first record links to, the last record's hash.
    prev_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    head_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # zlib-compressed JSON lines, one per event, with every column the chain hashes.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    archived_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReportEvent(Base):
    """A copy of an archived event that a report still reads (const.REPORT_EVENT_TYPES), uncompressed."""

    __tablename__ = "report_events"
    __table_args__ = (Index("ix_report_events_type_at", "type", "at"),)

    hall_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[str] = mapped_column(Text)
