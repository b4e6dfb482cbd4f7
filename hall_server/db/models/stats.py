"""Statistics rollups: per hall, business day and grouping key, kept current from the dirty log."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hall_server.db.models.base import BIG_ID, Base


class StatRollup(Base):
    """One hall-day's (dim "m:..." month's, "y:..." year's) figures for one key of one grouping (dim "all": key "")."""

    __tablename__ = "stat_rollups"
    # The pass replaces a hall-day's rows by hall and day, whatever the dim.
    __table_args__ = (Index("ix_stat_rollups_hall_day", "hall_id", "business_day"),)

    dim: Mapped[str] = mapped_column(String(12), primary_key=True)
    hall_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    business_day: Mapped[date] = mapped_column(Date, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # services/stat_rollups.py: the additive counters (int32 array), and the whole-second waits and
    # service times as histograms (uint16 value-delta, count pairs), so percentiles stay exact.
    counts: Mapped[bytes] = mapped_column(LargeBinary)
    waits: Mapped[bytes] = mapped_column(LargeBinary)
    serves: Mapped[bytes] = mapped_column(LargeBinary)


class StatDirty(Base):
    """A hall-day whose tickets, ratings or cases changed since the last rollup pass (filled by triggers)."""

    __tablename__ = "stat_dirty"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    hall_id: Mapped[str] = mapped_column(String(64))
    business_day: Mapped[date] = mapped_column(Date)
