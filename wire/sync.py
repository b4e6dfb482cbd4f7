"""Station sync: the push/pull protocol between a station and its parent, and the link state.

The station always initiates (push up, pull down) over HTTPS; its parent may be the city or an
intermediate server, the station only knows `parent_url`. See docs/sync.md.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from wire.base import DbInt, WireIn, WireOut

# Bounds of one push (hall_server.const keeps the same numbers for the server's own checks).
MAX_EVENTS = 5000
MAX_ROWS = 20000
MAX_TABLES = 20

Name = Field(min_length=1, max_length=64)
LinkState = Literal["ok", "down", "refused", "revoked", "rewound", "epoch_conflict"]


class SyncEvent(WireIn):
    """One event of a station's hall log, exactly as stored (seq and hash chain kept)."""

    hall_id: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=1, le=2**62)
    type: str = Field(min_length=1, max_length=40)
    at: str = Field(min_length=1, max_length=40)
    actor_kind: str = Field(min_length=1, max_length=20)
    actor_id: str | None = Field(default=None, max_length=100)
    payload: str = Field(max_length=200_000)
    prev_hash: str | None = Field(default=None, max_length=80)
    hash: str | None = Field(default=None, max_length=80)


class RelayedStatus(WireIn):
    """A relayed station's sync state as its relay (the township) recorded it as its parent."""

    last_contact_at: str | None = Field(default=None, max_length=40)
    last_push_at: str | None = Field(default=None, max_length=40)
    waiting: DbInt = Field(default=0, ge=0)
    lag_s: float | None = Field(default=None, ge=0, le=10**9)
    epoch: str | None = Field(default=None, max_length=64)
    config_version: str | None = Field(default=None, max_length=80)
    conflict: str | None = Field(default=None, max_length=40)
    clock_skew_s: float | None = Field(default=None, ge=-(10**7), le=10**7)


class PushIn(WireIn):
    """A station's batch: events after the acknowledged seq of each hall, and changed row images.

    `heads` is the station's own last seq per hall (a head below what the parent applied is a
    restored backup); `rows_through` the highest change id whose rows the batch carries.
    """

    station_id: str = Field(min_length=1, max_length=64)
    epoch: str = Field(min_length=8, max_length=64)
    events: list[SyncEvent] = Field(default_factory=list, max_length=MAX_EVENTS)
    rows: dict[str, list[dict[str, Any]]] = Field(default_factory=dict, max_length=MAX_TABLES)
    rows_through: DbInt = Field(default=0, ge=0)
    # The change id the batch's rows follow (the rows_through of the batch before it): a station
    # with pushes in flight says it, and the parent refuses a batch whose predecessor it has not
    # applied (409 sync.gap with rows_through). Absent: not checked (a station before pipelining).
    rows_after: DbInt | None = Field(default=None, ge=0)
    heads: dict[str, DbInt] = Field(default_factory=dict, max_length=200)
    waiting: DbInt = Field(default=0, ge=0)
    lag_s: float | None = Field(default=None, ge=0, le=10**9)
    config_version: str | None = Field(default=None, max_length=80)
    # The station's clock when it sent the batch: the parent measures the skew against its own.
    sent_at: str | None = Field(default=None, max_length=40)
    # Deleted station-owned rows: {table: [primary key as text]}, applied after the upserts.
    deletes: dict[str, list[str]] = Field(default_factory=dict, max_length=MAX_TABLES)
    # A relay's stations (township -> villages) and their sync state as it recorded it.
    relayed: dict[str, RelayedStatus] = Field(default_factory=dict, max_length=500)


class PushOut(WireOut):
    """What the parent applied: the highest seq per hall, and the change id the rows came through."""

    applied: dict[str, int]
    rows_through: int
    # Set while the parent's own kiosks and windows are busy: the most events and changes it
    # wants in the station's next batches (smaller batches hold its CPU less at a time).
    batch_max: int | None = None


class PullOut(WireOut):
    """City-owned configuration (when its version differs) and operational rows after the cursor."""

    station_id: str
    station_no: int
    halls: list[str]
    # Where each stream (hall, audit:hall) starts: the parent's events before it are its history.
    bases: dict[str, int]
    # What the station draws above (never lowering its own): {ids: {table: highest id held here in
    # the station's range}, numbers: [[hall, prefix, business day, last seq]]}.
    floors: dict[str, Any] = Field(default_factory=dict)
    config_version: str
    config: dict[str, list[dict[str, Any]]] | None
    down_cursor: int
    down_rows: dict[str, list[dict[str, Any]]]
    more: bool
    # The stations that reach the parent through this one (a township's villages): the registry
    # rows it needs to serve them as their parent (docs/sync.md, "Relays").
    relayed: list[dict[str, Any]] = Field(default_factory=list)


class PhotosWantedOut(WireOut):
    """The station's documents whose photo the parent lacks (oldest first, bounded; `more`: others wait)."""

    documents: list[int]
    more: bool


class PhotoStoredOut(WireOut):
    """A photo the parent checked: `stored` false when it had it already (sent again: no change)."""

    document_id: int
    stored: bool


class LinkOut(WireOut):
    """The station's link to its parent (`mode: "standalone"` on a server that is no station)."""

    mode: Literal["station", "standalone"]
    parent: str | None = None
    station_id: str | None = None
    state: LinkState | None = None
    last_ok_at: str | None = None
    waiting: int | None = None
    lag_s: float | None = None
    config_version: str | None = None
    error_code: str | None = None
    message: str | None = None
    message_en: str | None = None


class StationOut(WireOut):
    """A station as its parent sees it (GET /stations)."""

    id: str
    station_no: int
    name: str
    halls: list[str]
    epoch: str | None
    revoked: bool
    last_contact_at: str | None
    last_push_at: str | None
    waiting: int
    lag_s: float | None
    applied: dict[str, int]
    config_version: str | None
    silent: bool
    conflict: str | None
    conflict_at: str | None
    # The station it reaches this server through (a township), if any.
    relay_id: str | None = None
    # Its clock minus this server's at its last push (seconds), or its relay's report of it.
    clock_skew_s: float | None = None


class StationsOut(WireOut):
    """The stations of the halls the caller may see."""

    stations: list[StationOut]


class AttendanceConflictOut(WireOut):
    """A booking the city cancelled that its station checked in meanwhile (the ticket stands)."""

    appointment_id: int
    hall_id: str
    station_id: str
    service_code: str
    day: str
    start_at: str | None
    cancelled_at: str | None
    checked_in_at: str | None
    ticket_id: int | None
    ticket_number: str | None
    id_masked: str
    name_masked: str | None


class AttendanceConflictsOut(WireOut):
    """The booking conflicts of the halls the caller may see."""

    conflicts: list[AttendanceConflictOut]
