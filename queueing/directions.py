"""Where a ticket holder should go: the windows serving their queue, said as short ranges, with
their zone when they share one (请到B区7–9号窗口)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# An en dash joins a range (7–9), an ideographic comma separates ranges in Chinese.
RANGE_DASH = "\u2013"
ZH_SEPARATOR = "、"


@dataclass(frozen=True)
class Directions:
    """The windows to go to, and the sentence that says so (zh_CN first, English second)."""

    windows: tuple[int, ...]
    text: str
    text_en: str


@dataclass(frozen=True)
class WindowPlace:
    """What the directions need of a window: its number, status, queues and zone."""

    number: int
    status: str
    groups: dict[str, int] | None
    zone: str | None = None


def window_ranges(numbers: Iterable[int]) -> list[str]:
    """Sorted window numbers as runs: [7, 8, 9, 12] -> ["7–9", "12"]."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return [f"{r[0]}{RANGE_DASH}{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs]


def directions_to(numbers: Iterable[int], zone: str | None = None) -> Directions | None:
    """'7–9号窗口' / 'window 7–9' for these windows ('B区7–9号窗口' / 'windows 7–9, zone B区' when
    they stand in one zone), or None when there is none."""
    windows = tuple(sorted(set(numbers)))
    if not windows:
        return None
    ranges = window_ranges(windows)
    label_en = "window" if len(windows) == 1 else "windows"
    text, text_en = f"{ZH_SEPARATOR.join(ranges)}号窗口", f"{label_en} {', '.join(ranges)}"
    if zone:
        text, text_en = f"{zone}{text}", f"{text_en}, zone {zone}"
    return Directions(windows, text, text_en)


def shared_zone(zones: Iterable[str | None]) -> str | None:
    """The zone every one of these windows stands in, or None (no zones, or more than one)."""
    found = set(zones)
    return next(iter(found)) if len(found) == 1 else None


def directions_for(windows: Iterable[WindowPlace], group: str) -> Directions | None:
    """Where a waiting ticket of `group` goes: its serving windows, with their zone when shared."""
    places = list(windows)
    numbers = serving_windows([(w.number, w.status, w.groups) for w in places], group)
    zone = shared_zone(w.zone for w in places if w.number in numbers)
    return directions_to(numbers, zone)


def serving_windows(windows: Iterable[tuple[int, str, dict[str, int] | None]], group: str) -> list[int]:
    """Numbers of the windows that serve `group`, from (number, status, groups) triples.

    The open (or paused) ones when there are any, so the visitor is not sent to a closed window;
    otherwise every window configured for the group (the hall may open them later).
    """
    serving = [(n, status) for n, status, groups in windows if group in (groups or {})]
    staffed = [n for n, status in serving if status != "closed"]
    return staffed or [n for n, _ in serving]
