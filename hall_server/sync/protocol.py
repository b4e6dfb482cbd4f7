"""What travels between a station and its parent: the table lists and the row images.

Ownership (docs/sync.md) decides every list here:
- UP_TABLES: rows a station creates and changes (its halls' operational records); it pushes
  their current images, the parent applies them and never edits them.
- DOWN_TABLES: parent-owned operational rows of a station's halls (follow-up cases and steps
  worked at the city; bookings and their slots, made on the city's booking page); the station
  applies them and never edits them.
- CONFIG_TABLES: the city's configuration for the station's halls, pulled as one versioned
  snapshot and applied atomically.
Windows are split by column: the city owns their configuration (number, name, kind, groups),
the station their operation (status, clerk, ticket in hand, call history).
Appointments are split by record: the booking is the city's, whether it was kept (the
`appointment_attendance` row: checked in with a ticket, or no-show) the station's.

A row image is the row as stored: binary columns base64, times ISO 8601 (UTC), dates ISO.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, LargeBinary, Table
from sqlalchemy.sql.sqltypes import BigInteger, Float

from hall_server.const import STATION_ID_SPAN
from hall_server.db.models import (
    ApiToken,
    Appointment,
    AppointmentAttendance,
    AppointmentSlot,
    Device,
    FollowupCase,
    FollowupStep,
    Hall,
    HallService,
    HallSettings,
    Matter,
    MatterStep,
    MatterVisit,
    QueueGroup,
    Rating,
    ServiceItem,
    Sitting,
    Ticket,
    TicketDocument,
    User,
    Window,
)
from hall_server.errors import HallError

# Station-owned tables, in foreign-key order (a parent row before the rows pointing at it).
UP_TABLES: tuple[Table, ...] = tuple(
    m.__table__  # type: ignore[misc]
    for m in (
        Device,
        Window,
        Ticket,
        AppointmentAttendance,
        Rating,
        Matter,
        MatterVisit,
        MatterStep,
        TicketDocument,
    )
)
# Parent-owned operational tables a station shows, in foreign-key order: follow-up cases worked
# at the city, and the bookings of its halls made at the city with their slots (capacity).
DOWN_TABLES: tuple[Table, ...] = tuple(
    m.__table__  # type: ignore[misc]
    for m in (FollowupCase, FollowupStep, AppointmentSlot, Appointment)
)
# The city's configuration, in foreign-key order.
CONFIG_TABLES: tuple[Table, ...] = tuple(
    m.__table__  # type: ignore[misc]
    for m in (ServiceItem, Hall, HallService, QueueGroup, HallSettings, User, Window, Sitting, ApiToken)
)
BY_NAME: dict[str, Table] = {t.name: t for t in (*UP_TABLES, *DOWN_TABLES, *CONFIG_TABLES)}

# Columns of a window each side owns.
WINDOW_CONFIG_COLUMNS = ("id", "hall_id", "number", "name", "kind", "groups")
WINDOW_OPERATION_COLUMNS = ("status", "clerk_id", "current_ticket_id", "last_ticket_id", "call_history")
# Columns a table sends up (None: all). The photo bytes of a document never leave the station.
UP_COLUMNS: dict[str, tuple[str, ...]] = {
    "windows": ("id", "hall_id", *WINDOW_OPERATION_COLUMNS),
    "ticket_documents": tuple(c.name for c in TicketDocument.__table__.c if c.name != "data_enc"),
}
# Columns the snapshot leaves out (they change with every use and are the station's business).
CONFIG_SKIP: dict[str, tuple[str, ...]] = {
    "windows": WINDOW_OPERATION_COLUMNS,
    "api_tokens": ("last_used_at",),
}
# Tables a station's rows reach the hall through another row: (column, parent table).
VIA_PARENT: dict[str, tuple[str, str]] = {
    "matter_visits": ("matter_id", "matters"),
    "matter_steps": ("matter_id", "matters"),
    "followup_steps": ("case_id", "followup_cases"),
}


def pk_column(table: Table) -> str:
    """The name of the table's single-column primary key."""
    cols = list(table.primary_key.columns)
    return cols[0].name


def pk_text(table: Table, value: Any) -> str:
    """The primary key as the change logs keep it (text)."""
    return str(value)


def pk_value(table: Table, text: str) -> Any:
    """The primary key from its text form."""
    col = table.c[pk_column(table)]
    return int(text) if isinstance(col.type, Integer) else text


def station_range(station_no: int) -> tuple[int, int]:
    """The ids [lo, hi) a station draws its own rows from."""
    return station_no * STATION_ID_SPAN, (station_no + 1) * STATION_ID_SPAN


def encode_value(value: Any) -> Any:
    """A stored value in its JSON form."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def encode_row(table: Table, row: Any, columns: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A row image: every column (or those given) in JSON form."""
    mapping = row._mapping if hasattr(row, "_mapping") else row
    names = columns or tuple(c.name for c in table.c)
    return {name: encode_value(mapping[name]) for name in names}


def decode_row(table: Table, image: dict[str, Any]) -> dict[str, Any]:
    """The stored values of a row image; 422 sync.bad_row on an unknown column or a bad value."""
    if not isinstance(image, dict):
        raise HallError("sync.bad_row", table=table.name, reason="a row is an object")
    out: dict[str, Any] = {}
    for name, value in image.items():
        col = table.c.get(name) if isinstance(name, str) else None
        if col is None:
            raise HallError("sync.bad_row", table=table.name, column=str(name)[:64], reason="unknown column")
        out[name] = _decode(table.name, col, value)
    pk = pk_column(table)
    if out.get(pk) is None:
        raise HallError("sync.bad_row", table=table.name, reason="the primary key is missing")
    return out


def _decode(table: str, col: Any, value: Any) -> Any:
    if value is None:
        if not col.nullable and not col.primary_key:
            raise HallError("sync.bad_row", table=table, column=col.name, reason="null in a required column")
        return None
    kind = col.type
    try:
        if isinstance(kind, LargeBinary):
            return base64.b64decode(str(value), validate=True)
        if isinstance(kind, DateTime):
            dt = datetime.fromisoformat(str(value))
            return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
        if isinstance(kind, Date):
            return date.fromisoformat(str(value))
        if isinstance(kind, Boolean):
            if not isinstance(value, bool):
                raise ValueError("not a boolean")
            return value
        if isinstance(kind, Integer | BigInteger):
            if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
                raise ValueError("not a 64-bit integer")
            return value
        if isinstance(kind, Float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError("not a number")
            return value
        if isinstance(kind, JSON):
            return value
        if not isinstance(value, str):
            raise ValueError("not a string")
        length = getattr(kind, "length", None)
        if length is not None and len(value) > length:
            raise ValueError("too long")
        if "\x00" in value:
            raise ValueError("NUL character")
        return value
    except (ValueError, TypeError, binascii.Error) as exc:
        raise HallError("sync.bad_row", table=table, column=col.name, reason=str(exc)[:100]) from exc
