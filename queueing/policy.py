"""The calling policy: which waiting ticket a window calls next (pure, deterministic, pluggable)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from . import const
from .errors import CallRefused, InvalidConfiguration
from .model import HallPolicy, TicketStatus, check_weights
from .tickets import TicketOp, next_status

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A waiting ticket as the policy sees it; `issued_order` is the hall-wide arrival order."""

    ticket_id: int
    group: str
    issued_order: int
    priority: bool = False
    appointment: bool = False
    bound_window_id: int | None = None
    hall_id: str | None = None


@dataclass(frozen=True)
class WindowServing:
    """A window as the policy sees it: its id and its weight per queue-group prefix."""

    window_id: int
    weights: Mapping[str, int] = field(hash=False)
    hall_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", check_weights(self.weights))

    def serves(self, group: str) -> bool:
        """True when the window serves this queue group."""
        return group in self.weights


@dataclass(frozen=True)
class CallHistory:
    """A window's recent calls as (group, priority) pairs, newest last."""

    calls: tuple[tuple[str, bool], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "calls", tuple((g, bool(p)) for g, p in self.calls))

    @classmethod
    def of(cls, calls: Iterable[tuple[str, bool]]) -> CallHistory:
        """Build a history from any iterable of (group, priority), oldest first."""
        return cls(tuple(calls))

    def recent(self, n: int = const.HISTORY_WINDOW) -> tuple[tuple[str, bool], ...]:
        """The newest `n` calls."""
        return self.calls[-n:] if n > 0 else ()

    def with_call(self, group: str, priority: bool, keep: int = const.HISTORY_WINDOW) -> CallHistory:
        """The history after one more call, trimmed to the newest `keep` entries."""
        # self.calls is normalised already: only the new pair needs it, not every kept one again
        # (a window keeps 60, and 下一位 runs this once per call).
        after = object.__new__(CallHistory)
        object.__setattr__(after, "calls", (*self.calls, (group, bool(priority)))[-keep:])
        return after


@runtime_checkable
class CallingPolicy(Protocol):
    """A hall's calling strategy; plug another one with register_calling_policy()."""

    name: str

    def choose_next(
        self,
        candidates: Sequence[Candidate],
        window: WindowServing,
        history: CallHistory,
        policy: HallPolicy,
    ) -> Candidate | None:
        """The candidate this window calls next, or None; must be pure and deterministic."""
        ...


def is_eligible(candidate: Candidate, window: WindowServing) -> bool:
    """True when the window may call this candidate: same hall, and its group or bound to it."""
    if candidate.hall_id is not None and window.hall_id is not None and candidate.hall_id != window.hall_id:
        return False
    if candidate.bound_window_id is not None:
        return candidate.bound_window_id == window.window_id
    return window.serves(candidate.group)


def _arrival(c: Candidate) -> tuple[int, int]:
    return (c.issued_order, c.ticket_id)


def _within_class(c: Candidate, policy: HallPolicy) -> tuple[int, int, int]:
    # Checked-in appointments go first within a class when the hall says so.
    return (0 if (policy.appointment_first and c.appointment) else 1, c.issued_order, c.ticket_id)


def priority_due(history: CallHistory, policy: HallPolicy) -> bool:
    """Whether a green-channel ticket goes next, given the window's recent calls."""
    if policy.green_mode == "absolute":
        return True
    p, n = policy.green_ratio
    calls = history.recent()
    if not any(pri for _, pri in calls):
        return True
    run = 0
    newest_is_priority = calls[-1][1]
    for _, pri in reversed(calls):
        if pri != newest_is_priority:
            break
        run += 1
    return run < p if newest_is_priority else run >= n


def pick_group(groups: Iterable[str], weights: Mapping[str, int], history: CallHistory) -> str:
    """Weighted round-robin from the history: the group furthest behind its weight in the current round.

    A round is the last (sum of weights - 1) calls: in a busy steady state exactly one group is
    one call short, so every run of sum-of-weights calls holds each group exactly `weight` times
    and shares never drift. A group that was empty catches up by at most its weight.
    """
    period = sum(weights.values()) or 1
    calls = history.recent(period - 1)
    counts: dict[str, int] = {}
    last_seen: dict[str, int] = {}
    for i, (g, _) in enumerate(history.recent()):
        last_seen[g] = i
    for g, _ in calls:
        counts[g] = counts.get(g, 0) + 1

    done = len(calls)

    def key(g: str) -> tuple[bool, int, int, int, str]:
        weight = weights.get(g, 1)
        count = counts.get(g, 0)
        # Behind its weight in this round first; then furthest behind its ideal share after the
        # next call (a smooth interleave like A A B A C A A for 5:1:1); then heavier, then oldest.
        # The lag behind that share is (done + 1) * weight / period - count; every group has the
        # same period, so it is compared times period, in whole numbers.
        lag = (done + 1) * weight - count * period
        return (count >= weight, -lag, -weight, last_seen.get(g, -1), g)

    return min(sorted(set(groups)), key=key)


class DefaultCallingPolicy:
    """Bound tickets, then green channel (absolute or ratio), appointments, window weights, arrival."""

    name = "default"

    def choose_next(
        self,
        candidates: Sequence[Candidate],
        window: WindowServing,
        history: CallHistory,
        policy: HallPolicy,
    ) -> Candidate | None:
        """The candidate this window calls next, or None when it has nothing to call."""
        eligible = [c for c in candidates if is_eligible(c, window)]
        if not eligible:
            return None
        # A ticket transferred to this very window was already started elsewhere: it goes first.
        bound = [c for c in eligible if c.bound_window_id is not None]
        if bound:
            return min(bound, key=_arrival)
        green = [c for c in eligible if c.priority]
        normal = [c for c in eligible if not c.priority]
        pool = green if green and (not normal or priority_due(history, policy)) else normal
        if policy.appointment_first:
            pool = [c for c in pool if c.appointment] or pool
        group = pick_group((c.group for c in pool), window.weights, history)
        return min((c for c in pool if c.group == group), key=_arrival)

    def group_order(self, candidates: Sequence[Candidate], group: str, policy: HallPolicy) -> list[Candidate]:
        """Expected call order of one group's unbound tickets for a window serving only that group."""
        mine = [c for c in candidates if c.group == group and c.bound_window_id is None]
        green = sorted((c for c in mine if c.priority), key=lambda c: _within_class(c, policy))
        normal = sorted((c for c in mine if not c.priority), key=lambda c: _within_class(c, policy))
        if policy.green_mode == "absolute":
            return green + normal
        p, n = policy.green_ratio
        out: list[Candidate] = []
        gi = ni = 0
        while gi < len(green) or ni < len(normal):
            take = min(p, len(green) - gi)
            out.extend(green[gi : gi + take])
            gi += take
            take = min(n, len(normal) - ni)
            out.extend(normal[ni : ni + take])
            ni += take
        return out


class FifoCallingPolicy:
    """Plain arrival order across the window's groups (bound tickets still first); no priorities."""

    name = "fifo"

    def choose_next(
        self,
        candidates: Sequence[Candidate],
        window: WindowServing,
        history: CallHistory,
        policy: HallPolicy,
    ) -> Candidate | None:
        """The earliest eligible candidate."""
        eligible = [c for c in candidates if is_eligible(c, window)]
        bound = [c for c in eligible if c.bound_window_id is not None]
        return min(bound or eligible, key=_arrival, default=None)


_REGISTRY: dict[str, CallingPolicy] = {}


def register_calling_policy(impl: CallingPolicy) -> None:
    """Make a calling policy selectable by `HallPolicy.calling_policy = impl.name`."""
    if not isinstance(impl, CallingPolicy):
        raise InvalidConfiguration(
            "policy.invalid_calling_policy",
            "叫号策略必须实现 choose_next",
            "a calling policy must implement choose_next and have a name",
        )
    _REGISTRY[impl.name] = impl


def get_calling_policy(name: str) -> CallingPolicy:
    """The registered calling policy called `name`."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InvalidConfiguration(
            "policy.unknown_calling_policy",
            f"未知的叫号策略“{name}”",
            f"unknown calling policy {name!r}",
            known=sorted(_REGISTRY),
        ) from None


register_calling_policy(DefaultCallingPolicy())
register_calling_policy(FifoCallingPolicy())


def choose_next(
    candidates: Sequence[Candidate],
    window: WindowServing,
    history: CallHistory,
    policy: HallPolicy,
) -> Candidate | None:
    """The ticket `window` calls next under the hall's calling policy (None: nothing to call)."""
    return get_calling_policy(policy.calling_policy).choose_next(candidates, window, history, policy)


def expected_order(candidates: Sequence[Candidate], group: str, policy: HallPolicy) -> list[Candidate]:
    """The order one group's unbound waiting tickets are expected to be called in."""
    impl = get_calling_policy(policy.calling_policy)
    fast = getattr(impl, "group_order", None)
    if fast is not None:
        return fast(candidates, group, policy)
    # Any other policy: play it on a window serving only this group.
    window = WindowServing(window_id=-1, weights={group: 1})
    left = [c for c in candidates if c.group == group and c.bound_window_id is None]
    history = CallHistory()
    out: list[Candidate] = []
    while left:
        pick = impl.choose_next(left, window, history, policy)
        if pick is None:
            break
        out.append(pick)
        left.remove(pick)
        history = history.with_call(pick.group, pick.priority)
    return out


def people_ahead(ticket_id: int, candidates: Sequence[Candidate], policy: HallPolicy) -> int:
    """How many waiting tickets are expected to be called before this one (0 if unknown)."""
    target = next((c for c in candidates if c.ticket_id == ticket_id), None)
    if target is None:
        return 0
    if target.bound_window_id is not None:
        return sum(
            1
            for c in candidates
            if c.bound_window_id == target.bound_window_id and _arrival(c) < _arrival(target)
        )
    order = expected_order(candidates, target.group, policy)
    return next((i for i, c in enumerate(order) if c.ticket_id == ticket_id), 0)


def check_chosen(
    candidate: Candidate,
    status: TicketStatus | str,
    window: WindowServing,
) -> None:
    """Validate a clerk's choice of one ticket: same hall, a group the window serves, waiting."""
    if candidate.hall_id is not None and window.hall_id is not None and candidate.hall_id != window.hall_id:
        raise CallRefused(
            "call.wrong_hall",
            "所选票号不属于本大厅",
            "the chosen ticket belongs to another hall",
            ticket_id=candidate.ticket_id,
        )
    if candidate.bound_window_id is not None and candidate.bound_window_id != window.window_id:
        raise CallRefused(
            "call.bound_elsewhere",
            "所选票号已转至其他窗口，只能由该窗口叫号",
            "the chosen ticket was transferred to another window; only that window may call it",
            ticket_id=candidate.ticket_id,
            bound_window_id=candidate.bound_window_id,
        )
    if candidate.bound_window_id is None and not window.serves(candidate.group):
        raise CallRefused(
            "call.group_not_served",
            f"本窗口不办理“{candidate.group}”队列的业务",
            f"this window does not serve queue group {candidate.group}",
            ticket_id=candidate.ticket_id,
            group=candidate.group,
        )
    next_status(status, TicketOp.CALL)
