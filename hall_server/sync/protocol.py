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
    ServiceItemVersion,
    Sitting,
    StaffCall,
    Ticket,
    TicketDocument,
    User,
    Window,
    WorkCalendarYear,
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
        # A visitor's 呼叫工作人员 at the station's kiosk: the parent's dashboard lists it among
        # the hall's alerts; the station's floor staff answer it (its acknowledgement comes up too).
        StaffCall,
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
    for m in (
        ServiceItem,
        ServiceItemVersion,
        Hall,
        HallService,
        QueueGroup,
        HallSettings,
        WorkCalendarYear,
        User,
        Window,
        Sitting,
        ApiToken,
    )
)
BY_NAME: dict[str, Table] = {t.name: t for t in (*UP_TABLES, *DOWN_TABLES, *CONFIG_TABLES)}

# Columns of a window each side owns.
WINDOW_CONFIG_COLUMNS = ("id", "hall_id", "number", "name", "kind", "zone", "groups")
WINDOW_OPERATION_COLUMNS = ("status", "clerk_id", "current_ticket_id", "last_ticket_id", "call_history")
# Columns a table sends up (None: all). A document's photo goes up on its own channel after
# the records (sync/photos.py), never in a batch.
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
    plan = _plan(table)
    out: dict[str, Any] = {}
    for name in columns or plan:
        value = mapping[name]
        # Only binary, time and date values change form; the others are JSON as stored.
        out[name] = value if value is None or plan[name][0] >= _BOOL else encode_value(value)
    return out


# How a column's JSON value is checked and turned into the stored value (see _plan).
_BINARY, _DATETIME, _DATE, _BOOL, _INT, _FLOAT, _JSON, _TEXT = range(8)
_PLANS: dict[str, dict[str, tuple[int, bool, int | None]]] = {}


def _plan(table: Table) -> dict[str, tuple[int, bool, int | None]]:
    """Per column: (kind, null allowed, max length), worked out once per table (a catch-up
    decodes hundreds of thousands of values; the type tests per value were most of the cost)."""
    plan = _PLANS.get(table.name)
    if plan is not None:
        return plan
    plan = {}
    for col in table.c:
        t = col.type
        if isinstance(t, LargeBinary):
            kind = _BINARY
        elif isinstance(t, DateTime):
            kind = _DATETIME
        elif isinstance(t, Date):
            kind = _DATE
        elif isinstance(t, Boolean):
            kind = _BOOL
        elif isinstance(t, Integer | BigInteger):
            kind = _INT
        elif isinstance(t, Float):
            kind = _FLOAT
        elif isinstance(t, JSON):
            kind = _JSON
        else:
            kind = _TEXT
        plan[col.name] = (kind, bool(col.nullable or col.primary_key), getattr(t, "length", None))
    _PLANS[table.name] = plan
    return plan


def decode_row(table: Table, image: dict[str, Any], convert: bool = True) -> dict[str, Any]:
    """The stored values of a row image; 422 sync.bad_row on an unknown column or a bad value.

    With convert=False every value is checked the same way but kept in its JSON form (a time
    without an offset gets "+00:00"), for a database that reads the image as JSON itself.
    """
    if not isinstance(image, dict):
        raise HallError("sync.bad_row", table=table.name, reason="a row is an object")
    plan = _plan(table)
    out: dict[str, Any] = {}
    for name, value in image.items():
        spec = plan.get(name) if isinstance(name, str) else None
        if spec is None:
            raise HallError("sync.bad_row", table=table.name, column=str(name)[:64], reason="unknown column")
        kind, nullable, length = spec
        if value is None:
            if not nullable:
                raise HallError(
                    "sync.bad_row", table=table.name, column=name, reason="null in a required column"
                )
            out[name] = None
        elif kind == _TEXT and type(value) is str and (length is None or len(value) <= length):
            if "\x00" in value:
                raise HallError("sync.bad_row", table=table.name, column=name, reason="NUL character")
            out[name] = value  # the common case, without a call
        elif kind == _INT and type(value) is int and -(2**63) <= value < 2**63:
            out[name] = value
        else:
            out[name] = _decode(table.name, name, kind, length, value, convert)
    pk = pk_column(table)
    if out.get(pk) is None:
        raise HallError("sync.bad_row", table=table.name, reason="the primary key is missing")
    return out


def _decode(table: str, column: str, kind: int, length: int | None, value: Any, convert: bool) -> Any:
    try:
        if kind == _BINARY:
            raw = base64.b64decode(str(value), validate=True)
            return raw if convert else value
        if kind == _DATETIME:
            dt = datetime.fromisoformat(str(value))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
                return dt if convert else dt.isoformat()
            return dt if convert else value
        if kind == _DATE:
            d = date.fromisoformat(str(value))
            return d if convert else value
        if kind == _BOOL:
            if not isinstance(value, bool):
                raise ValueError("not a boolean")
            return value
        if kind == _INT:
            if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
                raise ValueError("not a 64-bit integer")
            return value
        if kind == _FLOAT:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError("not a number")
            return value
        if kind == _JSON:
            return value
        if not isinstance(value, str):
            raise ValueError("not a string")
        if length is not None and len(value) > length:
            raise ValueError("too long")
        if "\x00" in value:
            raise ValueError("NUL character")
        return value
    except (ValueError, TypeError, binascii.Error) as exc:
        raise HallError("sync.bad_row", table=table, column=column, reason=str(exc)[:100]) from exc
