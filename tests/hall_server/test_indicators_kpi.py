"""Every rating indicator and duration statistic against a hand-computed example (pure kpi)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queueing.kpi import (
    CaseFact,
    RatingFact,
    duration_stats,
    percentile,
    rating_indicators,
    visits_per_matter,
)


def test_rating_indicators_hand_computed() -> None:
    # 10 finished tickets, 8 of them rated; levels: 5,5,4,3,2,1 prompted + 5,2 unprompted.
    ratings = [RatingFact(level, True) for level in (5, 5, 4, 3, 2, 1)] + [
        RatingFact(5, False),
        RatingFact(2, False),
    ]
    # Three bad ratings -> three cases: one only verified, one answered, one revisited (satisfied).
    cases = [CaseFact("verified"), CaseFact("answered"), CaseFact("closed", revisit_satisfied=True)]
    ind = rating_indicators(ratings, finished_tickets=10, rated_finished_tickets=8, cases=cases)
    assert (ind.rated, ind.good, ind.bad) == (8, 5, 3)
    assert ind.good_rate == pytest.approx(5 / 8)  # 好评率
    assert ind.unprompted_good_rate == pytest.approx(1 / 2)  # 主动评价好评率
    assert ind.unrated_rate == pytest.approx(2 / 10)  # 未评率
    assert ind.bad_reply_rate == pytest.approx(2 / 3)  # 差评回复率
    assert ind.revisit_fix_rate == pytest.approx(1 / 3)  # 回访整改率
    assert ind.revisit_satisfaction_rate == pytest.approx(1.0)  # 回访整改满意率


def test_empty_scope_gives_undefined_not_zero() -> None:
    ind = rating_indicators([], 0, 0, [])
    assert ind.good_rate is None and ind.unrated_rate is None and ind.bad_reply_rate is None


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError):
        rating_indicators([RatingFact(6, True)], 1, 1, [])
    with pytest.raises(ValueError):
        rating_indicators([], 1, 2, [])


def test_duration_stats_hand_computed() -> None:
    waits = [60, 120, 180, 240, 300, 360, 420, 480, 540, 1200]
    st = duration_stats(waits, target_seconds=450)
    assert st.count == 10
    assert st.average == pytest.approx(390.0)
    assert st.p90 == 540.0  # nearest rank: ceil(0.9*10) = 9th value
    assert st.above_target == 3 and st.above_target_share == pytest.approx(0.3)
    assert percentile([], 90) is None
    assert duration_stats([], 10).average is None


def test_visits_per_matter() -> None:
    v = visits_per_matter([1, 1, 2, 1, 3])
    assert v["matters"] == 5 and v["at_most_once"] == 3
    assert v["at_most_once_rate"] == pytest.approx(0.6)
    assert v["histogram"] == {1: 3, 2: 1, 3: 1}


def test_counts_path_equals_fact_path_and_histogram_percentile() -> None:
    from queueing.kpi import indicators_from_counts, percentile_from_counts

    ind = indicators_from_counts({(5, True): 3, (1, False): 1}, 5, 4, {("revisited", False): 1})
    assert ind.good_rate == pytest.approx(3 / 4) and ind.unprompted_good_rate == 0.0
    assert ind.revisit_fix_rate == 1.0 and ind.revisit_satisfaction_rate == 0.0
    values = [60, 120, 180, 240, 300, 360, 420, 480, 540, 1200]
    hist = {v: 1 for v in values}
    assert percentile_from_counts(hist, 90) == percentile(sorted(values), 90) == 540.0
    assert percentile_from_counts({7: 10}, 90) == 7.0 and percentile_from_counts({}, 90) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 5000), min_size=1, max_size=200))
def test_histogram_percentile_equals_sorted_percentile(values: list[int]) -> None:
    from queueing.kpi import percentile_from_counts

    hist: dict[int, int] = {}
    for v in values:
        hist[v] = hist.get(v, 0) + 1
    for q in (50, 90, 100):
        assert percentile_from_counts(hist, q) == percentile(sorted(values), q)
