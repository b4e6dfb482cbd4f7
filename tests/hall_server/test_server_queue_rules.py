"""The server's shortcuts over the queue agree with the domain core on random queues.

The server computes a new ticket's position from four counts and lets call-next look only at
the head of each (group, class, binding); both must give exactly what queueing.policy gives
on the whole queue.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hall_server.services.queue import ahead_from_counts
from queueing.model import HallPolicy
from queueing.policy import CallHistory, Candidate, WindowServing, choose_next, people_ahead

policies = st.builds(
    HallPolicy,
    green_mode=st.sampled_from(["absolute", "ratio"]),
    green_ratio=st.tuples(st.integers(1, 3), st.integers(1, 4)),
    appointment_first=st.booleans(),
    calling_policy=st.sampled_from(["default", "fifo"]),
)
classes = st.tuples(st.booleans(), st.booleans())  # (priority, appointment)


@settings(max_examples=300, deadline=None)
@given(queue=st.lists(classes, max_size=40), new=classes, policy=policies)
def test_position_of_a_new_ticket_matches_the_domain(
    queue: list[tuple[bool, bool]], new: tuple[bool, bool], policy: HallPolicy
) -> None:
    policy = HallPolicy(**{**policy.to_dict(), "calling_policy": "default", "opening_hours": ()})
    cands = [Candidate(i + 1, "A", i + 1, priority=p, appointment=a) for i, (p, a) in enumerate(queue)]
    mine = Candidate(len(queue) + 1, "A", len(queue) + 1, priority=new[0], appointment=new[1])
    counts: dict[tuple[bool, bool], int] = {}
    for p, a in queue:
        counts[(p, a)] = counts.get((p, a), 0) + 1
    expected = people_ahead(mine.ticket_id, [*cands, mine], policy)
    assert ahead_from_counts(counts, new[0], new[1], policy) == expected


candidate_rows = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C"]), st.booleans(), st.booleans(), st.sampled_from([None, None, 1, 2])
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    rows=candidate_rows,
    weights=st.dictionaries(st.sampled_from(["A", "B", "C"]), st.integers(1, 3), min_size=1),
    history=st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.booleans()), max_size=12),
    policy=policies,
)
def test_heads_of_classes_choose_like_the_whole_queue(
    rows: list[tuple[str, bool, bool, int | None]],
    weights: dict[str, int],
    history: list[tuple[str, bool]],
    policy: HallPolicy,
) -> None:
    window = WindowServing(window_id=1, weights=weights)
    everyone = [
        Candidate(i + 1, g, i + 1, priority=p, appointment=a, bound_window_id=b)
        for i, (g, p, a, b) in enumerate(rows)
    ]
    # What the server's aggregate query returns: min id per (group, priority, appointment, bound),
    # restricted to what this window may see (its groups unbound, or bound to it).
    visible = [
        c for c in everyone if (c.bound_window_id is None and c.group in weights) or c.bound_window_id == 1
    ]
    heads: dict[tuple[str, bool, bool, int | None], Candidate] = {}
    for c in visible:
        key = (c.group, c.priority, c.appointment, c.bound_window_id)
        if key not in heads or c.issued_order < heads[key].issued_order:
            heads[key] = c
    hist = CallHistory.of(history)
    full = choose_next(everyone, window, hist, policy)
    short = choose_next(list(heads.values()), window, hist, policy)
    assert (full.ticket_id if full else None) == (short.ticket_id if short else None)
