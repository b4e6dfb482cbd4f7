"""Use cases of station sync: the parent's station registry and the two sync calls, the link view.

A station authenticates with the credential its parent issued (`hall-server station add`),
stored as SHA-256 like api tokens: the principal kind "station". The other principals (api
tokens) are refused the sync calls (403), and a station credential opens nothing else.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from hall_server.auth import MANAGER_ROLES, Principal, authenticate, require_roles, visible_halls
from hall_server.const import ERRORS, STATION_NO_MAX, SYNC_BATCH_UNDER_LOAD, SYNC_PHOTOS_WANTED
from hall_server.context import ServerContext
from hall_server.db.engine import Database
from hall_server.db.models import (
    Appointment,
    AppointmentAttendance,
    Base,
    Event,
    Hall,
    HallSeq,
    Station,
    StationHall,
    SyncAck,
    SyncChange,
    Ticket,
)
from hall_server.errors import HallError
from hall_server.events import forget_station_halls
from hall_server.passwords import new_token, token_hash
from hall_server.priority import HOT, YieldBudget
from hall_server.sync import capture, config_snapshot, parent, photos, relay
from hall_server.sync.protocol import station_range
from wire.sync import PushIn

logger = logging.getLogger(__name__)

_ST = Station.__table__
_SH = StationHall.__table__
_HALLS = Hall.__table__
_SEQ = HallSeq.__table__
_EVENTS = Event.__table__
_ACKS = SyncAck.__table__
_CHANGES = SyncChange.__table__
_TICKETS = Ticket.__table__
_APPTS = Appointment.__table__
_ATT = AppointmentAttendance.__table__
# The booking conflicts a manager's list shows at most (newest booked day first).
CONFLICTS_MAX = 500
# Business days back whose ticket numbers a pull carries (floors_of): today's, and a day-end margin.
FLOOR_DAYS = 2
# Refusals a parent records on the station's row, so the station list shows them.
CONFLICTS = ("sync.epoch_changed", "sync.rewound")


# --- the station principal ---------------------------------------------------------------------
def station_of(ctx: ServerContext, token: str | None) -> str:
    """The station id of a station credential; 401 without one, 403 for an ordinary token."""
    if not token:
        raise HallError("auth.required")
    with ctx.db.read_conn() as conn:
        row = conn.execute(
            select(_ST.c.id, _ST.c.revoked_at).where(_ST.c.credential_hash == token_hash(token))
        ).first()
        if row is None:
            authenticate(conn, token)  # 401 auth.invalid unless it is a live api token ...
            raise HallError("auth.forbidden", reason="station credential required")  # ... which may not sync
    if row.revoked_at is not None:
        raise HallError("sync.revoked", station_id=row.id)
    return str(row.id)


# --- the two sync calls ------------------------------------------------------------------------
def push(
    ctx: ServerContext, token: str | None, body: PushIn, budget: YieldBudget | None = None
) -> dict[str, Any]:
    """POST /sync/push: apply the station's batch in one transaction (see sync/parent.py).

    budget: how long the apply may still pause for this server's own kiosks and windows.
    """
    station_id = station_of(ctx, token)
    now = ctx.now()
    try:
        with ctx.db.write() as s:
            answer = parent.apply_push(
                s, station_id, body, now, relaying=ctx.settings.station_mode, budget=budget
            )
        if HOT.recently_busy():
            # Smaller batches while the kiosks and windows are busy: each holds the GIL less.
            answer["batch_max"] = SYNC_BATCH_UNDER_LOAD
        return answer
    except IntegrityError as exc:
        # A row image that breaks a constraint (a reference to a row never sent, a duplicate
        # unique value): the batch is refused whole, nothing applied.
        logger.warning("station %s sent a row the database refuses: %s", station_id, exc.orig)
        raise HallError("sync.bad_row", reason="a row breaks a constraint of the parent's database") from None
    except DataError as exc:
        # A value the parent's database cannot take (an event payload that is not JSON, a time it
        # cannot read): refused whole, like a constraint.
        logger.warning("station %s sent a value the database refuses: %s", station_id, exc.orig)
        raise HallError("sync.bad_row", reason="a value the parent's database cannot store") from None
    except HallError as exc:
        if exc.code in CONFLICTS:
            _record_conflict(ctx.db, station_id, exc.code, body.epoch, now)
            logger.warning("station %s refused: %s %s", station_id, exc.code, exc.detail)
        elif exc.code == "sync.gap":
            _touch(ctx.db, station_id, now)
        raise


def _record_conflict(db: Database, station_id: str, code: str, epoch: str, now: datetime) -> None:
    with db.write() as s:
        s.execute(
            update(_ST)
            .where(_ST.c.id == station_id)
            .values(
                conflict=code.split(".", 1)[1], conflict_at=now, conflict_epoch=epoch, last_contact_at=now
            )
        )


def _touch(db: Database, station_id: str, now: datetime) -> None:
    with db.write() as s:
        s.execute(update(_ST).where(_ST.c.id == station_id).values(last_contact_at=now))


def pull(
    ctx: ServerContext, token: str | None, config_version: str | None, down_cursor: int
) -> dict[str, Any]:
    """GET /sync/pull: the configuration if its version differs, and parent-owned rows after the cursor."""
    station_id = station_of(ctx, token)
    now = ctx.now()
    with ctx.db.read(consistent=True) as s:
        st = s.execute(select(_ST).where(_ST.c.id == station_id)).one()
        halls = parent.halls_of(s, station_id)
        # A relay (township) also gets what the stations below it need (sync/relay.py).
        served = relay.served_halls(s, station_id)
        registry = relay.registry_for(s, station_id)
        version, config = config_snapshot.cached_snapshot(s, served, now)
        rows, cursor, more = config_snapshot.down_rows(s, served, down_cursor)
        bases = bases_of(s, served)
        # With the configuration only (a fresh or re-installed station's first pull has none):
        # a running station draws above its own already, and the eleven max-id reads were half
        # of an idle pull's cost.
        floors = floors_of(s, int(st.station_no), halls, now) if version != config_version else {}
    _touch(ctx.db, station_id, now)
    return {
        "station_id": station_id,
        "station_no": int(st.station_no),
        "halls": halls,
        "bases": bases,
        "floors": floors,
        "config_version": version,
        "config": None if version == config_version else config,
        "down_cursor": cursor,
        "down_rows": rows,
        "more": more,
        "relayed": registry,
    }


# --- document photos (sync/photos.py) ------------------------------------------------------------
def photos_wanted(ctx: ServerContext, token: str | None, after: int = 0) -> dict[str, Any]:
    """GET /sync/photos: the station's documents after `after` whose photo this server lacks, oldest first."""
    station_id = station_of(ctx, token)
    with ctx.db.read() as s:
        st = s.execute(select(_ST.c.station_no).where(_ST.c.id == station_id)).one()
        halls = relay.served_halls(s, station_id)
        ranges = relay.served_ranges(s, station_id, int(st.station_no))
        ids, more = photos.wanted(s, halls, ranges, SYNC_PHOTOS_WANTED, after)
    return {"documents": ids, "more": more}


def put_photo(
    ctx: ServerContext, token: str | None, document_id: int, blob: bytes, budget: YieldBudget | None = None
) -> dict[str, Any]:
    """PUT /sync/photos/{id}: keep a station's photo of one of its documents (once)."""
    station_id = station_of(ctx, token)
    if not blob:
        raise HallError("document.empty")
    if budget is not None:
        budget.pause()  # this server's own kiosks and windows first, as for a push
    with ctx.db.write() as s:
        st = parent.lock_station(s, station_id)
        halls = set(relay.served_halls(s, station_id))
        ranges = relay.served_ranges(s, station_id, int(st.station_no))
        stored = photos.store(s, ctx.protector, document_id, blob, halls, ranges)
    if stored:
        logger.info(
            "photo of document %s from station %s kept (%d bytes)", document_id, station_id, len(blob)
        )
    return {"document_id": document_id, "stored": stored}


# --- the registry (CLI) ------------------------------------------------------------------------
def add_station(
    db: Database,
    station_id: str,
    halls: list[str],
    name: str = "",
    now: datetime | None = None,
    via: str | None = None,
) -> dict[str, Any]:
    """Register a station owning halls; returns its setup bundle (the credential, shown once).

    via: the station it reaches this server through (a township relaying for this village).
    """
    now = now or datetime.now(UTC)
    if not halls:
        raise HallError("request.invalid", reason="a station owns at least one hall")
    credential = new_token()
    with db.write() as s:
        if s.execute(select(_ST.c.id).where(_ST.c.id == station_id)).first():
            raise HallError("station.exists", station_id=station_id)
        if via is not None:
            relay.check_relay(s, via)
        known = {r[0] for r in s.execute(select(_HALLS.c.id).where(_HALLS.c.id.in_(halls)))}
        for h in halls:
            if h not in known:
                raise HallError("hall.unknown", hall_id=h)
        taken = s.execute(select(_SH.c.hall_id, _SH.c.station_id).where(_SH.c.hall_id.in_(halls))).first()
        if taken is not None:
            raise HallError("station.hall_taken", hall_id=taken.hall_id, station_id=taken.station_id)
        number = int(s.execute(select(func.coalesce(func.max(_ST.c.station_no), 0))).scalar() or 0) + 1
        if number > STATION_NO_MAX:
            raise HallError("request.invalid", reason="no station numbers left")
        s.execute(
            _ST.insert().values(
                id=station_id,
                station_no=number,
                name=name,
                credential_hash=token_hash(credential),
                created_at=now,
                rows_through=0,
                waiting=0,
                relay_id=via,
            )
        )
        for h in halls:
            s.execute(_SH.insert().values(hall_id=h, station_id=station_id, applied_seq=0))
        _rebase_streams(s, capture.streams_of(halls))
    forget_station_halls()
    bundle: dict[str, Any] = {
        "station_id": station_id,
        "station_no": number,
        "halls": list(halls),
        "credential": credential,
    }
    if via is not None:
        bundle["via"] = via  # its HALL_PARENT_URL is the relay's address, not this server's
    return bundle


def _rebase_streams(s: Session, streams: list[str]) -> None:
    """The station continues each of its halls' logs after what this server has (say N events).

    The chain is re-based there (chain_start = N, no head): the station starts its chain at the
    genesis of N, which this server's verifier then expects; the N records before are history
    written before the station, like those before migration 0008.
    """
    have = {r.hall_id for r in s.execute(select(_SEQ.c.hall_id).where(_SEQ.c.hall_id.in_(streams)))}
    for stream in streams:
        if stream in have:
            s.execute(
                update(_SEQ)
                .where(_SEQ.c.hall_id == stream)
                .values(chain_start=_SEQ.c.last_seq, last_hash=None)
            )
        else:
            s.execute(_SEQ.insert().values(hall_id=stream, last_seq=0, chain_start=0, last_hash=None))


def bases_of(s: Session, halls: list[str]) -> dict[str, int]:
    """Where a station database that has none of its streams yet starts each: the seq applied here.

    For a station just added that is where the chain was re-based (nothing applied since). A
    station with a stream keeps its own checkpoint and ignores this, so a restored backup still
    pushes its (shorter) log and is refused as rewound. A re-installed station (a fresh database)
    continues after what this server has; its new epoch is refused until `station reset`, which
    re-bases the chain there (reset_station).
    """
    streams = capture.streams_of(halls)
    return {
        r.hall_id: int(r.last_seq or 0)
        for r in s.execute(select(_SEQ.c.hall_id, _SEQ.c.last_seq).where(_SEQ.c.hall_id.in_(streams)))
    }


def floors_of(s: Session, station_no: int, halls: list[str], now: datetime) -> dict[str, Any]:
    """What a station must draw above: the highest id this server holds in the station's range per
    ranged table, and the last ticket number per hall, prefix and recent business day.

    A station applies them never lowering its own (capture.apply_floors): for a running station
    they are behind what it drew itself, but a re-installed station (`station reset`: same number)
    or a replacement (`station remove`, `add`) would otherwise draw ids and numbers again that
    this server holds, overwriting the old station's rows or colliding with them.
    """
    lo, hi = station_range(station_no)
    ids: dict[str, int] = {}
    for name in capture.RANGED_TABLES:
        table = Base.metadata.tables[name]
        top = s.execute(select(func.max(table.c.id)).where(table.c.id >= lo, table.c.id < hi)).scalar()
        if top is not None:
            ids[name] = int(top)
    since = (now - timedelta(days=FLOOR_DAYS)).date()
    numbers = [
        [r.hall_id, r.prefix, r.business_day.isoformat(), int(r.top)]
        for r in s.execute(
            select(
                _TICKETS.c.hall_id,
                _TICKETS.c.prefix,
                _TICKETS.c.business_day,
                func.max(_TICKETS.c.seq).label("top"),
            )
            .where(_TICKETS.c.hall_id.in_(halls), _TICKETS.c.business_day >= since)
            .group_by(_TICKETS.c.hall_id, _TICKETS.c.prefix, _TICKETS.c.business_day)
        )
    ]
    return {"ids": ids, "numbers": numbers}


def revoke_station(db: Database, station_id: str, now: datetime | None = None) -> None:
    """Revoke a station's credential (its next request is refused: sync.revoked)."""
    with db.write() as s:
        done = s.execute(
            update(_ST)
            .where(_ST.c.id == station_id, _ST.c.revoked_at.is_(None))
            .values(revoked_at=now or datetime.now(UTC))
        )
        if not done.rowcount and not s.execute(select(_ST.c.id).where(_ST.c.id == station_id)).first():
            raise HallError("station.unknown", station_id=station_id)


def reset_station(db: Database, station_id: str) -> list[str]:
    """Accept a re-installed station: forget the recorded epoch and conflict, and re-base its streams.

    The chain of each of its streams is re-based at the seq applied here (chain_start = N, no
    head), as `station add` does: a fresh database (no stream yet) takes N as its base on its
    pull and continues at N + 1 from the genesis of N, under its new epoch. A database restored
    from an older backup keeps its own checkpoint, so its log is still behind (or does not link
    to the re-based chain) and stays refused as rewound. Returns the streams re-based.
    """
    with db.write() as s:
        if not s.execute(select(_ST.c.id).where(_ST.c.id == station_id)).first():
            raise HallError("station.unknown", station_id=station_id)
        s.execute(
            update(_ST)
            .where(_ST.c.id == station_id)
            # A fresh database's change log starts again at 1.
            .values(epoch=None, conflict=None, conflict_at=None, conflict_epoch=None, rows_through=0)
        )
        streams = capture.streams_of(parent.halls_of(s, station_id))
        _rebase_streams(s, streams)
    return streams


def remove_station(db: Database, station_id: str) -> list[str]:
    """Free a revoked station's halls: they are the city's again, or another station's to take.

    The records it sent stay (events, tickets, ratings: they are the halls' history), and so does
    its row, revoked and without halls, so its number (its id range) is never given again.
    Returns the halls freed.
    """
    with db.write() as s:
        st = s.execute(select(_ST.c.id, _ST.c.revoked_at).where(_ST.c.id == station_id)).first()
        if st is None:
            raise HallError("station.unknown", station_id=station_id)
        if st.revoked_at is None:
            raise HallError("station.active", station_id=station_id)
        halls = parent.halls_of(s, station_id)
        s.execute(_SH.delete().where(_SH.c.station_id == station_id))
    forget_station_halls()
    return halls


def station_rows(
    s: Session, halls: list[str] | None, now: datetime, silent_after_s: float
) -> list[dict[str, Any]]:
    """Every station (or those owning one of halls) with its sync state."""
    owned: dict[str, list[tuple[str, int]]] = {}
    for r in s.execute(select(_SH.c.station_id, _SH.c.hall_id, _SH.c.applied_seq).order_by(_SH.c.hall_id)):
        owned.setdefault(r.station_id, []).append((r.hall_id, int(r.applied_seq or 0)))
    out = []
    for st in s.execute(select(_ST).order_by(_ST.c.station_no)):
        mine = owned.get(st.id, [])
        if halls is not None and not any(h in halls for h, _ in mine):
            continue
        last = _aware(st.last_contact_at)
        silent = st.revoked_at is None and (last is None or (now - last).total_seconds() > silent_after_s)
        out.append(
            {
                "id": st.id,
                "station_no": int(st.station_no),
                "name": st.name or "",
                "halls": [h for h, _ in mine],
                "epoch": st.epoch,
                "revoked": st.revoked_at is not None,
                "last_contact_at": _iso(st.last_contact_at),
                "last_push_at": _iso(st.last_push_at),
                "waiting": int(st.waiting or 0),
                "lag_s": st.lag_s,
                "applied": dict(mine),
                "config_version": st.config_version,
                "silent": silent,
                "conflict": st.conflict,
                "conflict_at": _iso(st.conflict_at),
                "relay_id": st.relay_id,
                "clock_skew_s": st.clock_skew_s,
            }
        )
    return out


def list_stations(ctx: ServerContext, p: Principal) -> dict[str, Any]:
    """GET /stations: the stations of the halls the caller sees, with their sync state (managers)."""
    require_roles(p, *MANAGER_ROLES)
    halls = None if p.role == "admin" else visible_halls(ctx, p)
    with ctx.db.read() as s:
        return {"stations": station_rows(s, halls, ctx.now(), ctx.settings.station_silent_alert_s)}


def attendance_conflicts(ctx: ServerContext, p: Principal) -> dict[str, Any]:
    """GET /stations/conflicts: bookings the city cancelled that a station checked in meanwhile.

    The city owns a station hall's capacity; the station honoured what it knew (the visitor got
    a priority ticket) and the cancellation stands (docs/sync.md, "Appointments"). A manager
    sees each such booking to settle it with the visitor (the place may have been sold again).
    Personal data as masked; managers see their halls', admins all.
    """
    require_roles(p, *MANAGER_ROLES)
    halls = None if p.role == "admin" else visible_halls(ctx, p)
    stmt = (
        select(
            _APPTS.c.id,
            _APPTS.c.hall_id,
            _APPTS.c.service_code,
            _APPTS.c.day,
            _APPTS.c.start_at,
            _APPTS.c.cancelled_at,
            _APPTS.c.id_masked,
            _APPTS.c.name_masked,
            _ATT.c.at.label("checked_in_at"),
            _ATT.c.ticket_id,
            _TICKETS.c.number.label("ticket_number"),
            _SH.c.station_id,
        )
        .join(_ATT, _ATT.c.appointment_id == _APPTS.c.id)
        .join(_SH, _SH.c.hall_id == _APPTS.c.hall_id)
        .outerjoin(_TICKETS, _TICKETS.c.id == _ATT.c.ticket_id)
        .where(_APPTS.c.status == "cancelled", _ATT.c.status == "checked_in")
        .order_by(_APPTS.c.day.desc(), _APPTS.c.id)
        .limit(CONFLICTS_MAX)
    )
    if halls is not None:
        stmt = stmt.where(_APPTS.c.hall_id.in_(halls))
    with ctx.db.read() as s:
        rows = s.execute(stmt).all()
    return {
        "conflicts": [
            {
                "appointment_id": int(r.id),
                "hall_id": r.hall_id,
                "station_id": r.station_id,
                "service_code": r.service_code,
                "day": r.day.isoformat(),
                "start_at": _iso(r.start_at),
                "cancelled_at": _iso(r.cancelled_at),
                "checked_in_at": _iso(r.checked_in_at),
                "ticket_id": int(r.ticket_id) if r.ticket_id is not None else None,
                "ticket_number": r.ticket_number,
                "id_masked": r.id_masked,
                "name_masked": r.name_masked,
            }
            for r in rows
        ]
    }


def _aware(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def _iso(dt: datetime | None) -> str | None:
    aware = _aware(dt)
    return aware.isoformat() if aware is not None else None


# --- the station's own view ------------------------------------------------------------------
def waiting_of(s: Session) -> tuple[int, float | None]:
    """(events + rows not acknowledged yet, seconds since the oldest of those events was recorded)."""
    acks = dict(s.execute(select(_ACKS.c.hall_id, _ACKS.c.acked_seq)).all())
    waiting = 0
    oldest: datetime | None = None
    if acks:
        seqs = dict(
            s.execute(select(_SEQ.c.hall_id, _SEQ.c.last_seq).where(_SEQ.c.hall_id.in_(list(acks)))).all()
        )
        for stream, acked in acks.items():
            behind = int(seqs.get(stream) or 0) - int(acked or 0)
            if behind > 0:
                waiting += behind
                at = s.execute(
                    select(_EVENTS.c.at).where(
                        _EVENTS.c.hall_id == stream, _EVENTS.c.seq == int(acked or 0) + 1
                    )
                ).scalar()
                at = _aware(at)
                if at is not None and (oldest is None or at < oldest):
                    oldest = at
    waiting += int(s.execute(select(func.count()).select_from(_CHANGES)).scalar() or 0)
    lag = max(0.0, (datetime.now(UTC) - oldest).total_seconds()) if oldest is not None else 0.0
    return waiting, lag


def link(ctx: ServerContext, p: Principal) -> dict[str, Any]:
    """GET /sync/link: the station's link to its parent, for any principal of the station."""
    if not ctx.settings.station_mode:
        return {"mode": "standalone"}
    with ctx.db.read() as s:
        st = capture.state(s)
        if st is None:
            return {
                "mode": "station",
                "parent": _host(ctx.settings.parent_url),
                "state": "down",
                "waiting": 0,
            }
        waiting, lag = waiting_of(s)
    code = st.error_code
    known = ERRORS.get(code or "")
    return {
        "mode": "station",
        "parent": _host(ctx.settings.parent_url),
        "station_id": st.station_id,
        "state": st.link_state,
        "last_ok_at": _iso(st.last_ok_at),
        "waiting": waiting,
        "lag_s": lag,
        "config_version": st.config_version,
        "error_code": code,
        "message": known[1] if known else (st.error_message if code else None),
        "message_en": known[2] if known else (st.error_message if code else None),
    }


def _host(url: str | None) -> str | None:
    return urlsplit(url).hostname if url else None
