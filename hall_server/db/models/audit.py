"""The server's own records: the data-key fingerprint and the audit chains' verification state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hall_server.db.models.base import Base


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
