"""Property tests: a simulated hall never loses, duplicates or double-serves a ticket."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from queueing.errors import DomainError
from queueing.model import HallPolicy, QueueGroup, Ticket, TicketStatus, Window, WindowStatus
from queueing.policy import WindowServing, is_eligible
from queueing.sim import SimHall, to_candidate

SERVICES = ["BDC-001", "BDC-002", "SB-001", "GA-001"]
WINDOW_IDS = [1, 2, 3]
IDS = ["11010519491231002X", "110101197608056897", "51010219561127001X"]

policies = st.builds(
    HallPolicy,
    green_mode=st.sampled_from(["absolute", "ratio"]),
    green_ratio=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    recall_cap=st.integers(0, 3),
    per_person_daily_limit=st.sampled_from([None, 2]),
    appointment_first=st.booleans(),
)


def make_hall(policy: HallPolicy) -> SimHall:
    """Three groups, a comprehensive window, a specialised one, and a mixed one; all logged in."""
    groups = [
        QueueGroup("h", "A", "不动产登记", frozenset({"BDC-001", "BDC-002"})),
        QueueGroup("h", "B", "社会保险", frozenset({"SB-001"})),
        QueueGroup("h", "C", "户籍", frozenset({"GA-001"}), daily_cap=6),
    ]
    windows = [
        Window(id=1, hall_id="h", number=1, groups={"A": 2, "B": 1}),
        Window(id=2, hall_id="h", number=2, groups={"B": 1}),
        Window(id=3, hall_id="h", number=3, groups={"A": 1, "C": 3}),
    ]
    hall = SimHall(hall_id="h", groups=groups, windows=windows, policy=policy)
    for w in WINDOW_IDS:
        hall.login(w, f"clerk{w}")
    return hall


class Checker:
    """Plays operations on a hall and checks the invariants after each one."""

    def __init__(self, hall: SimHall) -> None:
        self.hall = hall
        self.issued: list[int] = []
        self.terminal: dict[int, Ticket] = {}
        self.done: Counter[str] = Counter()

    def attempt(self, action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run an operation; a refusal must be typed and leave every ticket and window untouched."""
        before = (dict(self.hall.tickets), list(self.hall.windows), dict(self.hall.counters))
        try:
            result = action(*args, **kwargs)
        except DomainError as exc:
            assert exc.code and exc.message_zh and exc.message_en
            assert (dict(self.hall.tickets), list(self.hall.windows), dict(self.hall.counters)) == before
            self.done["refused"] += 1
            return None
        self.done[action.__name__] += 1
        return result

    # ---- operations with their own post-conditions -------------------------------------
    def issue(self, service: str, id_number: str | None, green: str | None, appointment: bool) -> None:
        t = self.attempt(self.hall.issue, service, id_number=id_number, green=green, appointment=appointment)
        if t is not None:
            assert t.status is TicketStatus.WAITING
            self.issued.append(t.id)

    def call_next(self, window: int) -> None:
        w = self.hall.window(window)
        waiting_before = {t.id: t for t in self.hall.waiting()}
        free = self.hall.current_ticket(window) is None
        t = self.attempt(self.hall.call_next, window)
        ws = WindowServing(w.id, w.groups, hall_id=w.hall_id)
        eligible = [x for x in waiting_before.values() if is_eligible(to_candidate(x), ws)]
        if t is None:
            # Nothing is called only when calling is not allowed or nothing here is eligible.
            assert not (w.can_call and free and eligible)
            return
        assert w.can_call and free
        before = waiting_before[t.id]
        assert t.window_id == window and t.status is TicketStatus.CALLED
        assert is_eligible(to_candidate(before), ws)
        bound_here = [x for x in eligible if x.bound_window_id == window]
        if bound_here:
            assert before.bound_window_id == window
        elif self.hall.policy.green_mode == "absolute" and not before.priority:
            assert not any(x.priority for x in eligible), "an eligible green-channel ticket was passed over"

    def transfer(self, window: int, service: str | None, to_window: int | None) -> None:
        t = self.attempt(self.hall.transfer, window, service_code=service, to_window=to_window)
        if t is not None:
            assert t.status is TicketStatus.WAITING and t.window_id is None
            assert t.bound_window_id == to_window

    def recall(self, window: int) -> None:
        t = self.attempt(self.hall.recall, window)
        if t is not None:
            assert t.recall_count <= self.hall.policy.recall_cap

    # ---- invariants ---------------------------------------------------------------------
    def check(self) -> None:
        tickets = self.hall.tickets
        # Nothing lost: every issued ticket is still there, in exactly one status.
        assert sorted(tickets) == sorted(self.issued)
        assert all(isinstance(t.status, TicketStatus) for t in tickets.values())
        # Nothing duplicated: numbers unique per business day (prefix is part of the number).
        keys = Counter((t.business_day, t.number) for t in tickets.values())
        assert all(n == 1 for n in keys.values()), keys
        # A window holds at most one ticket, and a called ticket is at exactly one window.
        at_window = Counter(t.window_id for t in tickets.values() if t.status.is_at_window)
        assert None not in at_window
        assert all(n == 1 for n in at_window.values())
        for t in tickets.values():
            if t.status in (TicketStatus.WAITING, TicketStatus.SUSPENDED):
                assert t.window_id is None
            # A transfer-to-window binding lives only while the ticket waits for that window.
            if t.bound_window_id is not None:
                assert t.status is TicketStatus.WAITING
            assert 0 <= t.recall_count <= self.hall.policy.recall_cap
        # Served at most once; a terminal ticket never changes again.
        finished = Counter(e.ticket_id for e in self.hall.events if e.type == "ticket.finished")
        assert all(n == 1 for n in finished.values())
        for tid, snapshot in self.terminal.items():
            assert tickets[tid] == snapshot
        for t in tickets.values():
            if t.status.is_terminal:
                self.terminal.setdefault(t.id, t)
        # Every waiting ticket has a sane position and estimate.
        waiting = self.hall.waiting()
        for t in waiting[:5]:
            assert 0 <= self.hall.people_ahead(t.id) < len(waiting)
            assert self.hall.estimated_wait_minutes(t.id) >= 0


class HallMachine(RuleBasedStateMachine):
    """Random clerk, kiosk and visitor operations, one rule each, against the reference hall."""

    def __init__(self) -> None:
        super().__init__()
        self.c = Checker(make_hall(HallPolicy()))

    @initialize(policy=policies)
    def setup(self, policy: HallPolicy) -> None:
        self.c = Checker(make_hall(policy))

    def busy_window(self, data: st.DataObject) -> int:
        """Mostly a window holding a ticket (so operations mostly apply), sometimes any window."""
        busy = [w for w in WINDOW_IDS if self.c.hall.current_ticket(w) is not None]
        if busy and data.draw(st.integers(0, 4)) > 0:
            return data.draw(st.sampled_from(busy))
        return data.draw(st.sampled_from(WINDOW_IDS))

    def pick(self, data: st.DataObject, statuses: set[TicketStatus]) -> int | None:
        ids = sorted(t.id for t in self.c.hall.tickets.values() if t.status in statuses)
        if not ids or not data.draw(st.booleans()):
            ids = sorted(self.c.hall.tickets)
        return data.draw(st.sampled_from(ids)) if ids else None

    @rule(
        service=st.sampled_from([*SERVICES, *SERVICES, "NOPE-404"]),
        id_number=st.sampled_from([None, None, *IDS, "110101197608056896"]),
        green=st.sampled_from([None, None, None, None, "disabled", "pregnant", "elderly"]),
        appointment=st.booleans(),
    )
    def issue(self, service: str, id_number: str | None, green: str | None, appointment: bool) -> None:
        self.c.issue(service, id_number, green, appointment)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        tid = self.pick(data, {TicketStatus.WAITING, TicketStatus.SUSPENDED})
        if tid is not None:
            self.c.attempt(self.c.hall.cancel, tid)

    @rule(window=st.sampled_from(WINDOW_IDS), status=st.sampled_from(list(WindowStatus)))
    def set_status(self, window: int, status: WindowStatus) -> None:
        self.c.attempt(self.c.hall.set_status, window, status)

    @rule(window=st.sampled_from(WINDOW_IDS))
    def call_next(self, window: int) -> None:
        self.c.call_next(window)

    @rule(window=st.sampled_from(WINDOW_IDS), data=st.data())
    def call_chosen(self, window: int, data: st.DataObject) -> None:
        tid = self.pick(data, {TicketStatus.WAITING})
        if tid is not None:
            self.c.attempt(self.c.hall.call, window, tid)

    @rule(window=st.sampled_from(WINDOW_IDS), data=st.data())
    def call_back(self, window: int, data: st.DataObject) -> None:
        tid = self.pick(data, {TicketStatus.SUSPENDED})
        if tid is not None:
            self.c.attempt(self.c.hall.call_back, window, tid)

    @rule(data=st.data(), op=st.sampled_from(["no_show", "start", "suspend"]))
    def window_op(self, data: st.DataObject, op: str) -> None:
        self.c.attempt(getattr(self.c.hall, op), self.busy_window(data))

    @rule(data=st.data())
    def recall(self, data: st.DataObject) -> None:
        self.c.recall(self.busy_window(data))

    @rule(data=st.data(), seconds=st.integers(0, 900))
    def finish(self, data: st.DataObject, seconds: int) -> None:
        self.c.hall.advance(seconds)
        self.c.attempt(self.c.hall.finish, self.busy_window(data))

    @rule(
        data=st.data(),
        service=st.sampled_from([None, *SERVICES]),
        to_window=st.sampled_from([None, *WINDOW_IDS]),
    )
    def transfer(self, data: st.DataObject, service: str | None, to_window: int | None) -> None:
        self.c.transfer(self.busy_window(data), service, to_window)

    @precondition(lambda self: len(self.c.hall.tickets) > 0)
    @rule()
    def next_day(self) -> None:
        self.c.hall.advance(24 * 3600)

    @invariant()
    def invariants_hold(self) -> None:
        self.c.check()


HallMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestHallMachine = HallMachine.TestCase


# ---- the same invariants over long busy days -----------------------------------------------
OPS = ["issue", "issue", "issue", "call_next", "call_next", "call_next", "start", "start", "finish",
       "finish", "recall", "no_show", "suspend", "call_back", "call_chosen", "transfer", "cancel",
       "pause", "resume"]  # fmt: skip
steps = st.lists(
    st.tuples(st.sampled_from(OPS), st.sampled_from(WINDOW_IDS), st.integers(0, 1000)),
    min_size=60,
    max_size=250,
)


def play(c: Checker, op: str, window: int, k: int) -> None:
    """Interpret one drawn step against the current state (k picks a ticket or a variant)."""
    hall = c.hall
    ids = sorted(hall.tickets)
    pick = ids[k % len(ids)] if ids else None
    busy = [w for w in WINDOW_IDS if hall.current_ticket(w) is not None]
    if op in ("start", "no_show", "suspend", "finish", "recall", "transfer") and busy and k % 4:
        window = busy[k % len(busy)]  # mostly act where there is a ticket, sometimes anywhere
    if op == "issue":
        c.issue(SERVICES[k % 4], [None, None, *IDS][k % 5], [None, None, None, "disabled"][k % 4], k % 6 == 0)
    elif op == "call_next":
        c.call_next(window)
    elif op in ("start", "no_show", "suspend"):
        c.attempt(getattr(hall, op), window)
    elif op == "finish":
        hall.advance(60 + k)
        c.attempt(hall.finish, window)
    elif op == "recall":
        c.recall(window)
    elif op == "transfer":
        c.transfer(window, [None, *SERVICES][k % 5], [None, None, *WINDOW_IDS][k % 5])
    elif op in ("call_chosen", "call_back", "cancel") and pick is not None:
        suspended = sorted(t.id for t in hall.tickets.values() if t.status is TicketStatus.SUSPENDED)
        if op == "call_back" and suspended:
            pick = suspended[k % len(suspended)]
        action = {"call_chosen": hall.call, "call_back": hall.call_back}.get(op)
        if action is None:
            c.attempt(hall.cancel, pick)
        else:
            c.attempt(action, window, pick)
    elif op == "pause":
        c.attempt(hall.set_status, window, WindowStatus.PAUSED)
    elif op == "resume":
        c.attempt(hall.set_status, window, WindowStatus.OPEN)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies, script=steps)
def test_long_days_keep_every_invariant(policy: HallPolicy, script: list[tuple[str, int, int]]) -> None:
    c = Checker(make_hall(policy))
    for op, window, k in script:
        play(c, op, window, k)
        c.check()
