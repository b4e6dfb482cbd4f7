"""Where a ticket holder should go: the windows serving their queue, said as short ranges."""

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


def window_ranges(numbers: Iterable[int]) -> list[str]:
    """Sorted window numbers as runs: [7, 8, 9, 12] -> ["7–9", "12"]."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return [f"{r[0]}{RANGE_DASH}{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs]


def directions_to(numbers: Iterable[int]) -> Directions | None:
    """'7–9号窗口' / 'window 7–9' for these windows, or None when there is none."""
    windows = tuple(sorted(set(numbers)))
    if not windows:
        return None
    ranges = window_ranges(windows)
    label_en = "window" if len(windows) == 1 else "windows"
    return Directions(windows, f"{ZH_SEPARATOR.join(ranges)}号窗口", f"{label_en} {', '.join(ranges)}")


def serving_windows(windows: Iterable[tuple[int, str, dict[str, int] | None]], group: str) -> list[int]:
    """Numbers of the windows that serve `group`, from (number, status, groups) triples.

    The open (or paused) ones when there are any, so the visitor is not sent to a closed window;
    otherwise every window configured for the group (the hall may open them later).
    """
    serving = [(n, status) for n, status, groups in windows if group in (groups or {})]
    staffed = [n for n, status in serving if status != "closed"]
    return staffed or [n for n, _ in serving]
