"""The calling policy: examples of each rule."""

from __future__ import annotations

from collections import Counter

import pytest

from queueing.errors import CallRefused, IllegalTransition, InvalidConfiguration
from queueing.model import HallPolicy, TicketStatus
from queueing.policy import (
    CallHistory,
    CallingPolicy,
    Candidate,
    WindowServing,
    check_chosen,
    choose_next,
    expected_order,
    get_calling_policy,
    people_ahead,
    register_calling_policy,
)

ABS = HallPolicy()
RATIO = HallPolicy(green_mode="ratio", green_ratio=(1, 2))


def c(tid: int, group: str = "A", **kw: object) -> Candidate:
    return Candidate(ticket_id=tid, group=group, issued_order=kw.pop("order", tid), **kw)  # type: ignore[arg-type]


def drain(cands: list[Candidate], window: WindowServing, policy: HallPolicy) -> list[int]:
    left = list(cands)
    history = CallHistory()
    out = []
    while (pick := choose_next(left, window, history, policy)) is not None:
        out.append(pick.ticket_id)
        left.remove(pick)
        history = history.with_call(pick.group, pick.priority)
    return out


W_A = WindowServing(1, {"A": 1})


def test_empty_and_unserved_queues_give_none() -> None:
    assert choose_next([], W_A, CallHistory(), ABS) is None
    assert choose_next([c(1, "B")], W_A, CallHistory(), ABS) is None


def test_arrival_order_within_a_group() -> None:
    assert drain([c(3), c(1), c(2)], W_A, ABS) == [1, 2, 3]


def test_absolute_green_channel_goes_first() -> None:
    cands = [c(1), c(2), c(3, priority=True), c(4), c(5, priority=True)]
    assert drain(cands, W_A, ABS) == [3, 5, 1, 2, 4]


def test_ratio_green_channel_one_to_two() -> None:
    cands = [c(i) for i in range(1, 7)] + [c(i, priority=True) for i in range(7, 10)]
    assert drain(cands, W_A, RATIO) == [7, 1, 2, 8, 3, 4, 9, 5, 6]


def test_ratio_uses_the_window_history() -> None:
    cands = [c(1), c(2, priority=True)]
    just_called_green = CallHistory.of([("A", True)])
    assert choose_next(cands, W_A, just_called_green, RATIO).ticket_id == 1
    two_normals = CallHistory.of([("A", True), ("A", False), ("A", False)])
    assert choose_next(cands, W_A, two_normals, RATIO).ticket_id == 2


def test_appointments_first_unless_the_hall_says_otherwise() -> None:
    cands = [c(1), c(2, appointment=True), c(3, priority=True)]
    assert drain(cands, W_A, ABS) == [3, 2, 1]
    assert drain(cands, W_A, HallPolicy(appointment_first=False)) == [3, 1, 2]


def test_window_weights_two_to_one() -> None:
    w = WindowServing(1, {"A": 2, "B": 1})
    cands = [c(i, "A") for i in range(1, 31)] + [c(i, "B") for i in range(31, 61)]
    first30 = drain(cands, w, ABS)[:30]
    groups = Counter("A" if t <= 30 else "B" for t in first30)
    assert groups == {"A": 20, "B": 10}


def test_weights_fall_back_to_the_other_group_when_one_is_empty() -> None:
    w = WindowServing(1, {"A": 5, "B": 1})
    assert drain([c(1, "B"), c(2, "B")], w, ABS) == [1, 2]


def test_bound_tickets_only_go_to_their_window_and_go_first() -> None:
    bound = c(9, "C", bound_window_id=2)
    cands = [c(1), bound]
    assert choose_next(cands, W_A, CallHistory(), ABS).ticket_id == 1
    assert choose_next([bound], W_A, CallHistory(), ABS) is None
    w2 = WindowServing(2, {"A": 1})
    assert choose_next(cands, w2, CallHistory(), ABS).ticket_id == 9


def test_other_halls_tickets_are_never_called() -> None:
    w = WindowServing(1, {"A": 1}, hall_id="h1")
    assert choose_next([c(1, hall_id="h2")], w, CallHistory(), ABS) is None
    assert choose_next([c(1, hall_id="h1")], w, CallHistory(), ABS).ticket_id == 1


def test_choose_next_does_not_depend_on_input_order() -> None:
    cands = [c(i, "AB"[i % 2], priority=i % 5 == 0, appointment=i % 7 == 0) for i in range(1, 40)]
    w = WindowServing(1, {"A": 3, "B": 2})
    h = CallHistory.of([("A", False), ("B", True), ("A", False)])
    assert choose_next(cands, w, h, RATIO) == choose_next(list(reversed(cands)), w, h, RATIO)


def test_people_ahead_follows_the_policy_order() -> None:
    cands = [c(1), c(2), c(3, priority=True), c(4, "B"), c(5, appointment=True)]
    assert [people_ahead(t, cands, ABS) for t in (1, 2, 3, 4, 5)] == [2, 3, 0, 0, 1]
    assert [x.ticket_id for x in expected_order(cands, "A", RATIO)] == [3, 5, 1, 2]
    assert people_ahead(99, cands, ABS) == 0
    bound = [c(1, bound_window_id=4), c(2, bound_window_id=4), c(3, bound_window_id=5)]
    assert [people_ahead(t, bound, ABS) for t in (1, 2, 3)] == [0, 1, 0]


def test_check_chosen() -> None:
    w = WindowServing(1, {"A": 1}, hall_id="h1")
    check_chosen(c(1, hall_id="h1"), TicketStatus.WAITING, w)
    cases = [
        (c(1, hall_id="h2"), TicketStatus.WAITING, "call.wrong_hall"),
        (c(1, "B", hall_id="h1"), TicketStatus.WAITING, "call.group_not_served"),
        (c(1, bound_window_id=2), TicketStatus.WAITING, "call.bound_elsewhere"),
    ]
    for cand, status, code in cases:
        with pytest.raises(CallRefused) as err:
            check_chosen(cand, status, w)
        assert err.value.code == code
    with pytest.raises(IllegalTransition) as err:
        check_chosen(c(1), TicketStatus.CALLED, w)
    assert "已叫号" in err.value.message_zh
    # A ticket bound to this window may be chosen whatever its group.
    check_chosen(c(1, "Z", bound_window_id=1), TicketStatus.WAITING, w)


class NewestFirst:
    """A deliberately odd policy to prove the plug-in seam."""

    name = "newest-first"

    def choose_next(self, candidates, window, history, policy):
        mine = [x for x in candidates if window.serves(x.group)]
        return max(mine, key=lambda x: x.issued_order, default=None)


def test_policies_are_pluggable_by_name() -> None:
    assert isinstance(NewestFirst(), CallingPolicy)
    register_calling_policy(NewestFirst())
    plug = HallPolicy(calling_policy="newest-first")
    assert drain([c(1), c(2), c(3)], W_A, plug) == [3, 2, 1]
    assert [people_ahead(t, [c(1), c(2), c(3)], plug) for t in (1, 2, 3)] == [2, 1, 0]
    fifo = HallPolicy(calling_policy="fifo")
    assert drain([c(1), c(2, priority=True), c(3, "B")], WindowServing(1, {"A": 1, "B": 9}), fifo) == [
        1,
        2,
        3,
    ]
    with pytest.raises(InvalidConfiguration) as err:
        get_calling_policy("nope")
    assert err.value.code == "policy.unknown_calling_policy"
    with pytest.raises(InvalidConfiguration):
        register_calling_policy(object())  # type: ignore[arg-type]
