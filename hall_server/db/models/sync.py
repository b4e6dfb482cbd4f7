"""Station sync (docs/sync.md): the parent's station registry and the station's own sync state.

Parent side (every hall-server can be one): `stations`, `station_halls` (which station owns which
hall, and the highest event seq applied per hall), `sync_down_changes` (the change log of the few
parent-owned operational tables a station shows: follow-up cases and steps, filled by triggers).
Station side: `sync_state` (one row: identity, epoch, checkpoints, link state), `sync_acks` (the
parent's acknowledged seq per hall) and `sync_changes` (row changes captured by triggers, waiting
to be pushed).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from hall_server.db.models.base import BIG_ID, STATION_RANGED, Base


class Station(Base):
    """A township or village station registered at this (parent) server."""

    __tablename__ = "stations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_no: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    credential_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The stream identity the station first pushed with (its database's epoch).
    epoch: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_contact_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_push_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # As the station last reported them: change-log position applied, records waiting, lag.
    rows_through: Mapped[int] = mapped_column(BigInteger, default=0)
    waiting: Mapped[int] = mapped_column(BigInteger, default=0)
    lag_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    config_version: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # A refused stream (sync.epoch_changed, sync.rewound): shown on the station list until cleared.
    conflict: Mapped[str | None] = mapped_column(String(40), nullable=True)
    conflict_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    conflict_epoch: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The station it reaches this server through (a township relaying for its villages; NULL:
    # directly). Migration 0015.
    relay_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # Its clock minus this server's, measured at its last push (sent_at against the receive time).
    clock_skew_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class StationHall(Base):
    """A hall owned by a station, and how far the station's event log of it has been applied."""

    __tablename__ = "station_halls"

    hall_id: Mapped[str] = mapped_column(String(64), ForeignKey("halls.id"), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64), ForeignKey("stations.id"), index=True)
    applied_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SyncDownChange(Base):
    """A parent-owned row of a station's hall changed (trigger-filled); stations pull by id cursor."""

    __tablename__ = "sync_down_changes"
    __table_args__ = (Index("ix_sync_down_changes_hall", "hall_id", "id"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(String(40))
    pk: Mapped[str] = mapped_column(String(100))
    hall_id: Mapped[str] = mapped_column(String(64))


class SyncState(Base):
    """The station's one row (id 1): identity, epoch, checkpoints and the link as last seen."""

    __tablename__ = "sync_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64))
    station_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Random, made when the station's database is set up: a re-created database has another.
    epoch: Mapped[str] = mapped_column(String(64))
    # The capture triggers write sync_changes only while this is true (off while applying
    # what came down, so it is not sent back up).
    capture: Mapped[bool] = mapped_column(Boolean, default=True)
    rows_through: Mapped[int] = mapped_column(BigInteger, default=0)
    config_version: Mapped[str | None] = mapped_column(String(80), nullable=True)
    down_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_ok_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    link_state: Mapped[str] = mapped_column(String(20), default="down")
    error_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    error_message: Mapped[str | None] = mapped_column(String(500), nullable=True)


class SyncAck(Base):
    """The highest event seq of one hall (or audit stream) the parent acknowledged."""

    __tablename__ = "sync_acks"

    hall_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    acked_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class SyncChange(Base):
    """A station-owned row changed (trigger-filled); deleted once the parent acknowledged it."""

    __tablename__ = "sync_changes"
    __table_args__ = STATION_RANGED

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(String(40))
    pk: Mapped[str] = mapped_column(String(100))


class ConfigGeneration(Base):
    """One row: bumped by triggers on every change of the downward configuration (migration
    0020), so a parent rebuilds a station's snapshot only when something in it may have changed."""

    __tablename__ = "config_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    gen: Mapped[int] = mapped_column(BigInteger, default=1)
