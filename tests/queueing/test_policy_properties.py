"""Property tests of the calling policy: eligibility, green priority, ratio, weights, determinism."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from queueing.model import HallPolicy
from queueing.policy import CallHistory, Candidate, WindowServing, choose_next, expected_order, is_eligible

GROUPS = ["A", "B", "C", "D"]
SETTINGS = settings(max_examples=200, deadline=None)


@st.composite
def candidates(draw: st.DrawFn, max_size: int = 30) -> list[Candidate]:
    n = draw(st.integers(0, max_size))
    orders = draw(st.lists(st.integers(0, 10_000), min_size=n, max_size=n, unique=True))
    out = []
    for i, order in enumerate(orders):
        out.append(
            Candidate(
                ticket_id=i + 1,
                group=draw(st.sampled_from(GROUPS)),
                issued_order=order,
                priority=draw(st.booleans()),
                appointment=draw(st.booleans()),
                bound_window_id=draw(st.sampled_from([None, None, None, None, 1, 2])),
                hall_id=draw(st.sampled_from(["h", "h", "h", "other"])),
            )
        )
    return out


windows = st.builds(
    WindowServing,
    window_id=st.sampled_from([1, 2, 3]),
    weights=st.dictionaries(st.sampled_from(GROUPS), st.integers(1, 5), min_size=1, max_size=4),
    hall_id=st.just("h"),
)
histories = st.builds(
    CallHistory.of, st.lists(st.tuples(st.sampled_from(GROUPS), st.booleans()), max_size=80)
)
policies = st.builds(
    HallPolicy,
    green_mode=st.sampled_from(["absolute", "ratio"]),
    green_ratio=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    appointment_first=st.booleans(),
)


@SETTINGS
@given(candidates(), windows, histories, policies)
def test_only_eligible_tickets_are_returned_and_none_only_when_nothing_is(
    cands, window, history, policy
) -> None:
    pick = choose_next(cands, window, history, policy)
    eligible = [c for c in cands if is_eligible(c, window)]
    if pick is None:
        assert eligible == []
        return
    assert pick in cands
    assert pick.hall_id == "h"
    if pick.bound_window_id is None:
        assert pick.group in window.weights
        # Unbound tickets wait while a ticket transferred to this window is waiting.
        assert not any(c.bound_window_id == window.window_id for c in eligible)
    else:
        assert pick.bound_window_id == window.window_id


@SETTINGS
@given(candidates(), windows, histories, policies, st.randoms(use_true_random=False))
def test_deterministic_whatever_the_input_order(cands, window, history, policy, rnd) -> None:
    shuffled = list(cands)
    rnd.shuffle(shuffled)
    assert choose_next(cands, window, history, policy) == choose_next(shuffled, window, history, policy)
    assert choose_next(cands, window, history, policy) == choose_next(cands, window, history, policy)


@SETTINGS
@given(candidates(), windows, histories, st.booleans())
def test_absolute_green_is_never_passed_over(cands, window, history, appointment_first) -> None:
    policy = HallPolicy(green_mode="absolute", appointment_first=appointment_first)
    pick = choose_next(cands, window, history, policy)
    eligible = [c for c in cands if is_eligible(c, window)]
    if pick is not None and pick.bound_window_id is None and any(c.priority for c in eligible):
        assert pick.priority


@SETTINGS
@given(candidates(), windows, histories, policies)
def test_within_the_chosen_group_and_class_arrival_order_holds(cands, window, history, policy) -> None:
    pick = choose_next(cands, window, history, policy)
    if pick is None or pick.bound_window_id is not None:
        return
    same = [
        c
        for c in cands
        if is_eligible(c, window)
        and c.bound_window_id is None
        and c.group == pick.group
        and c.priority == pick.priority
        and (c.appointment == pick.appointment or not policy.appointment_first)
    ]
    assert pick.issued_order == min(c.issued_order for c in same)
    if policy.appointment_first and not pick.appointment:
        assert not any(c.appointment and c.priority == pick.priority for c in same)


def run_day(window: WindowServing, policy: HallPolicy, calls: int, supply: dict[tuple[str, bool], int]):
    """Call `calls` times with every (group, class) in `supply` never running dry."""
    pool: list[Candidate] = []
    next_id = 1
    for (group, pri), n in supply.items():
        for _ in range(n):
            pool.append(Candidate(next_id, group, next_id, priority=pri))
            next_id += 1
    history = CallHistory()
    made: list[Candidate] = []
    for _ in range(calls):
        pick = choose_next(pool, window, history, policy)
        assert pick is not None
        pool.remove(pick)
        made.append(pick)
        history = history.with_call(pick.group, pick.priority)
        # Refill so each kind stays available: a steady busy hall.
        pool.append(Candidate(next_id, pick.group, next_id, priority=pick.priority))
        next_id += 1
    return made


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), st.integers(30, 300))
def test_green_ratio_stays_within_bounds_over_long_runs(p: int, n: int, calls: int) -> None:
    policy = HallPolicy(green_mode="ratio", green_ratio=(p, n))
    window = WindowServing(1, {"A": 1})
    made = run_day(window, policy, calls, {("A", True): 3, ("A", False): 3})
    green = sum(c.priority for c in made)
    # Exactly p of every p+n calls once both kinds are waiting: the share never drifts.
    assert abs(green - calls * p / (p + n)) <= max(p, n)
    for i in range(0, calls - (p + n) + 1, p + n):
        assert sum(c.priority for c in made[i : i + p + n]) == p


@SETTINGS
@given(
    st.dictionaries(st.sampled_from(GROUPS), st.integers(1, 5), min_size=1, max_size=4),
    st.integers(60, 400),
)
def test_window_weights_share_calls_in_proportion(weights: dict[str, int], calls: int) -> None:
    window = WindowServing(1, weights)
    made = run_day(window, HallPolicy(), calls, {(g, False): 2 for g in weights})
    counts = Counter(c.group for c in made)
    total = sum(weights.values())
    for g, w in weights.items():
        assert abs(counts[g] - calls * w / total) < 1, (weights, counts)
    # Stronger: while every group has people waiting, each run of sum-of-weights calls
    # holds every group exactly `weight` times.
    seq = [c.group for c in made]
    for i in range(0, calls - total + 1, 7):
        assert Counter(seq[i : i + total]) == Counter(weights), (weights, i, seq[i : i + total])


@SETTINGS
@given(candidates(max_size=25), policies, st.sampled_from(GROUPS))
def test_expected_order_is_the_order_a_single_group_window_calls(cands, policy, group) -> None:
    mine = [c for c in cands if c.group == group and c.bound_window_id is None]
    window = WindowServing(7, {group: 1})
    left = list(mine)
    history = CallHistory()
    played = []
    while (pick := choose_next(left, window, history, policy)) is not None:
        played.append(pick)
        left.remove(pick)
        history = history.with_call(pick.group, pick.priority)
    assert expected_order(cands, group, policy) == played
