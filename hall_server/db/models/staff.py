"""Staff accounts, tokens and sessions, log-in throttling and one-time socket tickets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from hall_server.db.models.base import BIG_ID, STATION_RANGED, Base


class User(Base):
    """A person who logs in: clerk, manager or admin; password hashed with scrypt."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(20))
    hall_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("halls.id"), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The account's subject at an external identity provider (single sign-on, later); none yet.
    external_subject: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    # 工号: shown with the name on the rating terminal (好差评: the rated person is identifiable).
    staff_number: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # The photo's thumbnail (JPEG), encrypted with the data key, bound to the user id (pii.py).
    photo_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class Sitting(Base):
    """A line of a day's roster: this clerk sits at this window on this day from..to (local times)."""

    __tablename__ = "sittings"
    __table_args__ = (Index("ix_sittings_hall_day", "hall_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hall_id: Mapped[str] = mapped_column(String(64), ForeignKey("halls.id"))
    window_id: Mapped[int] = mapped_column(Integer, ForeignKey("windows.id"))
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    day: Mapped[str] = mapped_column(String(10))  # the hall's business day, ISO date
    starts: Mapped[str] = mapped_column(String(5))  # "HH:MM", the hall's local time
    ends: Mapped[str] = mapped_column(String(5))


class ApiToken(Base):
    """A bearer token, stored as its SHA-256; bound to a role, a hall, a window, a user."""

    __tablename__ = "api_tokens"
    __table_args__ = STATION_RANGED

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    hall_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    window_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Sessions from POST /auth/login end at expires_at, or after idle_s without a request;
    # device tokens leave all three empty and never expire.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    idle_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoginThrottle(Base):
    """Failed log-ins in a row per account ("user:<name>") or source address ("addr:<ip>")."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    hall_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SocketTicket(Base):
    """A one-time, short-lived secret that opens one event socket for a token (stored hashed)."""

    __tablename__ = "socket_tickets"

    ticket_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(BIG_ID)
    hall_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
