"""Where to go: window numbers said as short ranges, and only staffed windows when there are any."""

from __future__ import annotations

from queueing.directions import directions_to, serving_windows, window_ranges


def test_runs_of_windows_become_ranges() -> None:
    assert window_ranges([9, 7, 8, 12, 3, 4, 8]) == ["3–4", "7–9", "12"]
    where = directions_to([9, 8, 7])
    assert where is not None
    assert (where.windows, where.text, where.text_en) == ((7, 8, 9), "7–9号窗口", "windows 7–9")
    one = directions_to([5])
    assert one is not None and (one.text, one.text_en) == ("5号窗口", "window 5")
    assert directions_to([]) is None


def test_closed_windows_are_left_out_unless_all_are_closed() -> None:
    windows = [
        (1, "open", {"A": 2, "B": 1}),
        (2, "closed", {"A": 1}),
        (3, "paused", {"A": 1}),
        (4, "open", {"B": 1}),
    ]
    assert serving_windows(windows, "A") == [1, 3]
    assert serving_windows([(2, "closed", {"A": 1}), (5, "closed", {"A": 1})], "A") == [2, 5]
    assert serving_windows(windows, "Z") == []
    assert serving_windows([(6, "open", None)], "A") == []
