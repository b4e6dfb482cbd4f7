"""The tables of the hall server; `Base` is the DeclarativeBase other modules extend."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every hall-server table."""


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


class Window(Base):
    """A service window of a hall with its status, groups and weights, clerk and current ticket."""

    __tablename__ = "windows"
    __table_args__ = (UniqueConstraint("hall_id", "number", name="uq_windows_hall_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hall_id: Mapped[str] = mapped_column(String(64), ForeignKey("halls.id"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(20), default="comprehensive")
    status: Mapped[str] = mapped_column(String(20), default="closed")
    groups: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    clerk_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id"), nullable=True)
    current_ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The newest calls as [group, priority] pairs: the calling policy's weighted round-robin.
    call_history: Mapped[list[Any]] = mapped_column(JSON, default=list)


class ApiToken(Base):
    """A bearer token, stored as its SHA-256; bound to a role, a hall, a window, a user."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
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
    token_id: Mapped[int] = mapped_column(Integer)
    hall_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NumberCounter(Base):
    """The last ticket sequence drawn per hall, prefix and business day."""

    __tablename__ = "number_counters"

    hall_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(4), primary_key=True)
    business_day: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class HallSeq(Base):
    """The last event sequence number of a hall; updated in every writing transaction."""

    __tablename__ = "hall_seq"

    hall_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # The audit chain's head (hash of the newest event), and its start: events up to
    # chain_start were written before the chain existed (genesis marked at migration).
    last_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    chain_start: Mapped[int] = mapped_column(BigInteger, server_default="0")


class ServerMeta(Base):
    """Facts every server process of one database must agree on (the data key's fingerprint)."""

    __tablename__ = "server_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AuditCheck(Base):
    """The last periodic verification of one audit chain (a hall's events or an audit stream)."""

    __tablename__ = "audit_checks"

    hall_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ok: Mapped[bool] = mapped_column(Boolean)
    verified_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    verified_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    broken_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    problem: Mapped[str | None] = mapped_column(String(200), nullable=True)


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
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
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


class Event(Base):
    """One state change of a hall: the event stream and the audit trail (全过程留痕)."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("hall_id", "seq", name="uq_events_hall_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    hall_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    payload: Mapped[str] = mapped_column(Text)
    # The audit chain: hash of the hall's previous event, and hash(prev_hash || this record).
    prev_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(80), nullable=True)


class Rating(Base):
    """A five-level rating (好差评) of one served ticket."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hall_id: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int] = mapped_column(Integer, ForeignKey("tickets.id"), unique=True)
    window_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    clerk_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    service_code: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(20))
    prompted: Mapped[bool] = mapped_column(Boolean, default=False)
    client_id: Mapped[str | None] = mapped_column(String(100), nullable=True, unique=True)
    # Who recorded it ("device:rating:12", "visitor:<ticket id>"): a client_id retry is
    # answered only to the same recorder.
    recorded_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Device(Base):
    """A kiosk, display or rating device as last seen by its heartbeat."""

    __tablename__ = "devices"

    device_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    hall_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(40))
    faults: Mapped[list[Any]] = mapped_column(JSON, default=list)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
