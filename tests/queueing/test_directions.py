"""Where to go: window numbers said as short ranges, only staffed windows when there are any, and
their zone when they share one (请到B区7–9号窗口)."""

from __future__ import annotations

import pytest

from queueing.directions import (
    WindowPlace,
    directions_for,
    directions_to,
    serving_windows,
    shared_zone,
    window_ranges,
)
from queueing.errors import InvalidConfiguration
from queueing.model import check_zone


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


def test_windows_that_share_a_zone_are_named_with_it() -> None:
    where = directions_to([9, 7, 8], "B区")
    assert where is not None
    assert (where.text, where.text_en) == ("B区7–9号窗口", "windows 7–9, zone B区")
    no_zone = directions_to([3], "")
    assert no_zone is not None and no_zone.text == "3号窗口"
    assert shared_zone(["B区", "B区"]) == "B区"
    assert shared_zone(["B区", "C区"]) is None and shared_zone(["B区", None]) is None
    assert shared_zone([None, None]) is None and shared_zone([]) is None


def test_the_directions_of_a_queue_say_its_zone_only_when_every_serving_window_is_in_it() -> None:
    hall = [
        WindowPlace(7, "open", {"A": 1}, "B区"),
        WindowPlace(8, "open", {"A": 1}, "B区"),
        WindowPlace(9, "paused", {"A": 1}, "B区"),
        WindowPlace(12, "closed", {"A": 1}, "C区"),  # closed: not where a visitor is sent now
        WindowPlace(20, "open", {"B": 1}, "C区"),
        WindowPlace(21, "open", {"B": 1}, "D区"),
        WindowPlace(30, "open", {"C": 1}, None),
    ]
    a = directions_for(hall, "A")
    assert a is not None and a.text == "B区7–9号窗口" and a.windows == (7, 8, 9)
    b = directions_for(hall, "B")  # two zones: the numbers alone, as before
    assert b is not None and b.text == "20–21号窗口"
    c = directions_for(hall, "C")  # a hall without zones stays as it was
    assert c is not None and c.text == "30号窗口"
    assert directions_for(hall, "Z") is None
    # Once window 12 is the only one (every window closed), its zone is the one said.
    closed = [WindowPlace(12, "closed", {"A": 1}, "C区"), WindowPlace(13, "closed", {"A": 1}, "C区")]
    only = directions_for(closed, "A")
    assert only is not None and only.text == "C区12–13号窗口"


@pytest.mark.parametrize("zone", ["B区", "  东区 ", "", None, "二楼A区"])
def test_a_zone_is_short_printable_text(zone: str | None) -> None:
    expected = zone.strip() or None if zone is not None else None
    assert check_zone(zone) == expected


@pytest.mark.parametrize("zone", ["一二三四五六七八九", "B\n区", "B\x00", 7])
def test_a_bad_zone_is_refused_with_its_own_code(zone: object) -> None:
    with pytest.raises(InvalidConfiguration) as err:
        check_zone(zone)  # type: ignore[arg-type]
    assert err.value.code == "window.invalid_zone"
