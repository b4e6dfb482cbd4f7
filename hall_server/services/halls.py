"""Read use cases of the catalogue: halls, service items, the live queue snapshot, events."""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from sqlalchemy import func, or_, select

from hall_server import event_archive
from hall_server.auth import Principal, require_hall, visible_halls
from hall_server.const import CALL_EVENTS, RECENT_CALLS
from hall_server.context import ServerContext
from hall_server.db.models import Event, Hall, HallService, QueueGroup, ServiceItem, Ticket, Window
from hall_server.errors import HallError
from hall_server.events import dumps, hall_of_stream, last_seq, read_events, row_to_event
from hall_server.services.catalogue import normalized_guide, with_hall
from hall_server.services.queue import QueueEstimator
from hall_server.services.tickets import hall_day
from hall_server.services.windows import window_out

logger = logging.getLogger(__name__)

H = Hall.__table__
S = ServiceItem.__table__
HS = HallService.__table__
G = QueueGroup.__table__
W = Window.__table__
E = Event.__table__
T = Ticket.__table__


def hall_view(row: Any) -> dict[str, Any]:
    """The `Hall` of the wire (flat)."""
    return {
        "id": row.id,
        "name": row.name,
        "short_name": row.short_name,
        "level": row.level,
        "parent_id": row.parent_id,
        "address": row.address,
        "phone": row.phone,
        "timezone": row.timezone,
        "notices": list(row.notices or []),
        "opening_hours": list(row.opening_hours or []),
    }


def list_halls(ctx: ServerContext) -> list[dict[str, Any]]:
    """Every hall of the city, flat, with parent_id and level."""
    with ctx.db.read() as s:
        return [hall_view(r) for r in s.execute(select(H).order_by(H.c.id)).all()]


def get_hall(ctx: ServerContext, hall_id: str) -> dict[str, Any]:
    """One hall with its groups, windows and policy."""
    hall = ctx.catalog.hall(hall_id)
    with ctx.db.read() as s:
        row = s.execute(select(H).where(H.c.id == hall_id)).first()
        if row is None:
            raise HallError("hall.unknown", hall_id=hall_id)
        out = hall_view(row)
        groups: dict[str, dict[str, Any]] = {
            g.prefix: {"prefix": g.prefix, "name": g.name, "services": []}
            for g in s.execute(select(G).where(G.c.hall_id == hall_id).order_by(G.c.prefix)).all()
        }
        for hs in s.execute(select(HS).where(HS.c.hall_id == hall_id).order_by(HS.c.service_code)).all():
            if hs.prefix in groups:
                groups[hs.prefix]["services"].append(hs.service_code)
        out["groups"] = list(groups.values())
        out["windows"] = [
            {
                "id": w.id,
                "number": w.number,
                "name": w.name,
                "kind": w.kind,
                "zone": w.zone,
                "status": w.status,
                "groups": dict(w.groups or {}),
            }
            for w in s.execute(select(W).where(W.c.hall_id == hall_id).order_by(W.c.number)).all()
        ]
        out["policy"] = hall.policy.to_dict()
        return out


def service_view(row: Any, prefix: str | None = None, *, full_guide: bool = True) -> dict[str, Any]:
    """The `ServiceItem` of the wire."""
    guide = with_hall(normalized_guide(row.guide), getattr(row, "overrides", None))
    if not full_guide:
        guide = {k: guide[k] for k in ("time_limit_days", "promise_days", "fee") if k in guide}
    return {
        "code": row.code,
        "name": row.name,
        "sub_name": row.sub_name,
        "category": row.category,
        "department": row.department,
        "prefix": prefix,
        "guide": guide,
    }


def list_services(ctx: ServerContext, hall_id: str, q: str | None = None) -> list[dict[str, Any]]:
    """The service items a hall handles, with their queue prefix; `q` searches names and codes."""
    ctx.catalog.hall(hall_id)
    with ctx.db.read() as s:
        stmt = (
            select(S, HS.c.prefix, HS.c.overrides)
            .join(HS, HS.c.service_code == S.c.code)
            .where(HS.c.hall_id == hall_id)
            .order_by(S.c.category, S.c.code)
        )
        if q:
            like = f"%{q.strip()}%"
            stmt = stmt.where(
                or_(
                    S.c.name.like(like), S.c.sub_name.like(like), S.c.code.like(like), S.c.category.like(like)
                )
            )
        return [service_view(r, r.prefix) for r in s.execute(stmt).all()]


def snapshot(ctx: ServerContext, p: Principal, hall_id: str) -> dict[str, Any]:
    """The live state of a hall: waiting per group, windows and what they serve, recent calls."""
    hall = ctx.catalog.hall(hall_id)
    require_hall(p, hall_id, ctx.catalog)
    # One snapshot: the state shown is exactly the state after event `last_seq`.
    with ctx.db.read(consistent=True) as s:
        seq = last_seq(s, hall_id)
        est = QueueEstimator(s, hall, hall_day(hall, ctx.now()))
        groups = []
        heads = []
        for prefix, name in sorted(hall.groups.items()):
            head = est.head_of(prefix)
            if head is not None:
                heads.append(head)
            waiting = est.waiting_in(prefix)
            groups.append(
                {
                    "prefix": prefix,
                    "name": name,
                    "waiting": waiting,
                    "estimated_wait_minutes": est.wait_minutes(prefix, waiting),
                }
            )
        # Per service too: a village station's one queue holds every service, and each tile says
        # how many wait for its own service (the unbound ones, as the group's count).
        by_service = s.execute(
            select(T.c.service_code, func.count())
            .where(
                T.c.hall_id == hall_id,
                T.c.business_day == est.day,
                T.c.status == "waiting",
                T.c.bound_window_id.is_(None),
            )
            .group_by(T.c.service_code)
        ).all()
        windows = [
            window_out(ctx, s, w)
            for w in s.execute(select(W).where(W.c.hall_id == hall_id).order_by(W.c.number)).all()
        ]
        calls = s.execute(
            select(E)
            .where(E.c.hall_id == hall_id, E.c.type.in_(CALL_EVENTS), E.c.seq <= seq)
            .order_by(E.c.seq.desc())
            .limit(RECENT_CALLS)
        ).all()
        recent = [row_to_event(r) for r in calls]
        if len(recent) < RECENT_CALLS:
            # The hall's last calls may be in archived days (event retention): read on there,
            # below the oldest live one, so none is lost or shown twice.
            below = recent[-1]["seq"] if recent else seq + 1
            older = event_archive.recent_archived(s, hall_id, CALL_EVENTS, RECENT_CALLS - len(recent))
            recent += [row_to_event(ev, hall_id) for ev in older if ev.seq < below]
        ids = [h.ticket_id for h in heads]
        numbers = dict(s.execute(select(T.c.id, T.c.number).where(T.c.id.in_(ids))).all()) if ids else {}
        # Longest waiting first: the hall-wide arrival order (the display shows the first few).
        next_up = [
            {"prefix": h.group, "number": numbers[h.ticket_id]}
            for h in sorted(heads, key=lambda c: c.issued_order)
            if h.ticket_id in numbers
        ]
        return {
            "hall": {"id": hall.id, "name": hall.name, "short_name": hall.short_name},
            "business_day": est.day.isoformat(),
            "groups": groups,
            "waiting_by_service": {code: int(n) for code, n in by_service},
            "windows": windows,
            "recent_calls": recent,
            "last_seq": seq,
            "next_up": next_up,
        }


def events_since(
    ctx: ServerContext, p: Principal, hall_id: str, since: int, limit: int
) -> list[dict[str, Any]]:
    """Events of a hall (or its "<hall>@city" stream at a parent) after since, in order."""
    hall = hall_of_stream(hall_id)
    ctx.catalog.hall(hall)
    require_hall(p, hall, ctx.catalog)
    with ctx.db.read() as s:
        events = read_events(s, hall_id, since, limit)
        if not events or events[0]["seq"] != since + 1:
            # Not the next seq: either nothing new, or the ones asked for were archived.
            event_archive.check_replayable(s, hall_id, since)
    return events if sees_audit(p) else [redact_event(ev) for ev in events]


# The security audit (log-ins, failures, locks, password changes, token rotation) shares the hall's
# event log, which every screen of the hall reads; its usernames, addresses and token ids are for
# managers and admins. Others get the event with its seq and type only, so the stream stays gap-free.
AUDIT_TYPE_PREFIX = "auth."
AUDIT_READERS = ("manager", "admin")
_AUDIT_WIRE = '"type":"' + AUDIT_TYPE_PREFIX


def sees_audit(p: Principal) -> bool:
    """Managers and admins read the security audit events in full."""
    return p.role in AUDIT_READERS


def redact_event(ev: dict[str, Any]) -> dict[str, Any]:
    """An event as a non-manager reads it: an auth.* event without actor id and payload."""
    if not str(ev.get("type", "")).startswith(AUDIT_TYPE_PREFIX):
        return ev
    return {**ev, "actor": {"kind": ev["actor"]["kind"], "id": None}, "payload": {}}


@functools.lru_cache(maxsize=256)
def redact_text(text: str) -> str:
    """redact_event for an event already in its wire text (the socket's fan-out).

    Every subscriber of a hall gets the same text object for an event, so the redacted form is
    made once per event, not once per subscriber (the string's hash is computed once too).
    """
    if _AUDIT_WIRE not in text:
        return text
    return dumps(redact_event(json.loads(text)))


def watched_halls(ctx: ServerContext, p: Principal) -> list[dict[str, Any]]:
    """Use case: the halls the caller may watch (admin: all; manager: own subtree), flat with parents."""
    ids = set(visible_halls(ctx, p))
    with ctx.db.read() as s:
        rows = s.execute(
            select(Hall.id, Hall.name, Hall.short_name, Hall.level, Hall.parent_id).order_by(Hall.id)
        ).all()
    return [
        {"id": r.id, "name": r.name, "short_name": r.short_name, "level": r.level, "parent_id": r.parent_id}
        for r in rows
        if r.id in ids
    ]
