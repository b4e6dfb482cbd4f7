"""Matters (办件), their visits and back-office steps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hall_server.db.models.base import BIG_ID, STATION_RANGED, Base


class Matter(Base):
    """A matter (办件) accepted at a window, moved through its back-office steps."""

    __tablename__ = "matters"
    __table_args__ = (
        Index("ix_matters_person", "id_hmac"),
        STATION_RANGED,
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    hall_id: Mapped[str] = mapped_column(String(64))
    case_no: Mapped[str] = mapped_column(String(64), unique=True)
    service_code: Mapped[str] = mapped_column(String(64))
    first_ticket_id: Mapped[int] = mapped_column(BIG_ID)
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
    __table_args__ = (
        UniqueConstraint("matter_id", "ticket_id", name="uq_matter_visits"),
        STATION_RANGED,
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    matter_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey("matters.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(BIG_ID)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MatterStep(Base):
    """One recorded step of a matter."""

    __tablename__ = "matter_steps"
    __table_args__ = STATION_RANGED

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    matter_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey("matters.id"), index=True)
    step: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
