"""Tables for appointments, follow-up cases, matters and the notification outbox (migration 0002)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hall_server.db.models import Base

# Bookings that hold a place (and count against the person's daily limit).
ACTIVE_BOOKING_SQL = "status IN ('booked', 'checked_in')"
PERSON_DAY_INDEX = "uq_appointments_person_day_active"


class AppointmentSlot(Base):
    """Bookable capacity of one hall, service item, day and time slot; `booked` counts live bookings."""

    __tablename__ = "appointment_slots"
    __table_args__ = (
        UniqueConstraint("hall_id", "service_code", "day", "start", name="uq_appointment_slots"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hall_id: Mapped[str] = mapped_column(String(64), ForeignKey("halls.id"))
    service_code: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    start: Mapped[str] = mapped_column(String(5))  # "09:00", hall local time
    end: Mapped[str] = mapped_column(String(5))
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)


class Appointment(Base):
    """A booking (网上预约); personal data only encrypted plus a keyed hash and masked forms."""

    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_person_day", "id_hmac", "day"),
        Index("ix_appointments_hall_day", "hall_id", "day", "status"),
        # The database's own guard of the per-person daily limit: two bookings racing past the
        # rule check (PostgreSQL, several workers) cannot both hold the same place number.
        Index(
            PERSON_DAY_INDEX,
            "id_hmac",
            "day",
            "person_seq",
            unique=True,
            sqlite_where=text(ACTIVE_BOOKING_SQL),
            postgresql_where=text(ACTIVE_BOOKING_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    hall_id: Mapped[str] = mapped_column(String(64), ForeignKey("halls.id"))
    service_code: Mapped[str] = mapped_column(String(64))
    slot_id: Mapped[int] = mapped_column(Integer, ForeignKey("appointment_slots.id"))
    day: Mapped[date] = mapped_column(Date)
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20))  # booked, cancelled, checked_in, no_show
    channel: Mapped[str] = mapped_column(String(20), default="api")
    id_hmac: Mapped[str] = mapped_column(String(64))
    # Which of the person's places of the day (1..booking.per_person_per_day) this booking holds.
    person_seq: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    id_enc: Mapped[bytes] = mapped_column(LargeBinary)
    id_masked: Mapped[str] = mapped_column(String(40))
    name_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    name_masked: Mapped[str | None] = mapped_column(String(40), nullable=True)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    phone_masked: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class FollowupCase(Base):
    """The follow-up of one bad rating (差评整改) with its working-day deadline and current step."""

    __tablename__ = "followup_cases"
    __table_args__ = (Index("ix_followup_cases_hall", "hall_id", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hall_id: Mapped[str] = mapped_column(String(64))
    rating_id: Mapped[int] = mapped_column(Integer, ForeignKey("ratings.id"), unique=True)
    ticket_id: Mapped[int] = mapped_column(Integer)
    window_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    clerk_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    service_code: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    opened_on: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)
    step: Mapped[str] = mapped_column(String(20))
    revisit_satisfied: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class FollowupStep(Base):
    """One recorded step of a follow-up case, by a named manager."""

    __tablename__ = "followup_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(Integer, ForeignKey("followup_cases.id"), index=True)
    step: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user_name: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Matter(Base):
    """A matter (办件) accepted at a window, moved through its back-office steps."""

    __tablename__ = "matters"
    __table_args__ = (Index("ix_matters_person", "id_hmac"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hall_id: Mapped[str] = mapped_column(String(64))
    case_no: Mapped[str] = mapped_column(String(64), unique=True)
    service_code: Mapped[str] = mapped_column(String(64))
    first_ticket_id: Mapped[int] = mapped_column(Integer)
    window_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    clerk_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    id_hmac: Mapped[str | None] = mapped_column(String(64), nullable=True)
    id_masked: Mapped[str | None] = mapped_column(String(40), nullable=True)
    name_masked: Mapped[str | None] = mapped_column(String(40), nullable=True)
    step: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MatterVisit(Base):
    """One visit (ticket) spent on a matter: what "最多跑一次" counts."""

    __tablename__ = "matter_visits"
    __table_args__ = (UniqueConstraint("matter_id", "ticket_id", name="uq_matter_visits"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    matter_id: Mapped[int] = mapped_column(Integer, ForeignKey("matters.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MatterStep(Base):
    """One recorded step of a matter."""

    __tablename__ = "matter_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    matter_id: Mapped[int] = mapped_column(Integer, ForeignKey("matters.id"), index=True)
    step: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutboxMessage(Base):
    """A notification to send exactly once (reminder, "your turn is near"); kept after sending."""

    __tablename__ = "notify_outbox"
    __table_args__ = (Index("ix_notify_outbox_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    hall_id: Mapped[str] = mapped_column(String(64))
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    phone_masked: Mapped[str | None] = mapped_column(String(20), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class NotifyCursor(Base):
    """How far the notifier has read each hall's event log."""

    __tablename__ = "notify_cursors"

    hall_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class HallExtSettings(Base):
    """A hall's settings for bookings, follow-ups, alerts and notices (kept apart from the core's policy)."""

    __tablename__ = "hall_ext_settings"

    hall_id: Mapped[str] = mapped_column(String(64), ForeignKey("halls.id"), primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
