"""An in-memory reference hall that plays every operation through the domain functions.

It shows how the pieces fit (the hall server does the same inside database transactions)
and it is the model the property tests drive.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from .errors import CallRefused, NotFound
from .estimate import effective_windows, estimate_wait_minutes
from .idnumber import parse_id_number
from .model import GreenReason, HallPolicy, QueueGroup, Ticket, TicketStatus, Window, WindowStatus
from .model import check_window_can_call as _check_window_can_call
from .numbering import business_day, format_number
from .policy import CallHistory, Candidate, WindowServing, check_chosen, choose_next, people_ahead
from .rules import check_can_issue, green_reason_for
from .tickets import TicketOp, apply

logger = logging.getLogger(__name__)


@dataclass
class SimEvent:
    """One state change, as the server's event log would record it."""

    type: str
    ticket_id: int | None
    window_id: int | None
    at: datetime


@dataclass
class SimHall:
    """A single hall held in memory: groups, windows, tickets, counters, call histories."""

    hall_id: str
    groups: list[QueueGroup]
    windows: list[Window]
    policy: HallPolicy = field(default_factory=HallPolicy)
    now: datetime = datetime(2026, 11, 27, 9, 0)
    tz: str | None = None
    tickets: dict[int, Ticket] = field(default_factory=dict)
    events: list[SimEvent] = field(default_factory=list)
    counters: dict[tuple[str, date], int] = field(default_factory=dict)
    person_counts: dict[tuple[str, date], int] = field(default_factory=dict)
    histories: dict[int, CallHistory] = field(default_factory=dict)
    durations: dict[str, list[float]] = field(default_factory=dict)
    _started_at: dict[int, datetime] = field(default_factory=dict)
    _next_id: int = 1

    # ---- look-ups -----------------------------------------------------------------
    def window(self, window_id: int) -> Window:
        """The window with this id, or NotFound."""
        for w in self.windows:
            if w.id == window_id:
                return w
        raise NotFound("window.not_found", f"窗口{window_id}不存在", f"window {window_id} does not exist")

    def ticket(self, ticket_id: int) -> Ticket:
        """The ticket with this id, or NotFound."""
        try:
            return self.tickets[ticket_id]
        except KeyError:
            raise NotFound("ticket.not_found", "票号不存在", f"ticket {ticket_id} does not exist") from None

    def group_for(self, service_code: str) -> QueueGroup:
        """The queue group of a service item, or NotFound."""
        for g in self.groups:
            if g.serves(service_code):
                return g
        raise NotFound(
            "service.not_found",
            f"本大厅不办理事项“{service_code}”",
            f"this hall does not handle service {service_code!r}",
        )

    def current_ticket(self, window_id: int) -> Ticket | None:
        """The ticket called or being served at a window."""
        return next(
            (t for t in self.tickets.values() if t.window_id == window_id and t.status.is_at_window), None
        )

    def today(self) -> date:
        """The current business day."""
        return business_day(self.now, self.tz)

    def waiting(self) -> list[Ticket]:
        """Today's waiting tickets in issue order."""
        return sorted(
            (t for t in self.tickets.values() if t.status is TicketStatus.WAITING), key=lambda t: t.id
        )

    def candidates(self) -> list[Candidate]:
        """Waiting tickets as the calling policy sees them."""
        return [to_candidate(t) for t in self.waiting()]

    def _serving(self, window: Window) -> WindowServing:
        return WindowServing(window.id, window.groups, hall_id=window.hall_id)

    def _set_window(self, window: Window) -> None:
        self.windows = [window if w.id == window.id else w for w in self.windows]

    def _log(self, kind: str, ticket_id: int | None, window_id: int | None) -> None:
        self.events.append(SimEvent(kind, ticket_id, window_id, self.now))

    def _store(self, ticket: Ticket, kind: str, window_id: int | None) -> Ticket:
        self.tickets[ticket.id] = ticket
        self._log(kind, ticket.id, window_id)
        return ticket

    # ---- issuing --------------------------------------------------------------------
    def issue(
        self,
        service_code: str,
        *,
        id_number: str | None = None,
        green: GreenReason | str | None = None,
        appointment: bool = False,
    ) -> Ticket:
        """Issue a ticket for a service item, checking every issuing rule first."""
        group = self.group_for(service_code)
        day = self.today()
        holder = parse_id_number(id_number, today=day) if id_number else None
        person_key = (holder.number, day) if holder else None
        check_can_issue(
            self.policy,
            self.now,
            self.counters.get((group.prefix, day), 0),
            self.person_counts.get(person_key, 0) if person_key else None,
            group_cap=group.daily_cap,
        )
        reason = green_reason_for(self.policy, holder, green, day)
        seq = self.counters.get((group.prefix, day), 0) + 1
        self.counters[(group.prefix, day)] = seq
        if person_key:
            self.person_counts[person_key] = self.person_counts.get(person_key, 0) + 1
        ticket = Ticket(
            id=self._next_id,
            hall_id=self.hall_id,
            prefix=group.prefix,
            seq=seq,
            number=format_number(group.prefix, seq, self.policy.number_width, self.policy.wrap_at),
            service_code=service_code,
            business_day=day,
            issued_order=self._next_id,
            priority=reason is not None,
            green_reason=reason,
            appointment=appointment,
        )
        self._next_id += 1
        return self._store(ticket, "ticket.issued", None)

    # ---- windows --------------------------------------------------------------------
    def login(self, window_id: int, clerk_id: str) -> Window:
        """A clerk logs in; the window opens."""
        w = replace(self.window(window_id), clerk_id=clerk_id, status=WindowStatus.OPEN)
        self._set_window(w)
        self._log("clerk.logged_in", None, window_id)
        return w

    def logout(self, window_id: int) -> Window:
        """The clerk logs out; the window closes (refused while it holds a ticket)."""
        self.set_status(window_id, WindowStatus.CLOSED)
        w = replace(self.window(window_id), clerk_id=None)
        self._set_window(w)
        self._log("clerk.logged_out", None, window_id)
        return w

    def set_status(self, window_id: int, status: WindowStatus) -> Window:
        """Pause, resume, open or close a window (closing needs the window to be free)."""
        status = WindowStatus(status)
        if status is WindowStatus.CLOSED and self.current_ticket(window_id) is not None:
            raise CallRefused(
                "window.busy",
                "窗口仍有正在办理的票号，不能关闭",
                "the window still holds a ticket; it cannot close",
                window_id=window_id,
            )
        w = replace(self.window(window_id), status=status)
        self._set_window(w)
        self._log("window.updated", None, window_id)
        return w

    def _check_free(self, window: Window) -> None:
        _check_window_can_call(window)
        held = self.current_ticket(window.id)
        if held is not None:
            raise CallRefused(
                "window.busy",
                f"请先处理当前票号{held.number}（办结、过号、转移或挂起）",
                f"finish, no-show, transfer or suspend the current ticket {held.number} first",
                window_id=window.id,
                ticket_id=held.id,
            )

    def _held(self, window_id: int) -> Ticket:
        held = self.current_ticket(window_id)
        if held is None:
            raise CallRefused(
                "window.no_ticket",
                "本窗口当前没有叫到的票号",
                "this window has no called ticket",
                window_id=window_id,
            )
        return held

    def _record_call(self, window_id: int, ticket: Ticket) -> None:
        history = self.histories.get(window_id, CallHistory())
        self.histories[window_id] = history.with_call(ticket.prefix, ticket.priority)

    # ---- calling --------------------------------------------------------------------
    def call_next(self, window_id: int) -> Ticket | None:
        """Call the next ticket for this window under the hall's policy (None: queue empty)."""
        window = self.window(window_id)
        self._check_free(window)
        pick = choose_next(
            self.candidates(),
            self._serving(window),
            self.histories.get(window_id, CallHistory()),
            self.policy,
        )
        if pick is None:
            return None
        ticket = apply(self.ticket(pick.ticket_id), TicketOp.CALL, self.policy, window_id=window_id)
        self._record_call(window_id, ticket)
        return self._store(ticket, "ticket.called", window_id)

    def call(self, window_id: int, ticket_id: int) -> Ticket:
        """Call one chosen waiting ticket."""
        window = self.window(window_id)
        self._check_free(window)
        current = self.ticket(ticket_id)
        check_chosen(to_candidate(current), current.status, self._serving(window))
        ticket = apply(current, TicketOp.CALL, self.policy, window_id=window_id)
        self._record_call(window_id, ticket)
        return self._store(ticket, "ticket.called", window_id)

    def call_back(self, window_id: int, ticket_id: int) -> Ticket:
        """Call a suspended ticket back to this window."""
        window = self.window(window_id)
        self._check_free(window)
        current = self.ticket(ticket_id)
        if current.status is TicketStatus.SUSPENDED and not window.groups.get(current.prefix):
            raise CallRefused(
                "call.group_not_served",
                f"本窗口不办理“{current.prefix}”队列的业务",
                f"this window does not serve queue group {current.prefix}",
                ticket_id=ticket_id,
            )
        ticket = apply(current, TicketOp.CALL_BACK, self.policy, window_id=window_id)
        return self._store(ticket, "ticket.called_back", window_id)

    def _at_window(
        self,
        window_id: int,
        op: TicketOp,
        kind: str,
        target_prefix: str | None = None,
        target_window_id: int | None = None,
    ) -> Ticket:
        held = self._held(window_id)
        ticket = apply(
            held,
            op,
            self.policy,
            window_id=window_id,
            target_prefix=target_prefix,
            target_window_id=target_window_id,
        )
        return self._store(ticket, kind, window_id)

    def recall(self, window_id: int) -> Ticket:
        """Announce the window's current ticket again (capped)."""
        return self._at_window(window_id, TicketOp.RECALL, "ticket.recalled")

    def no_show(self, window_id: int) -> Ticket:
        """The visitor did not come: the ticket is void."""
        return self._at_window(window_id, TicketOp.NO_SHOW, "ticket.no_show")

    def start(self, window_id: int) -> Ticket:
        """The visitor arrived; service starts."""
        ticket = self._at_window(window_id, TicketOp.START, "ticket.started")
        self._started_at[ticket.id] = self.now
        return ticket

    def finish(self, window_id: int) -> Ticket:
        """Service finished; its duration feeds the wait estimate."""
        ticket = self._at_window(window_id, TicketOp.FINISH, "ticket.finished")
        started = self._started_at.pop(ticket.id, None)
        if started is not None:
            self.durations.setdefault(ticket.prefix, []).append((self.now - started).total_seconds())
        return ticket

    def suspend(self, window_id: int) -> Ticket:
        """Set the ticket aside while the visitor fetches a document."""
        return self._at_window(window_id, TicketOp.SUSPEND, "ticket.suspended")

    def transfer(
        self, window_id: int, *, service_code: str | None = None, to_window: int | None = None
    ) -> Ticket:
        """Send the current ticket to another service's queue or to a specific window."""
        prefix = self.group_for(service_code).prefix if service_code is not None else None
        if to_window is not None:
            self.window(to_window)
        return self._at_window(
            window_id,
            TicketOp.TRANSFER,
            "ticket.transferred",
            target_prefix=prefix,
            target_window_id=to_window,
        )

    def cancel(self, ticket_id: int) -> Ticket:
        """The visitor gives up a waiting or suspended ticket."""
        ticket = apply(self.ticket(ticket_id), TicketOp.CANCEL, self.policy)
        return self._store(ticket, "ticket.cancelled", None)

    # ---- estimates ------------------------------------------------------------------
    def people_ahead(self, ticket_id: int) -> int:
        """People expected to be called before this waiting ticket."""
        ticket = self.ticket(ticket_id)
        if ticket.status is not TicketStatus.WAITING:
            return 0
        return people_ahead(ticket_id, self.candidates(), self.policy)

    def estimated_wait_minutes(self, ticket_id: int) -> int:
        """Minutes until the ticket is likely called."""
        ticket = self.ticket(ticket_id)
        serving = effective_windows(ticket.prefix, (w.groups for w in self.windows if w.can_call))
        return estimate_wait_minutes(
            self.people_ahead(ticket_id), self.durations.get(ticket.prefix, []), serving
        )

    def advance(self, seconds: float) -> None:
        """Move the hall's clock forward."""
        self.now += timedelta(seconds=seconds)


def to_candidate(ticket: Ticket) -> Candidate:
    """The calling-policy view of a ticket."""
    return Candidate(
        ticket_id=ticket.id,
        group=ticket.prefix,
        issued_order=ticket.issued_order,
        priority=ticket.priority,
        appointment=ticket.appointment,
        bound_window_id=ticket.bound_window_id,
        hall_id=ticket.hall_id,
    )


def demo_hall(
    windows: Iterable[tuple[int, dict[str, int]]] = ((1, {"A": 2, "B": 1}), (2, {"B": 1})),
) -> SimHall:
    """A small hall with two groups (A: 不动产登记, B: 社保) for examples and tests."""
    groups = [
        QueueGroup("demo", "A", "不动产登记", frozenset({"BDC-001", "BDC-002"})),
        QueueGroup("demo", "B", "社会保险", frozenset({"SB-001"})),
    ]
    return SimHall(
        hall_id="demo",
        groups=groups,
        windows=[Window(id=i, hall_id="demo", number=i, groups=g) for i, g in windows],
    )
