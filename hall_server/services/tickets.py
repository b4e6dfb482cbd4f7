"""Ticket use cases: issue (numbered in the same transaction), read, list, cancel, track, cancel by the holder."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hall_server.auth import Principal, require_hall, require_roles
from hall_server.catalog import HallConfig
from hall_server.const import EV_TICKET_CANCELLED, EV_TICKET_ISSUED, PERSON_LOCK_NAMESPACE, TRACK_TOKEN_BYTES
from hall_server.context import ServerContext
from hall_server.db.engine import Tx
from hall_server.db.models import NumberCounter, Ticket, Window
from hall_server.db.prepared import Prepared
from hall_server.db.upsert import upsert_statement
from hall_server.errors import HallError
from hall_server.events import Actor, append_event
from hall_server.services.queue import QueueEstimator, group_counts, new_ticket_ahead
from hall_server.services.views import may_reveal, record_reveals_apart, ticket_view, without_track
from queueing.directions import WindowPlace, directions_for, directions_to
from queueing.errors import IssueRefused
from queueing.estimate import estimate_wait_minutes
from queueing.idnumber import IdNumber, mask_id_number, mask_name, parse_id_number
from queueing.model import HallPolicy
from queueing.numbering import business_day, format_number
from queueing.rules import check_can_issue, green_reason_for
from queueing.tickets import TicketOp, next_status

logger = logging.getLogger(__name__)

T = Ticket.__table__
C = NumberCounter.__table__
W = Window.__table__

ISSUER_ROLES = ("kiosk", "clerk", "manager", "admin")
# The holder of a ticket's tracking token (the phone page), as the event stream names them.
VISITOR = Actor("visitor", None)
# Statuses where the holder still has somewhere to go.
ACTIVE_STATUSES = ("waiting", "suspended", "called", "serving")


@dataclass(frozen=True)
class IssueInput:
    """What a kiosk or clerk asks for."""

    service_code: str
    channel: str
    id_number: str | None = None
    name: str | None = None
    card_type: str | None = None
    green_reason: str | None = None
    appointment_id: str | None = None
    idempotency_key: str | None = None


def hall_day(hall: HallConfig, now: datetime) -> date:
    """The hall's business day now."""
    return business_day(now, hall.zone)


def issue_ticket(
    ctx: ServerContext, p: Principal, hall_id: str, req: IssueInput
) -> tuple[dict[str, Any], bool]:
    """Issue a ticket; returns (ticket, created). A repeated idempotency key returns the first one."""
    hall = ctx.catalog.hall(hall_id)
    require_roles(p, *ISSUER_ROLES)
    require_hall(p, hall_id, ctx.catalog)
    ctx.catalog.service(req.service_code)
    prefix = ctx.catalog.prefix_for(hall, req.service_code)
    policy = hall.policy
    now = ctx.now()
    day = business_day(now, hall.zone)
    holder: IdNumber | None = None
    if req.id_number is not None:
        # Refused before anything is written: an invalid number never reaches the database.
        holder = parse_id_number(req.id_number, today=day)
    green = green_reason_for(policy, holder, req.green_reason, day)
    rule = hall.service_rules.get(req.service_code)
    if rule is not None and rule.id_required and holder is None:
        raise IssueRefused(
            "issue.identity_required",
            "该事项取号需刷身份证",
            "this service issues tickets only against an ID card",
            service_code=req.service_code,
        )

    try:
        return _insert_ticket(ctx, p, hall, prefix, policy, now, day, holder, green, req), True
    except IntegrityError:
        # The unique (hall, idempotency key) refused a repeat: answer with the first ticket.
        # Relying on the constraint spares every first attempt a look-up of its own.
        if req.idempotency_key:
            existing = _find_idempotent(ctx, hall_id, req)
            if existing is not None:
                return existing, False
        raise
    except (IssueRefused, HallError):
        # A refusal now (closed, daily cap, per-person limit) must not hide a ticket that was
        # issued under this key before: a retry gets that ticket back.
        if req.idempotency_key:
            existing = _find_idempotent(ctx, hall_id, req)
            if existing is not None:
                return existing, False
        raise


def _find_idempotent(ctx: ServerContext, hall_id: str, req: IssueInput) -> dict[str, Any] | None:
    with ctx.db.read() as s:
        row = s.execute(
            select(T).where(T.c.hall_id == hall_id, T.c.idempotency_key == req.idempotency_key)
        ).first()
        if row is None:
            return None
        if row.service_code != req.service_code:
            raise HallError("idempotency.conflict", ticket_id=row.id)
        hall = ctx.catalog.hall(hall_id)
        est = QueueEstimator(s, hall, row.business_day, ctx.estimates)
        ahead, minutes = est.position(row)
        return ticket_view(ctx, row, people_ahead=ahead, estimated_wait_minutes=minutes, track=True)


def _insert_ticket(
    ctx: ServerContext,
    p: Principal,
    hall: HallConfig,
    prefix: str,
    policy: HallPolicy,
    now: datetime,
    day: date,
    holder: IdNumber | None,
    green: Any,
    req: IssueInput,
) -> dict[str, Any]:
    protector = ctx.protector
    id_hmac = protector.lookup_hash(holder.number) if holder else None
    # The hall's issues queue here, not on its counter row in the database (Database.tx).
    with ctx.db.tx(queue=f"issue:{hall.id}") as s:
        conn = s.connection()
        dialect = conn.dialect.name
        per_person: int | None = None
        if holder is not None:
            if dialect == "postgresql":
                # Serialise issues for one person and day: without it, concurrent issues each
                # count the others' uncommitted tickets as absent and all pass the limit. The
                # lock ends with the transaction; the count below then sees every committed
                # ticket (READ COMMITTED takes a new snapshot per statement). SQLite's
                # IMMEDIATE writers are serialised already.
                _PERSON_LOCK.all(conn, {"k": person_lock_key(hall.id, id_hmac or "", day)})
            per_person = int(_PERSON_COUNT.scalar(conn, {"h": id_hmac, "day": day, "hall_id": hall.id}))
        # Everything that does not need the number comes before it is drawn: the counter row
        # stays locked from the draw until commit, and every issue of the group waits on it
        # (on a busy parent each statement or GIL hand-over inside that span is paid by them all).
        values: dict[str, Any] = {
            "hall_id": hall.id,
            "business_day": day,
            "prefix": prefix,
            "group_prefix": prefix,
            "service_code": req.service_code,
            "status": "waiting",
            "priority": green is not None,
            "green_reason": green.value if green is not None else None,
            "appointment_id": req.appointment_id,
            "channel": req.channel,
            "issued_at": now,
            "recall_count": 0,
            "transfer_count": 0,
            "track_token": secrets.token_urlsafe(TRACK_TOKEN_BYTES),
            "idempotency_key": req.idempotency_key or None,
        }
        if holder is not None:
            values.update(
                id_enc=protector.encrypt(holder.number, "id_number"),
                id_hmac=id_hmac,
                id_masked=mask_id_number(holder.number),
                card_type=req.card_type,
            )
        if req.name:
            values.update(name_enc=protector.encrypt(req.name, "name"), name_masked=mask_name(req.name))
        # The wait estimate's inputs (cached per group for a few seconds; a refresh reads), and
        # the group's waiting counts before this ticket: read here, the ticket's insert (whose
        # trigger locks the group's count row, which the hall's windows' calls update too) is
        # followed only by its event and the commit. No other issue of the hall runs meanwhile
        # in this process (the queue); a call or another process's issue committed between
        # this read and the insert is off by one in the figure, as a moment later anyway.
        recent, windows = ctx.estimates.get(s, hall.id, day, prefix)
        before = group_counts(conn, hall.id, day, prefix) if policy.calling_policy == "default" else None
        # Then the number: the counter row is the group's issued count, and a refusal below
        # rolls the draw back with everything else.
        seq = int(_counter_upsert(dialect).scalar(conn, {"hall_id": hall.id, "prefix": prefix, "day": day}))
        check_can_issue(policy, now.astimezone(hall.zone), seq - 1, per_person)
        rule = hall.service_rules.get(req.service_code)
        if rule is not None and rule.daily_cap is not None:
            # The service's own cap (its guide): counted after the group's number draw, whose
            # counter row lock serialises the issues of this group (and so of this service).
            issued = int(_SERVICE_COUNT.scalar(conn, {"h": hall.id, "day": day, "code": req.service_code}))
            if issued >= rule.daily_cap:
                raise IssueRefused(
                    "issue.daily_cap",
                    f"该事项今日号源已满（{rule.daily_cap}个），请明日再来或预约办理",
                    f"today's tickets for this service are used up ({rule.daily_cap}); come back tomorrow or book ahead",
                    cap=rule.daily_cap,
                    issued=issued,
                )
        values["seq"] = seq
        values["number"] = format_number(prefix, seq, policy.number_width, policy.wrap_at)
        row = _INSERT_TICKET.one(conn, values)
        ahead = new_ticket_ahead(row, policy, before)
        if ahead is None:
            ahead, minutes = QueueEstimator(s, hall, day, ctx.estimates).position(row)
        else:
            minutes = estimate_wait_minutes(ahead, recent, windows)
        view = ticket_view(ctx, row, people_ahead=ahead, estimated_wait_minutes=minutes, track=True)
        append_event(s, hall.id, EV_TICKET_ISSUED, {"ticket": without_track(view)}, p.actor)
    return view


_INSERT_TICKET = Prepared(insert(T).returning(T))
_SERVICE_COUNT = Prepared(
    select(func.count())
    .select_from(T)
    .where(
        T.c.hall_id == bindparam("h"),
        T.c.business_day == bindparam("day"),
        T.c.service_code == bindparam("code"),
    )
)
_PERSON_LOCK = Prepared(text("SELECT pg_advisory_xact_lock(:k)"))


def person_lock_key(scope: str, id_hmac: str, day: date) -> int:
    """A signed 64-bit advisory-lock key for (hall or city scope, person hash, business day)."""
    digest = hashlib.sha256(f"{PERSON_LOCK_NAMESPACE}|{scope}|{id_hmac}|{day.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_PERSON_COUNT = Prepared(
    select(func.count())
    .select_from(T)
    .where(
        T.c.id_hmac == bindparam("h"),
        T.c.business_day == bindparam("day"),
        T.c.hall_id == bindparam("hall_id"),
    )
)
_COUNTER_UPSERT: dict[str, Prepared] = {}


def _counter_upsert(dialect: str) -> Prepared:
    stmt = _COUNTER_UPSERT.get(dialect)
    if stmt is None:
        stmt = Prepared(
            upsert_statement(
                dialect,
                C,
                {
                    "hall_id": bindparam("hall_id"),
                    "prefix": bindparam("prefix"),
                    "business_day": bindparam("day"),
                    "value": 1,
                },
                index_elements=["hall_id", "prefix", "business_day"],
                set_={"value": C.c.value + 1},
                returning=C.c.value,
            )
        )
        _COUNTER_UPSERT[dialect] = stmt
    return stmt


_LOAD_TICKET = Prepared(select(T).where(T.c.id == bindparam("b_id")))
_LOCK_TICKET = Prepared(select(T).where(T.c.id == bindparam("b_id")).with_for_update())


def load_ticket(s: Session | Tx, ticket_id: int, *, lock: bool = False) -> Any:
    """A ticket row or HallError ticket.unknown; `lock` takes a row lock (PostgreSQL)."""
    row = (_LOCK_TICKET if lock else _LOAD_TICKET).first(s.connection(), {"b_id": ticket_id})
    if row is None:
        raise HallError("ticket.unknown", ticket_id=ticket_id)
    return row


def get_ticket(ctx: ServerContext, p: Principal, ticket_id: int) -> dict[str, Any]:
    """One ticket with its position in the queue."""
    with ctx.db.read() as s:
        row = load_ticket(s, ticket_id)
        require_hall(p, row.hall_id, ctx.catalog)
        hall = ctx.catalog.hall(row.hall_id)
        ahead, minutes = QueueEstimator(s, hall, hall_day(hall, ctx.now()), ctx.estimates).position(row)
        view = ticket_view(
            ctx, row, people_ahead=ahead, estimated_wait_minutes=minutes, reveal=may_reveal(p, row)
        )
    record_reveals_apart(ctx, p, [row])
    return view


def track_ticket(ctx: ServerContext, track_token: str) -> dict[str, Any]:
    """A ticket by its tracking token (the phone page): where to go and the number called now."""
    with ctx.db.read() as s:
        row = _tracked_row(s, track_token)
        return _tracked_view(ctx, s, row)


def cancel_tracked(ctx: ServerContext, track_token: str) -> dict[str, Any]:
    """The holder cancels their own ticket from the phone page; cancelling again answers the same."""
    with ctx.db.tx() as s:
        row = _tracked_row(s, track_token)
        if row.status != "cancelled":
            row = load_ticket(s, row.id, lock=True)
            if row.status != "cancelled":
                _cancel_row(s, ctx, row, VISITOR)
    return track_ticket(ctx, track_token)


def _tracked_row(s: Session | Tx, track_token: str) -> Any:
    row = s.execute(select(T).where(T.c.track_token == track_token)).first()
    if row is None:
        raise HallError("ticket.unknown")
    return row


def _tracked_view(ctx: ServerContext, s: Session | Tx, row: Any) -> dict[str, Any]:
    """The phone page's view: the ticket, masked, with the hall's name, directions and the call now."""
    hall = ctx.catalog.hall(row.hall_id)
    ahead, minutes = QueueEstimator(s, hall, hall_day(hall, ctx.now()), ctx.estimates).position(row)
    view = ticket_view(ctx, row, people_ahead=ahead, estimated_wait_minutes=minutes, track=True)
    view["hall_name"] = hall.name
    where = None
    if row.status in ACTIVE_STATUSES:
        windows = [
            WindowPlace(w.number, w.status, w.groups, w.zone)
            for w in s.execute(
                select(W.c.number, W.c.status, W.c.groups, W.c.zone).where(W.c.hall_id == row.hall_id)
            ).all()
        ]
        called = view["window_number"] if row.status in ("called", "serving") else None
        if called is not None:
            zone = next((w.zone for w in windows if w.number == called), None)
            where = directions_to([called], zone)
        else:
            where = directions_for(windows, row.group_prefix)
    view["go_windows"] = list(where.windows) if where else []
    view["go_to"] = where.text if where else None
    view["go_to_en"] = where.text_en if where else None
    view["now_serving"] = s.execute(
        select(T.c.number)
        .where(
            T.c.hall_id == row.hall_id,
            T.c.business_day == row.business_day,
            T.c.group_prefix == row.group_prefix,
            T.c.called_at.is_not(None),
        )
        .order_by(T.c.called_at.desc(), T.c.id.desc())
        .limit(1)
    ).scalar()
    return view


def list_tickets(
    ctx: ServerContext,
    p: Principal,
    hall_id: str,
    *,
    status: str | None = None,
    group: str | None = None,
    window_id: int | None = None,
) -> list[dict[str, Any]]:
    """Today's tickets of a hall, oldest first."""
    hall = ctx.catalog.hall(hall_id)
    require_hall(p, hall_id, ctx.catalog)
    day = hall_day(hall, ctx.now())
    with ctx.db.read() as s:
        stmt = select(T).where(T.c.hall_id == hall_id, T.c.business_day == day)
        if status:
            stmt = stmt.where(T.c.status == status)
        if group:
            stmt = stmt.where(T.c.group_prefix == group)
        if window_id is not None:
            stmt = stmt.where(T.c.window_id == window_id)
        rows = s.execute(stmt.order_by(T.c.id)).all()
        est = QueueEstimator(s, hall, day, ctx.estimates)
        out = []
        for row in rows:
            ahead, minutes = est.position(row)
            out.append(
                ticket_view(
                    ctx, row, people_ahead=ahead, estimated_wait_minutes=minutes, reveal=may_reveal(p, row)
                )
            )
    record_reveals_apart(ctx, p, list(rows))
    return out


def cancel_ticket(ctx: ServerContext, p: Principal, ticket_id: int) -> dict[str, Any]:
    """Cancel a waiting or suspended ticket (kiosk, clerk, manager of its hall)."""
    require_roles(p, *ISSUER_ROLES)
    with ctx.db.tx() as s:
        row = load_ticket(s, ticket_id, lock=True)
        require_hall(p, row.hall_id, ctx.catalog)
        return _cancel_row(s, ctx, row, p.actor)


def _cancel_row(s: Session | Tx, ctx: ServerContext, row: Any, actor: Actor) -> dict[str, Any]:
    """Cancel a locked ticket row (the one rule for staff and the holder) and announce it."""
    new_status = next_status(row.status, TicketOp.CANCEL)
    updated = s.execute(
        update(T)
        .where(T.c.id == row.id, T.c.status == row.status)
        .values(status=new_status.value, window_id=None, bound_window_id=None)
        .returning(T)
    ).one()
    view = ticket_view(ctx, updated)
    append_event(s, row.hall_id, EV_TICKET_CANCELLED, {"ticket": view}, actor)
    return view
