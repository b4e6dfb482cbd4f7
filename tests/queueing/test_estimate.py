"""Wait-time estimates."""

from __future__ import annotations

import pytest

from queueing.const import DEFAULT_SERVICE_SECONDS
from queueing.estimate import effective_windows, estimate_wait_minutes, typical_service_seconds


def test_nobody_ahead_means_no_wait() -> None:
    assert estimate_wait_minutes(0, [600, 600], 1) == 0


def test_default_when_no_history() -> None:
    assert typical_service_seconds([]) == DEFAULT_SERVICE_SECONDS
    assert estimate_wait_minutes(4, [], 2) == round(4 * DEFAULT_SERVICE_SECONDS / 2 / 60)


def test_divided_across_windows_and_rounded_up() -> None:
    assert estimate_wait_minutes(10, [300] * 10, 1) == 50
    assert estimate_wait_minutes(10, [300] * 10, 5) == 10
    assert estimate_wait_minutes(1, [90] * 10, 1) == 2  # 1.5 minutes -> 2
    # No open window: estimated as if one served the group, never a division by zero.
    assert estimate_wait_minutes(3, [120] * 3, 0) == 6


def test_outliers_and_junk_do_not_swing_the_estimate() -> None:
    base = [300.0] * 18
    assert typical_service_seconds([*base, 3 * 3600.0, 2 * 3600.0]) == pytest.approx(300.0)
    assert typical_service_seconds([*base, 0.5, float("nan"), 10 * 3600.0]) == pytest.approx(300.0)


def test_only_the_newest_sample_counts() -> None:
    old = [900.0] * 100
    new = [240.0] * 30
    assert typical_service_seconds(old + new) == pytest.approx(240.0)


def test_more_people_never_means_less_wait() -> None:
    history = [100.0, 400.0, 250.0, 320.0]
    waits = [estimate_wait_minutes(n, history, 3) for n in range(50)]
    assert waits == sorted(waits)


def test_shared_windows_count_by_their_weight_share() -> None:
    windows = [{"A": 2, "B": 1}, {"B": 1}, {"C": 4}]
    assert effective_windows("B", windows) == pytest.approx(1 + 1 / 3)
    assert effective_windows("A", windows) == pytest.approx(2 / 3)
    assert effective_windows("Z", windows) == 0
    # 2 ahead x 300 s over 2/3 of a window = 15 minutes.
    assert estimate_wait_minutes(2, [300] * 5, effective_windows("A", windows)) == 15
