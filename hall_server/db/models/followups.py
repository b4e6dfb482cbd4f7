"""Follow-up cases of bad ratings (差评整改) and their steps."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hall_server.db.models.base import BIG_ID, STATION_RANGED, Base


class FollowupCase(Base):
    """The follow-up of one bad rating (差评整改) with its working-day deadline and current step."""

    __tablename__ = "followup_cases"
    __table_args__ = (
        Index("ix_followup_cases_hall", "hall_id", "step"),
        STATION_RANGED,
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    hall_id: Mapped[str] = mapped_column(String(64))
    rating_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey("ratings.id"), unique=True)
    ticket_id: Mapped[int] = mapped_column(BIG_ID)
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
    __table_args__ = STATION_RANGED

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey("followup_cases.id"), index=True)
    step: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user_name: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
