"""Queue tickets (号票) and their number counters."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
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


class NumberCounter(Base):
    """The last ticket sequence drawn per hall, prefix and business day."""

    __tablename__ = "number_counters"

    hall_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(4), primary_key=True)
    business_day: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class WaitingCount(Base):
    """Unbound waiting tickets per hall, day, group and class (kept by triggers, migration 0024)."""

    __tablename__ = "waiting_counts"

    hall_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    business_day: Mapped[date] = mapped_column(Date, primary_key=True)
    group_prefix: Mapped[str] = mapped_column(String(4), primary_key=True)
    priority: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    appointed: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


BOUND_WAITING = "status = 'waiting' AND bound_window_id IS NOT NULL"


# Tickets the day-end pass closes (queueing.model.OPEN_STATUSES); see migration 0006.
OPEN_TICKETS = "status IN ('waiting', 'called', 'serving', 'suspended')"


class Ticket(Base):
    """A queue ticket; personal data only encrypted, with a keyed hash for look-ups."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("hall_id", "business_day", "prefix", "seq", name="uq_tickets_number"),
        UniqueConstraint("hall_id", "idempotency_key", name="uq_tickets_idempotency"),
        # One index for the day's tickets of a group and, covering, for the queue reads (counts
        # per class, head of each class), so those never touch table rows.
        Index(
            "ix_tickets_queue",
            "hall_id",
            "business_day",
            "group_prefix",
            "status",
            "priority",
            "bound_window_id",
            "appointment_id",
            # Last, so each class's waiting tickets come in id order (implicit on SQLite).
            "id",
        ),
        Index("ix_tickets_person", "id_hmac", "business_day"),
        # Waiting tickets transferred to one window, read by every call-next of that window
        # (PostgreSQL; SQLite searches the queue index for them, see services/queue.py).
        Index(
            "ix_tickets_bound_waiting",
            "bound_window_id",
            "business_day",
            "id",
            postgresql_where=text(BOUND_WAITING),
        ).ddl_if(dialect="postgresql"),
        # The day-end pass's look-up of open tickets of past days (nearly empty once closed).
        Index(
            "ix_tickets_open",
            "hall_id",
            "business_day",
            "id",
            sqlite_where=text(OPEN_TICKETS),
            postgresql_where=text(OPEN_TICKETS),
        ),
        STATION_RANGED,
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    hall_id: Mapped[str] = mapped_column(String(64), ForeignKey("halls.id"))
    business_day: Mapped[date] = mapped_column(Date)
    prefix: Mapped[str] = mapped_column(String(4))
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(16))
    group_prefix: Mapped[str] = mapped_column(String(4))
    service_code: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    priority: Mapped[bool] = mapped_column(Boolean, default=False)
    green_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    appointment_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    channel: Mapped[str] = mapped_column(String(20))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    called_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    window_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bound_window_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    clerk_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recall_count: Mapped[int] = mapped_column(Integer, default=0)
    transfer_count: Mapped[int] = mapped_column(Integer, default=0)
    track_token: Mapped[str] = mapped_column(String(40), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    id_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    name_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    id_hmac: Mapped[str | None] = mapped_column(String(64), nullable=True)
    id_masked: Mapped[str | None] = mapped_column(String(40), nullable=True)
    name_masked: Mapped[str | None] = mapped_column(String(40), nullable=True)
    card_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
