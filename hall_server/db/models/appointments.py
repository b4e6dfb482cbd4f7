"""Appointments (网上预约) and their slots."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
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

# Bookings that hold a place (and count against the person's daily limit).
ACTIVE_BOOKING_SQL = "status IN ('booked', 'checked_in')"


PERSON_DAY_INDEX = "uq_appointments_person_day_active"


class AppointmentSlot(Base):
    """Bookable capacity of one hall, service item, day and time slot; `booked` counts live bookings."""

    __tablename__ = "appointment_slots"
    __table_args__ = (
        UniqueConstraint("hall_id", "service_code", "day", "start", name="uq_appointment_slots"),
        STATION_RANGED,
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
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
        STATION_RANGED,
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    hall_id: Mapped[str] = mapped_column(String(64), ForeignKey("halls.id"))
    service_code: Mapped[str] = mapped_column(String(64))
    slot_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey("appointment_slots.id"))
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
    ticket_id: Mapped[int | None] = mapped_column(BIG_ID, nullable=True)
