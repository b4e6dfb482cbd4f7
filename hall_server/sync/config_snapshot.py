"""The city's configuration of a station's halls: one snapshot with a version, both ends of it.

Parent side: `snapshot()` reads the configuration a station needs (its halls and their
ancestors, every service item, hall services, queue groups, hall settings, the windows'
configuration, the staff of its halls with their password hashes, staff numbers (工号) and photo
thumbnails (ciphertext under the city's data key, which a station shares; about 10 KB each),
their roster (sittings), and the tokens of its halls
with hashes and revocations) and names it by a hash of its canonical JSON: the version.
`cached_snapshot()` keeps the snapshot built for a set of halls while the database's config
generation (one row, bumped by triggers on every configuration table in the writer's
transaction; migration 0020; tokens only for station halls and never by a new session, 0031) stays the same, for at most CONFIG_CACHE_TTL_S: an idle pull costs
one read of that row instead of the whole snapshot and its hash, and a revocation still reaches
the station in the round after it commits (its commit bumps the generation). `down_rows()` reads the parent-owned operational rows
of the station's halls changed after a cursor (the trigger-filled sync_down_changes).

Station side: `apply_config()` and `apply_down()` write them in the caller's transaction, with
capture off (nothing that came down is sent back up).

Holiday calendars ship with the software (assets/calendar); the years the city edited on the
dashboard (work_calendars) travel in the snapshot and override the files at the station too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import weakref
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, or_, select, update
from sqlalchemy.orm import Session

from hall_server.const import CONFIG_CACHE_MAX, CONFIG_CACHE_TTL_S, DEVICE_ROLES, STATION_ID_SPAN
from hall_server.db.models import ApiToken, ConfigGeneration, Hall, SyncDownChange, Window
from hall_server.db.upsert import upsert_statement
from hall_server.sync.protocol import (
    CONFIG_SKIP,
    CONFIG_TABLES,
    DOWN_TABLES,
    decode_row,
    encode_row,
    pk_column,
    pk_value,
)

_HALLS = Hall.__table__
_TOKENS = ApiToken.__table__
_WINDOWS = Window.__table__
_DOWN = SyncDownChange.__table__
_GEN = ConfigGeneration.__table__
DOWN_PAGE = 1000
logger = logging.getLogger(__name__)


def ancestors(s: Session, halls: list[str]) -> list[str]:
    """The halls and every hall above them."""
    parents = dict(s.execute(select(_HALLS.c.id, _HALLS.c.parent_id)).all())
    out: list[str] = []
    for h in halls:
        cur: str | None = h
        while cur is not None and cur not in out:
            out.append(cur)
            cur = parents.get(cur)
    return out


def _columns(table: Table) -> tuple[str, ...]:
    skip = CONFIG_SKIP.get(table.name, ())
    return tuple(c.name for c in table.c if c.name not in skip)


def snapshot(s: Session, halls: list[str], now: datetime) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    """(version, {table: [row images]}) of the configuration for these station halls."""
    tree = ancestors(s, halls)
    out: dict[str, list[dict[str, Any]]] = {}
    for table in CONFIG_TABLES:
        stmt = select(table)
        name = table.name
        if name == "halls":
            stmt = stmt.where(table.c.id.in_(tree))
        elif name in ("hall_services", "queue_groups", "hall_ext_settings"):
            stmt = stmt.where(table.c.hall_id.in_(tree))
        elif name in ("users", "windows", "sittings"):
            stmt = stmt.where(table.c.hall_id.in_(halls))
        elif name == "api_tokens":
            # Device tokens with their revocations; live, unexpired sessions made at the city.
            stmt = stmt.where(
                table.c.hall_id.in_(halls),
                table.c.id < STATION_ID_SPAN,
                or_(
                    table.c.role.in_(DEVICE_ROLES),
                    (table.c.revoked_at.is_(None))
                    & (or_(table.c.expires_at.is_(None), table.c.expires_at > now)),
                ),
            )
        order = [table.c[c.name] for c in table.primary_key.columns]
        rows = s.execute(stmt.order_by(*order)).all()
        cols = _columns(table)
        out[name] = [encode_row(table, r, cols) for r in rows]
    # Ancestors first, so a hall's parent exists before it on the station.
    out["halls"].sort(key=lambda r: _depth(r["id"], {r2["id"]: r2["parent_id"] for r2 in out["halls"]}))
    canonical = json.dumps(out, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    version = "c1:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]
    return version, out


class _SnapshotCache:
    """Snapshots per database (engine) and set of halls, with the generation they were read at."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Keyed by the engine object, not its URL: a test database re-made under the same name
        # starts its generation again.
        self._by_engine: weakref.WeakKeyDictionary[Any, OrderedDict[tuple[str, ...], Any]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, engine: Any, halls: tuple[str, ...], gen: int, now: datetime) -> Any:
        with self._lock:
            entries = self._by_engine.get(engine)
            hit = entries.get(halls) if entries is not None else None
            if (
                hit is None
                or hit[0] != gen
                or not hit[1] <= now < hit[1] + timedelta(seconds=CONFIG_CACHE_TTL_S)
            ):
                return None
            entries.move_to_end(halls)  # type: ignore[union-attr]
            return hit[2]

    def put(self, engine: Any, halls: tuple[str, ...], gen: int, now: datetime, value: Any) -> None:
        with self._lock:
            entries = self._by_engine.setdefault(engine, OrderedDict())
            entries[halls] = (gen, now, value)
            entries.move_to_end(halls)
            while len(entries) > CONFIG_CACHE_MAX:
                entries.popitem(last=False)


_CACHE = _SnapshotCache()


def cached_snapshot(
    s: Session, halls: list[str], now: datetime
) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    """snapshot(), reused while the config generation is unchanged (at most CONFIG_CACHE_TTL_S:
    a session token's expiry changes the snapshot with no write). The generation is read first,
    in the caller's consistent read: a snapshot is never filed under a newer generation than
    the rows it was built from."""
    gen = s.execute(select(_GEN.c.gen).where(_GEN.c.id == 1)).scalar()
    if gen is None:  # no generation row: nothing tells a change, build it every time
        return snapshot(s, halls, now)
    engine = s.get_bind().engine
    key = tuple(halls)
    hit = _CACHE.get(engine, key, int(gen), now)
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    value = snapshot(s, halls, now)
    _CACHE.put(engine, key, int(gen), now, value)
    return value


def _depth(hall: str, parents: dict[str, str | None]) -> int:
    n = 0
    cur = parents.get(hall)
    while cur is not None and n < 100:
        n += 1
        cur = parents.get(cur)
    return n


def down_rows(
    s: Session, halls: list[str], cursor: int, limit: int = DOWN_PAGE
) -> tuple[dict[str, list[dict[str, Any]]], int, bool]:
    """Parent-owned rows of these halls changed after cursor: ({table: images}, new cursor, more)."""
    changes = s.execute(
        select(_DOWN.c.id, _DOWN.c.table_name, _DOWN.c.pk)
        .where(_DOWN.c.hall_id.in_(halls), _DOWN.c.id > cursor)
        .order_by(_DOWN.c.id)
        .limit(limit)
    ).all()
    if not changes:
        return {}, cursor, False
    keys: dict[str, set[str]] = {}
    for c in changes:
        keys.setdefault(c.table_name, set()).add(c.pk)
    out: dict[str, list[dict[str, Any]]] = {}
    for table in DOWN_TABLES:
        pks = keys.get(table.name)
        if not pks:
            continue
        pk = pk_column(table)
        values = sorted(pk_value(table, k) for k in pks)
        rows = s.execute(select(table).where(table.c[pk].in_(values)).order_by(table.c[pk])).all()
        out[table.name] = [encode_row(table, r) for r in rows]
    return out, int(changes[-1].id), len(changes) == limit


def apply_config(
    s: Session, config: dict[str, list[dict[str, Any]]], halls: list[str], now: datetime
) -> None:
    """Write a snapshot at the station (caller's transaction, capture off)."""
    dialect = s.get_bind().dialect.name
    for table in CONFIG_TABLES:
        images = config.get(table.name)
        if images is None:
            continue
        rows = [decode_row(table, img) for img in images]
        pk = pk_column(table)
        pk_cols = [c.name for c in table.primary_key.columns]
        for row in rows:
            set_ = {c: v for c, v in row.items() if c not in pk_cols}
            if table.name == "windows":
                # Insert with the station's defaults; an existing window keeps its operation.
                exists = s.execute(select(_WINDOWS.c.id).where(_WINDOWS.c.id == row["id"])).first()
                if exists:
                    s.execute(update(_WINDOWS).where(_WINDOWS.c.id == row["id"]).values(**set_))
                else:
                    s.execute(_WINDOWS.insert().values(status="open", call_history=[], **row))
                continue
            stmt = upsert_statement(
                dialect, table, row, index_elements=pk_cols, set_=set_ or {pk: row[pk]}, returning=table.c[pk]
            )
            s.execute(stmt)
        _retire_missing(s, table, rows, halls, now)


def _retire_missing(
    s: Session, table: Table, rows: list[dict[str, Any]], halls: list[str], now: datetime
) -> None:
    """What the city no longer has for the station's halls: deleted, deactivated or revoked."""
    name = table.name
    if name == "hall_services":
        keep = {(r["hall_id"], r["service_code"]) for r in rows}
        have = s.execute(
            select(table.c.hall_id, table.c.service_code).where(table.c.hall_id.in_(halls))
        ).all()
        for h, code in have:
            if (h, code) not in keep:
                s.execute(delete(table).where(table.c.hall_id == h, table.c.service_code == code))
    elif name == "sittings":
        # The roster is the city's: a line it took off goes at the station too.
        keep_ids = [r["id"] for r in rows]
        s.execute(delete(table).where(table.c.hall_id.in_(halls), table.c.id.not_in(keep_ids)))
    elif name == "users":
        keep_ids = [r["id"] for r in rows]
        s.execute(
            update(table).where(table.c.hall_id.in_(halls), table.c.id.not_in(keep_ids)).values(active=False)
        )
    elif name == "api_tokens":
        keep_ids = [r["id"] for r in rows]
        s.execute(
            update(table)
            .where(
                table.c.hall_id.in_(halls),
                table.c.id < STATION_ID_SPAN,
                table.c.id.not_in(keep_ids),
                table.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )


def apply_down(s: Session, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Write the parent-owned operational rows at the station (caller's transaction, capture off)."""
    dialect = s.get_bind().dialect.name
    for table in DOWN_TABLES:
        for image in rows.get(table.name) or ():
            row = decode_row(table, image)
            pk = pk_column(table)
            set_ = {c: v for c, v in row.items() if c != pk}
            s.execute(
                upsert_statement(dialect, table, row, index_elements=[pk], set_=set_, returning=table.c[pk])
            )
