"""Relaying stations: a township server that is a station of the city and the parent of villages.

The city keeps the whole registry: `hall-server station add ST-V --halls V --via ST-T` gives the
village a city-wide number (so its id range is unique in the network) and a credential, and
records that it reaches the city through the township (`stations.relay_id`). The township never
registers stations itself.

Parent side (the city, or any server a relay pushes to):
- a relay *serves* its own halls and those of every station relaying through it (`served_halls`),
  may send rows in all their id ranges (`served_ranges`), and its pull carries the registry rows
  of those stations (`registry_for`: number, halls, credential hash, revocation), so the township
  authenticates its villages and refuses a revoked one within one round;
- a relay's push carries what it knows of its stations' sync state (`relayed` in the push), which
  the parent records on their rows (`apply_relayed_status`), so the city's station list shows
  the villages' last contact, backlog and lag as the township saw them.

Station side (the township):
- `apply_registry` writes the registry rows into its own `stations` / `station_halls`, so its
  ordinary parent code (services.stations.push/pull) serves the villages;
- it applies a village's push like any parent (the village's chain verified, its events stored
  with their seq and hash, its rows upserted), with its capture triggers on: the village's rows
  join the township's change log and go up in the township's pushes, its events go up stream by
  stream from the township's events table (`sync_acks` has a row per relayed stream), seq for seq
  and hash for hash, so the city verifies the village's own chain and applies it by the same rules.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hall_server.db.models import Station, StationHall
from hall_server.errors import HallError
from hall_server.events import forget_station_halls
from hall_server.sync.protocol import station_range

logger = logging.getLogger(__name__)

_ST = Station.__table__
_SH = StationHall.__table__
# Relays below relays: a township of a county of the city. Deeper chains are refused at `add`.
MAX_RELAY_DEPTH = 4
# Station-list columns a relay reports for its stations (as it recorded them as their parent).
STATUS_COLUMNS = ("last_contact_at", "last_push_at", "waiting", "lag_s", "epoch", "config_version",
                  "conflict", "clock_skew_s")  # fmt: skip


# --- parent side ---------------------------------------------------------------------------------
def check_relay(s: Session, via: str) -> None:
    """A station may relay for another if it is registered here, not revoked, and not too deep."""
    depth = 0
    cur: str | None = via
    while cur is not None:
        row = s.execute(select(_ST.c.relay_id, _ST.c.revoked_at).where(_ST.c.id == cur)).first()
        if row is None:
            raise HallError("station.unknown", station_id=cur)
        if row.revoked_at is not None:
            raise HallError("sync.revoked", station_id=cur)
        depth += 1
        if depth >= MAX_RELAY_DEPTH:
            raise HallError("request.invalid", reason=f"at most {MAX_RELAY_DEPTH} relays in a chain")
        cur = row.relay_id


def relayed_ids(s: Session, station_id: str) -> list[str]:
    """The stations that reach this server through station_id (directly or through another)."""
    out: list[str] = []
    frontier = [station_id]
    for _ in range(MAX_RELAY_DEPTH):
        if not frontier:
            break
        below = [r[0] for r in s.execute(select(_ST.c.id).where(_ST.c.relay_id.in_(frontier)))]
        below = [x for x in below if x not in out and x != station_id]
        out.extend(below)
        frontier = below
    return sorted(out)


def served_halls(s: Session, station_id: str) -> list[str]:
    """The halls a station may write here: its own and those of the stations it relays for."""
    ids = [station_id, *relayed_ids(s, station_id)]
    return [
        r[0]
        for r in s.execute(select(_SH.c.hall_id).where(_SH.c.station_id.in_(ids)).order_by(_SH.c.hall_id))
    ]


def served_ranges(s: Session, station_id: str, station_no: int) -> list[tuple[int, int]]:
    """The id ranges a station's rows may use here: its own and those of the stations it relays for."""
    out = [station_range(station_no)]
    relayed = relayed_ids(s, station_id)
    if relayed:
        out += [
            station_range(int(r[0])) for r in s.execute(select(_ST.c.station_no).where(_ST.c.id.in_(relayed)))
        ]
    return out


def in_ranges(value: int, ranges: list[tuple[int, int]]) -> bool:
    """Whether an id lies in one of the ranges."""
    return any(lo <= value < hi for lo, hi in ranges)


def registry_for(s: Session, station_id: str) -> list[dict[str, Any]]:
    """The registry rows of the stations relayed through station_id (its pull carries them)."""
    relayed = relayed_ids(s, station_id)
    if not relayed:
        return []
    halls: dict[str, list[str]] = {}
    for r in s.execute(select(_SH.c.station_id, _SH.c.hall_id).where(_SH.c.station_id.in_(relayed))):
        halls.setdefault(r.station_id, []).append(r.hall_id)
    out = []
    for r in s.execute(select(_ST).where(_ST.c.id.in_(relayed)).order_by(_ST.c.station_no)):
        out.append(
            {
                "id": r.id,
                "station_no": int(r.station_no),
                "name": r.name or "",
                "credential_hash": r.credential_hash,
                "relay_id": None if r.relay_id == station_id else r.relay_id,
                "revoked": r.revoked_at is not None,
                "halls": sorted(halls.get(r.id, [])),
            }
        )
    return out


def apply_relayed_status(s: Session, station_id: str, status: dict[str, dict[str, Any]]) -> None:
    """Record the sync state a relay reports for its stations (others it names are ignored)."""
    if not status:
        return
    mine = set(relayed_ids(s, station_id))
    for sid, values in status.items():
        if sid not in mine or not isinstance(values, dict):
            continue
        clean: dict[str, Any] = {}
        for col in STATUS_COLUMNS:
            if col not in values:
                continue
            v = values[col]
            if col in ("last_contact_at", "last_push_at") and v is not None:
                v = _parse_time(v)
            clean[col] = v
        if clean:
            s.execute(update(_ST).where(_ST.c.id == sid).values(**clean))


# --- station (relay) side ------------------------------------------------------------------------
def apply_registry(s: Session, registry: list[dict[str, Any]], now: datetime) -> list[str]:
    """Write the parent's registry of the stations this one relays for; returns their halls.

    The parent owns it: numbers, halls, credentials and revocations are taken as sent (a station
    no longer listed is revoked here); this server's own record of their sync state is kept.
    """
    seen: set[str] = set()
    halls: list[str] = []
    for r in registry:
        sid = str(r["id"])
        seen.add(sid)
        revoked_at = now if r.get("revoked") else None
        values = {
            "station_no": int(r["station_no"]),
            "name": str(r.get("name") or ""),
            "credential_hash": str(r["credential_hash"]),
            "relay_id": r.get("relay_id"),
        }
        old = s.execute(select(_ST.c.id, _ST.c.revoked_at).where(_ST.c.id == sid)).first()
        if old is None:
            s.execute(_ST.insert().values(id=sid, created_at=now, rows_through=0, waiting=0,
                                          revoked_at=revoked_at, **values))  # fmt: skip
        else:
            keep = old.revoked_at if (old.revoked_at is not None and revoked_at is not None) else revoked_at
            s.execute(update(_ST).where(_ST.c.id == sid).values(revoked_at=keep, **values))
        want = [str(h) for h in r.get("halls") or []]
        have = {
            x[0]: x[1]
            for x in s.execute(select(_SH.c.hall_id, _SH.c.station_id).where(_SH.c.hall_id.in_(want)))
        }
        for h in want:
            if h not in have:
                s.execute(_SH.insert().values(hall_id=h, station_id=sid, applied_seq=0))
            elif have[h] != sid:
                s.execute(update(_SH).where(_SH.c.hall_id == h).values(station_id=sid))
        s.execute(_SH.delete().where(_SH.c.station_id == sid, _SH.c.hall_id.not_in(want)))
        halls += want
    s.execute(
        update(_ST).where(_ST.c.id.not_in(sorted(seen)), _ST.c.revoked_at.is_(None)).values(revoked_at=now)
    )
    forget_station_halls()
    return halls


def relayed_halls(s: Session) -> set[str]:
    """At a relay: the halls of the stations it relays for (not its own)."""
    return {r[0] for r in s.execute(select(_SH.c.hall_id))}


def local_ranges(s: Session, station_no: int) -> list[tuple[int, int]]:
    """At a relay: the id ranges of rows it sends up, its own and its stations'."""
    return [station_range(station_no)] + [
        station_range(int(r[0])) for r in s.execute(select(_ST.c.station_no))
    ]


def relayed_status(s: Session) -> dict[str, dict[str, Any]]:
    """At a relay: its stations' sync state as it recorded it, for the parent's station list."""
    out: dict[str, dict[str, Any]] = {}
    for r in s.execute(select(_ST)):
        row = r._mapping
        out[r.id] = {c: _iso(row[c]) if c.endswith("_at") else row[c] for c in STATUS_COLUMNS}
    return out


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return (dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)).isoformat()


def _parse_time(v: Any) -> datetime | None:
    try:
        dt = datetime.fromisoformat(str(v))
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
