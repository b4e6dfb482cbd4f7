"""Kiosks, displays and rating terminals as last seen (heartbeats, faults)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from hall_server.db.models.base import BIG_ID, Base


class Device(Base):
    """A kiosk, display or rating device as last seen by its heartbeat."""

    __tablename__ = "devices"

    device_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    hall_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(40))
    faults: Mapped[list[Any]] = mapped_column(JSON, default=list)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[str | None] = mapped_column(String(40), nullable=True)


class DeviceEnrolment(Base):
    """A one-time enrolment code (stored hashed) a new device exchanges for its token at first start."""

    __tablename__ = "device_enrolments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hall_id: Mapped[str] = mapped_column(String(64))
    window_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    role: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class StaffCall(Base):
    """A visitor's call for floor staff from a kiosk (呼叫工作人员), open until a manager acknowledges it.

    The id is the kiosk's own key for the call (a uuid), so a retry after a lost answer, or a call
    queued while offline, is the same call. The record of both steps is in the hall's event log
    (staff_call.requested / staff_call.acknowledged); this row is the live state the dashboard reads.
    """

    __tablename__ = "staff_calls"
    __table_args__ = (Index("ix_staff_calls_hall_open", "hall_id", "acknowledged_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    hall_id: Mapped[str] = mapped_column(String(64))
    token_id: Mapped[int] = mapped_column(BIG_ID)
    device_name: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
