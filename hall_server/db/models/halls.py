"""Halls, their service items (事项), queue groups and their own settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hall_server.db.models.base import Base


class Hall(Base):
    """A service hall (city centre down to a village station) with its static configuration."""

    __tablename__ = "halls"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(100), default="")
    level: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("halls.id"), nullable=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    notices: Mapped[list[Any]] = mapped_column(JSON, default=list)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opening_hours: Mapped[list[Any]] = mapped_column(JSON, default=list)


class ServiceItem(Base):
    """A service item (政务服务事项) defined once for the whole city, with its guide."""

    __tablename__ = "service_items"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sub_name: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    department: Mapped[str] = mapped_column(String(100), default="")
    guide: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class QueueGroup(Base):
    """A queue of a hall, named by its prefix letter (A, B, ...)."""

    __tablename__ = "queue_groups"
    __table_args__ = (UniqueConstraint("hall_id", "prefix", name="uq_queue_groups_hall_prefix"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hall_id: Mapped[str] = mapped_column(String(64), ForeignKey("halls.id"))
    prefix: Mapped[str] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(100))


class HallService(Base):
    """A hall claims a service item and queues it in one of its groups."""

    __tablename__ = "hall_services"

    hall_id: Mapped[str] = mapped_column(String(64), ForeignKey("halls.id"), primary_key=True)
    service_code: Mapped[str] = mapped_column(String(64), ForeignKey("service_items.code"), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(4))
    # The hall's own values of the guide fields its level may set (catalogue.HALL_FIELDS).
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class HallSettings(Base):
    """A hall's settings for bookings, follow-ups, alerts and notices (kept apart from the core's policy)."""

    __tablename__ = "hall_ext_settings"

    hall_id: Mapped[str] = mapped_column(String(64), ForeignKey("halls.id"), primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ServiceItemVersion(Base):
    """One version of a service item's guide, kept for ever: a guide printed last month shows as it was."""

    __tablename__ = "service_item_versions"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_service_item_versions_code_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), ForeignKey("service_items.code"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100), default="")
    department: Mapped[str] = mapped_column(String(100), default="")
    guide: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changed_by: Mapped[str] = mapped_column(String(100), default="")


class WorkCalendarYear(Base):
    """A year's holidays and swapped working days as edited by the city (over the shipped files)."""

    __tablename__ = "work_calendars"

    region: Mapped[str] = mapped_column(String(64), primary_key=True)  # "CN" or a city hall id
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(100), default="")
