"""Service windows (窗口)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hall_server.db.models.base import BIG_ID, Base


class Window(Base):
    """A service window of a hall with its status, groups and weights, clerk and current ticket."""

    __tablename__ = "windows"
    __table_args__ = (UniqueConstraint("hall_id", "number", name="uq_windows_hall_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hall_id: Mapped[str] = mapped_column(String(64), ForeignKey("halls.id"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(20), default="comprehensive")
    # The part of the hall the window stands in ("B区"); NULL in a hall without zones.
    zone: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="closed")
    groups: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    clerk_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id"), nullable=True)
    current_ticket_id: Mapped[int | None] = mapped_column(BIG_ID, nullable=True)
    last_ticket_id: Mapped[int | None] = mapped_column(BIG_ID, nullable=True)
    # The newest calls as [group, priority] pairs: the calling policy's weighted round-robin.
    call_history: Mapped[list[Any]] = mapped_column(JSON, default=list)
