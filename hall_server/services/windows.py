"""Window use cases: calling, every operation on the current ticket, and the window's own state."""

from __future__ import annotations

import logging
from collections import namedtuple
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from hall_server.auth import Principal, require_hall, require_roles, require_window_operator
from hall_server.catalog import HallConfig
from hall_server.const import (
    EV_RATING_REQUESTED,
    EV_TICKET_CALLED,
    EV_TICKET_CALLED_BACK,
    EV_TICKET_FINISHED,
    EV_TICKET_NO_SHOW,
    EV_TICKET_RECALLED,
    EV_TICKET_STARTED,
    EV_TICKET_SUSPENDED,
    EV_TICKET_TRANSFERRED,
    EV_WINDOW_UPDATED,
)
from hall_server.context import ServerContext
from hall_server.db.engine import Tx
from hall_server.db.models import QueueGroup, Ticket, User, Window
from hall_server.db.prepared import Prepared
from hall_server.errors import HallError
from hall_server.events import stage_event
from hall_server.services.queue import (
    HEAD_POLICIES,
    class_of,
    head_candidates,
    to_candidate,
    waiting_candidates,
)
from hall_server.services.tickets import hall_day, load_ticket
from hall_server.services.views import (
    may_reveal,
    record_reveals,
    record_reveals_apart,
    ticket_view,
    window_view,
)
from queueing.announce import call_text, call_words
from queueing.model import Ticket as DomainTicket
from queueing.model import TicketStatus, WindowStatus, check_weights, check_window_can_call
from queueing.model import Window as DomainWindow
from queueing.policy import CallHistory, Candidate, WindowServing, check_chosen, choose_next
from queueing.tickets import TicketOp, apply

logger = logging.getLogger(__name__)

T = Ticket.__table__
W = Window.__table__
U = User.__table__
G = QueueGroup.__table__

HISTORY_KEEP = 60
# Tickets per class loaded by call-next on PostgreSQL (see call_next).
CLAIM_DEPTH = 16


# --- loading and mapping ------------------------------------------------------------------
_LOCK_WINDOW = Prepared(select(W).where(W.c.id == bindparam("b_id")).with_for_update())
_UPDATE_WINDOW = Prepared(update(W).where(W.c.id == bindparam("b_id")).returning(W))
_UPDATE_TICKET = Prepared(
    update(T).where(T.c.id == bindparam("b_id"), T.c.status == bindparam("b_status")).returning(T)
)
# The window and the ticket in hand in one statement, both locked (one round trip, not two);
# no row when the window is idle or unknown, or its ticket changed while we waited for the lock.
_T_COLS = [c.label(f"t_{c.key}") for c in T.c]
_LOCK_WINDOW_CURRENT = Prepared(
    select(W, *_T_COLS)
    .select_from(W.join(T, T.c.id == W.c.current_ticket_id))
    .where(W.c.id == bindparam("b_id"))
    .with_for_update(of=[W, T])
)
_WindowRow = namedtuple("_WindowRow", [c.key for c in W.c])  # type: ignore[misc]
_TicketRow = namedtuple("_TicketRow", [c.key for c in T.c])  # type: ignore[misc]
# Claim and call in one statement: the sub-select takes the ticket only if it still waits as
# the candidate showed it (PostgreSQL: skipping one another window is claiming right now), and
# the UPDATE writes what TicketOp.CALL changes (status, window, binding, recall count), none of
# which depends on the rest of the row. No row back: someone else has it.
_CLAIM_CALL = Prepared(
    update(T)
    .where(
        T.c.id
        == select(T.c.id)
        .where(
            T.c.id == bindparam("b_id"),
            T.c.status == "waiting",
            T.c.bound_window_id.is_not_distinct_from(bindparam("b_bound", type_=T.c.bound_window_id.type)),
        )
        .with_for_update(skip_locked=True)
        .scalar_subquery(),
        T.c.status == "waiting",
    )
    .returning(T)
)


def lock_window(s: Session | Tx, window_id: int) -> Any:
    """The window row, locked for this transaction (PostgreSQL), or HallError window.unknown."""
    row = _LOCK_WINDOW.first(s.connection(), {"b_id": window_id})
    if row is None:
        raise HallError("window.unknown", window_id=window_id)
    return row


def _domain_window(row: Any) -> DomainWindow:
    return DomainWindow(
        id=row.id,
        hall_id=row.hall_id,
        number=row.number,
        name=row.name,
        groups=dict(row.groups or {}),
        status=WindowStatus(row.status),
        clerk_id=str(row.clerk_id) if row.clerk_id is not None else None,
    )


def _domain_ticket(row: Any) -> DomainTicket:
    return DomainTicket(
        id=row.id,
        hall_id=row.hall_id,
        prefix=row.group_prefix,
        seq=row.seq,
        number=row.number,
        service_code=row.service_code,
        business_day=row.business_day,
        issued_order=row.id,
        status=TicketStatus(row.status),
        priority=bool(row.priority),
        appointment=row.appointment_id is not None,
        window_id=row.window_id,
        bound_window_id=row.bound_window_id,
        recall_count=row.recall_count,
        transfer_count=row.transfer_count,
    )


def _clerk_name(s: Session | Tx, clerk_id: int | None) -> str | None:
    if clerk_id is None:
        return None
    return s.execute(select(U.c.name).where(U.c.id == clerk_id)).scalar()


def _window_out(ctx: ServerContext, s: Session | Tx, row: Any, p: Principal | None = None) -> dict[str, Any]:
    current = None
    if row.current_ticket_id is not None:
        trow = s.execute(select(T).where(T.c.id == row.current_ticket_id)).first()
        if trow is not None:
            current = ticket_view(ctx, trow, reveal=may_reveal(p, trow))
    return window_view(ctx, row, clerk_name=_clerk_name(s, row.clerk_id), current=current)


class _Op:
    """Shared steps of a window operation inside one transaction."""

    def __init__(
        self, ctx: ServerContext, s: Session | Tx, p: Principal, window_id: int, *, in_hand: bool = False
    ) -> None:
        self.ctx = ctx
        self.s = s
        self.p = p
        # `in_hand`: the operation works on the ticket in hand, read and locked with the window.
        self._in_hand: Any = None
        joined = _LOCK_WINDOW_CURRENT.first(s.connection(), {"b_id": window_id}) if in_hand else None
        if joined is not None:
            n = len(W.c)
            self.win = _WindowRow._make(joined[:n])
            self._in_hand = _TicketRow._make(joined[n:])
        else:
            self.win = lock_window(s, window_id)
        require_window_operator(p, window_id, self.win.hall_id, ctx.catalog)
        self.hall: HallConfig = ctx.catalog.hall(self.win.hall_id)
        self.now = ctx.now()

    def current(self) -> Any:
        if self.win.current_ticket_id is None:
            raise HallError("window.idle", window_id=self.win.id)
        if self._in_hand is not None and self._in_hand.id == self.win.current_ticket_id:
            return self._in_hand
        return load_ticket(self.s, self.win.current_ticket_id, lock=True)

    def require_free(self) -> None:
        if self.win.current_ticket_id is not None:
            raise HallError("window.busy", window_id=self.win.id, ticket_id=self.win.current_ticket_id)

    def save_ticket(self, old: Any, new: DomainTicket, **extra: Any) -> Any:
        """Write the domain ticket's new state; the WHERE re-checks the status we read."""
        values = {
            "status": new.status.value,
            "group_prefix": new.prefix,
            "window_id": new.window_id,
            "bound_window_id": new.bound_window_id,
            "recall_count": new.recall_count,
            "transfer_count": new.transfer_count,
            **extra,
        }
        row = _UPDATE_TICKET.first(self.s.connection(), {"b_id": old.id, "b_status": old.status, **values})
        if row is None:  # changed under us: another process won the race
            raise HallError("ticket.not_waiting", ticket_id=old.id)
        return row

    def set_window(self, **values: Any) -> None:
        self.win = _UPDATE_WINDOW.one(self.s.connection(), {"b_id": self.win.id, **values})

    def view(self, row: Any) -> dict[str, Any]:
        return ticket_view(self.ctx, row)

    def win_brief(self) -> dict[str, Any]:
        return {"id": self.win.id, "number": self.win.number, "name": self.win.name}

    def emit(self, type_: str, payload: dict[str, Any]) -> None:
        stage_event(self.s, self.hall.id, type_, payload, self.p.actor)

    def call_payload(self, row: Any) -> dict[str, Any]:
        return {
            "ticket": self.view(row),
            "window": self.win_brief(),
            "text": call_text(row.number, self.win.number),
            "words": call_words(row.number, self.win.number),
        }

    def answer(self, row: Any) -> dict[str, Any]:
        # The clerk's answer carries the full ID number: 全过程留痕 records that it was shown.
        record_reveals(self.s, self.p, [row])
        return ticket_view(self.ctx, row, reveal=may_reveal(self.p, row))


# --- calling ------------------------------------------------------------------------------
def call_next(ctx: ServerContext, p: Principal, window_id: int) -> dict[str, Any]:
    """Claim exactly one waiting ticket for this window under the hall's calling policy."""
    with ctx.db.tx() as s:
        op = _Op(ctx, s, p, window_id)
        check_window_can_call(_domain_window(op.win))
        op.require_free()
        row = _call_next_in(op)
        if row is None:
            raise HallError("queue.empty", window_id=window_id)
        return op.answer(row)


# What "next" may do with the ticket in hand before calling: the op and its event.
NEXT_CLOSES: dict[str, tuple[TicketOp, str]] = {
    "finish": (TicketOp.FINISH, EV_TICKET_FINISHED),
    "no_show": (TicketOp.NO_SHOW, EV_TICKET_NO_SHOW),
}


def next_ticket(
    ctx: ServerContext, p: Principal, window_id: int, *, close: str, ticket_id: int
) -> dict[str, Any]:
    """下一位: finish (or no-show) the ticket in hand and call the next one, in one transaction.

    `ticket_id` names the ticket the clerk sees in hand; if the window holds another one (a
    double click already moved on) nothing happens and window.current_changed is answered, so
    a second click can never close the ticket that the first click called. An empty queue
    still closes the ticket in hand and answers `called: null`.
    """
    if close not in NEXT_CLOSES:
        raise HallError("window.bad_close", close=close)
    ticket_op, event = NEXT_CLOSES[close]
    with ctx.db.tx() as s:
        op = _Op(ctx, s, p, window_id, in_hand=True)
        if op.win.current_ticket_id != ticket_id:
            raise HallError(
                "window.current_changed",
                window_id=window_id,
                ticket_id=ticket_id,
                current_ticket_id=op.win.current_ticket_id,
            )
        check_window_can_call(_domain_window(op.win))
        # The window row is written once: by the call, or here when nobody waits.
        closed = _close_current(op, ticket_op, event, frees=False)
        called = _call_next_in(op, last_ticket_id=closed.id)
        if called is None:
            op.set_window(current_ticket_id=None, last_ticket_id=closed.id)
        return {"closed": op.answer(closed), "called": op.answer(called) if called is not None else None}


def _call_next_in(op: _Op, **window_values: Any) -> Any:
    """Claim, mark called and announce the next ticket for a free window; None if nobody waits."""
    s = op.s
    window_id = op.win.id
    groups = list((op.win.groups or {}).keys())
    day = hall_day(op.hall, op.now)
    policy = op.hall.policy
    heads_only = policy.calling_policy in HEAD_POLICIES
    serving = WindowServing(window_id=window_id, weights=dict(op.win.groups or {}), hall_id=op.hall.id)
    history = CallHistory.of(op.win.call_history or [])
    # PostgreSQL: other windows may be claiming the same heads right now; load a few per
    # class so a skipped one can be passed over without asking the database again.
    depth = CLAIM_DEPTH if s.get_bind().dialect.name == "postgresql" else 1
    skipped: list[int] = []
    candidates = _callable(s, op, day, groups, window_id, skipped, heads_only, depth)
    while True:
        chosen = choose_next(candidates, serving, history, policy)
        if chosen is None:
            return None
        row = _claim_call(op, chosen)
        if row is not None:
            break
        # Being claimed by another window right now: choose again without it.
        skipped.append(chosen.ticket_id)
        candidates = [c for c in candidates if c.ticket_id != chosen.ticket_id]
        cls = class_of(chosen)
        if heads_only and not any(class_of(c) == cls for c in candidates):
            # That class ran out of loaded tickets; it may have more in the database.
            candidates = _callable(s, op, day, groups, window_id, skipped, heads_only, depth)
    _set_called(op, row, history, **window_values)
    op.emit(EV_TICKET_CALLED, op.call_payload(row))
    return row


def _callable(
    s: Session | Tx,
    op: _Op,
    day: Any,
    groups: list[str],
    window_id: int,
    skipped: list[int],
    heads_only: bool,
    depth: int,
) -> list[Any]:
    if heads_only:
        return head_candidates(s, op.hall.id, day, groups, window_id, skipped, depth)
    return [
        c
        for c in waiting_candidates(s, op.hall.id, day, groups=groups, window_id=window_id)
        if c.ticket_id not in skipped
    ]


def _claim_call(op: _Op, chosen: Candidate) -> Any:
    """Claim a chosen candidate and mark it called in one statement; None if it is gone or taken."""
    waiting = DomainTicket(
        id=chosen.ticket_id,
        hall_id=op.hall.id,
        prefix=chosen.group,
        seq=0,
        number="",
        service_code="",
        business_day=hall_day(op.hall, op.now),
        issued_order=chosen.issued_order,
        priority=chosen.priority,
        appointment=chosen.appointment,
        bound_window_id=chosen.bound_window_id,
    )
    # The state machine's CALL on the ticket as the candidate shows it (the WHERE re-checks that).
    new = apply(waiting, TicketOp.CALL, op.hall.policy, window_id=op.win.id)
    values = {
        "b_id": chosen.ticket_id,
        "b_bound": chosen.bound_window_id,
        "status": new.status.value,
        "window_id": new.window_id,
        "bound_window_id": new.bound_window_id,
        "recall_count": new.recall_count,
        "called_at": op.now,
        "clerk_id": op.win.clerk_id,
    }
    return _CLAIM_CALL.first(op.s.connection(), values)


def _set_called(op: _Op, row: Any, history: CallHistory, **window_values: Any) -> None:
    """The window now holds the called ticket; its call history gains the call."""
    history = history.with_call(row.group_prefix, bool(row.priority), keep=HISTORY_KEEP)
    op.set_window(current_ticket_id=row.id, call_history=[list(c) for c in history.calls], **window_values)


def _mark_called(op: _Op, row: Any, history: CallHistory, **window_values: Any) -> Any:
    new = apply(_domain_ticket(row), TicketOp.CALL, op.hall.policy, window_id=op.win.id)
    updated = op.save_ticket(row, new, called_at=op.now, clerk_id=op.win.clerk_id)
    _set_called(op, updated, history, **window_values)
    return updated


def call_chosen(ctx: ServerContext, p: Principal, window_id: int, ticket_id: int) -> dict[str, Any]:
    """Call one particular waiting ticket at this window."""
    with ctx.db.tx() as s:
        op = _Op(ctx, s, p, window_id)
        check_window_can_call(_domain_window(op.win))
        op.require_free()
        row = load_ticket(s, ticket_id, lock=True)
        if row.hall_id != op.hall.id:
            raise HallError("ticket.other_hall", ticket_id=ticket_id)
        serving = WindowServing(window_id=window_id, weights=dict(op.win.groups or {}), hall_id=op.hall.id)
        check_chosen(to_candidate(row, row.hall_id), row.status, serving)
        history = CallHistory.of(op.win.call_history or [])
        row = _mark_called(op, row, history)
        op.emit(EV_TICKET_CALLED, op.call_payload(row))
        return op.answer(row)


def call_back(ctx: ServerContext, p: Principal, window_id: int, ticket_id: int) -> dict[str, Any]:
    """Call a suspended ticket back to this window."""
    with ctx.db.tx() as s:
        op = _Op(ctx, s, p, window_id)
        check_window_can_call(_domain_window(op.win))
        op.require_free()
        row = load_ticket(s, ticket_id, lock=True)
        if row.hall_id != op.hall.id:
            raise HallError("ticket.other_hall", ticket_id=ticket_id)
        new = apply(_domain_ticket(row), TicketOp.CALL_BACK, op.hall.policy, window_id=window_id)
        row = op.save_ticket(row, new, called_at=op.now, clerk_id=op.win.clerk_id)
        op.set_window(current_ticket_id=row.id)
        op.emit(EV_TICKET_CALLED_BACK, op.call_payload(row))
        return op.answer(row)


# --- the current ticket -------------------------------------------------------------------
def recall(ctx: ServerContext, p: Principal, window_id: int) -> dict[str, Any]:
    """Announce the current ticket again (up to the hall's recall cap)."""
    with ctx.db.tx() as s:
        op = _Op(ctx, s, p, window_id, in_hand=True)
        row = op.current()
        new = apply(_domain_ticket(row), TicketOp.RECALL, op.hall.policy, window_id=window_id)
        row = op.save_ticket(row, new)
        op.emit(EV_TICKET_RECALLED, op.call_payload(row))
        return op.answer(row)


def _simple(
    ctx: ServerContext, p: Principal, window_id: int, ticket_op: TicketOp, event: str, *, frees: bool
) -> dict[str, Any]:
    with ctx.db.tx() as s:
        op = _Op(ctx, s, p, window_id, in_hand=True)
        return op.answer(_close_current(op, ticket_op, event, frees=frees))


def _close_current(op: _Op, ticket_op: TicketOp, event: str, *, frees: bool) -> Any:
    """Apply one step to the ticket in hand, write it, free the window if asked, announce it."""
    row = op.current()
    new = apply(_domain_ticket(row), ticket_op, op.hall.policy, window_id=op.win.id)
    extra: dict[str, Any] = {}
    if ticket_op is TicketOp.START:
        extra["started_at"] = op.now
    elif ticket_op is TicketOp.FINISH:
        extra["finished_at"] = op.now
    row = op.save_ticket(row, new, **extra)
    if frees:
        op.set_window(current_ticket_id=None, last_ticket_id=row.id)
    op.emit(event, {"ticket": op.view(row), "window": op.win_brief()})
    if ticket_op is TicketOp.FINISH:
        op.emit(EV_RATING_REQUESTED, _rating_request_payload(op, row))
    return row


def no_show(ctx: ServerContext, p: Principal, window_id: int) -> dict[str, Any]:
    """The called visitor did not come (过号)."""
    return _simple(ctx, p, window_id, TicketOp.NO_SHOW, EV_TICKET_NO_SHOW, frees=True)


def start(ctx: ServerContext, p: Principal, window_id: int) -> dict[str, Any]:
    """The visitor arrived; service begins."""
    return _simple(ctx, p, window_id, TicketOp.START, EV_TICKET_STARTED, frees=False)


def finish(ctx: ServerContext, p: Principal, window_id: int) -> dict[str, Any]:
    """Service done (办结); the window's rating terminal is asked to show the rating screen."""
    return _simple(ctx, p, window_id, TicketOp.FINISH, EV_TICKET_FINISHED, frees=True)


def suspend(ctx: ServerContext, p: Principal, window_id: int) -> dict[str, Any]:
    """Put the current ticket aside (visitor fetches a document); the window is free again."""
    return _simple(ctx, p, window_id, TicketOp.SUSPEND, EV_TICKET_SUSPENDED, frees=True)


def transfer(
    ctx: ServerContext,
    p: Principal,
    window_id: int,
    *,
    service_code: str | None,
    target_window_id: int | None,
) -> dict[str, Any]:
    """Send the current ticket back to waiting in another service's group or to another window."""
    if service_code is None and target_window_id is None:
        raise HallError("transfer.target_required")
    with ctx.db.tx() as s:
        op = _Op(ctx, s, p, window_id, in_hand=True)
        row = op.current()
        target_prefix = None
        if service_code is not None:
            ctx.catalog.service(service_code)
            target_prefix = ctx.catalog.prefix_for(op.hall, service_code)
        target = None
        if target_window_id is not None:
            if target_window_id == window_id:
                raise HallError("transfer.same_window", window_id=window_id)
            target = s.execute(select(W).where(W.c.id == target_window_id)).first()
            if target is None or target.hall_id != op.hall.id:
                raise HallError("window.unknown", window_id=target_window_id)
        new = apply(
            _domain_ticket(row),
            TicketOp.TRANSFER,
            op.hall.policy,
            window_id=window_id,
            target_prefix=target_prefix,
            target_window_id=target_window_id,
        )
        extra: dict[str, Any] = {}
        if service_code is not None:
            extra["service_code"] = service_code
        row2 = op.save_ticket(row, new, **extra)
        op.set_window(current_ticket_id=None, last_ticket_id=row.id)
        payload = {
            "ticket": op.view(row2),
            "window": op.win_brief(),
            "from_service_code": row.service_code,
            "to_service_code": service_code,
            "to_window": {"id": target.id, "number": target.number, "name": target.name} if target else None,
        }
        op.emit(EV_TICKET_TRANSFERRED, payload)
        return op.answer(row2)


# --- rating requests ----------------------------------------------------------------------
def _rating_request_payload(op: _Op, row: Any) -> dict[str, Any]:
    return {
        "window": op.win_brief(),
        "ticket_id": row.id,
        "number": row.number,
        "service_code": row.service_code,
        "service_name": op.ctx.catalog.service_name(row.service_code),
        "clerk": {"id": op.win.clerk_id, "name": _clerk_name(op.s, op.win.clerk_id)}
        if op.win.clerk_id
        else None,
    }


def request_rating(ctx: ServerContext, p: Principal, window_id: int) -> None:
    """Ask the window's rating terminal to rate the ticket being served or the last one served."""
    with ctx.db.tx() as s:
        op = _Op(ctx, s, p, window_id)
        ticket_id = op.win.current_ticket_id or op.win.last_ticket_id
        row = load_ticket(s, ticket_id) if ticket_id is not None else None
        if row is None or row.status not in ("serving", "finished"):
            raise HallError("window.no_rated_ticket", window_id=window_id)
        op.emit(EV_RATING_REQUESTED, _rating_request_payload(op, row))


# --- the window itself --------------------------------------------------------------------
_WINDOW_MOVES: dict[str, tuple[tuple[str, ...], str]] = {
    "pause": (("open",), "paused"),
    "resume": (("paused",), "open"),
    "open": (("closed", "paused"), "open"),
    "close": (("open", "paused"), "closed"),
}


def set_status(ctx: ServerContext, p: Principal, window_id: int, move: str) -> dict[str, Any]:
    """Pause, resume, open or close a window."""
    allowed_from, target = _WINDOW_MOVES[move]
    with ctx.db.tx() as s:
        op = _Op(ctx, s, p, window_id)
        if op.win.status not in allowed_from:
            raise HallError(
                "window.illegal_transition", window_id=window_id, window_status=op.win.status, op=move
            )
        if move == "close":
            op.require_free()
        op.set_window(status=target)
        out = _window_out(ctx, s, op.win, p)
        op.emit(EV_WINDOW_UPDATED, {"window": _window_out(ctx, s, op.win), "change": move})
        return out


def set_groups(ctx: ServerContext, p: Principal, window_id: int, groups: dict[str, int]) -> dict[str, Any]:
    """Change which groups a window serves and their weights (managers and admins)."""
    require_roles(p, "manager", "admin")
    with ctx.db.tx() as s:
        op = _Op(ctx, s, p, window_id)
        weights = check_weights(groups)
        unknown = sorted(set(weights) - set(op.hall.groups))
        if unknown:
            raise HallError("group.unknown", prefixes=unknown, hall_id=op.hall.id)
        op.set_window(groups=weights)
        out = _window_out(ctx, s, op.win, p)
        op.emit(EV_WINDOW_UPDATED, {"window": _window_out(ctx, s, op.win), "change": "groups"})
        return out


def get_window(ctx: ServerContext, p: Principal, window_id: int) -> dict[str, Any]:
    """A window as the wire shows it."""
    with ctx.db.read() as s:
        row = s.execute(select(W).where(W.c.id == window_id)).first()
        if row is None:
            raise HallError("window.unknown", window_id=window_id)
        require_hall(p, row.hall_id, ctx.catalog)
        out = _window_out(ctx, s, row, p)
        current = (
            s.execute(select(T).where(T.c.id == row.current_ticket_id)).first()
            if row.current_ticket_id is not None
            else None
        )
    if current is not None:
        record_reveals_apart(ctx, p, [current])
    return out


def window_out(ctx: ServerContext, s: Session, row: Any, p: Principal | None = None) -> dict[str, Any]:
    """Public helper for other services (login, snapshot)."""
    return _window_out(ctx, s, row, p)


__all__ = [
    "call_back",
    "call_chosen",
    "call_next",
    "finish",
    "get_window",
    "no_show",
    "recall",
    "request_rating",
    "set_groups",
    "set_status",
    "start",
    "suspend",
    "transfer",
]
