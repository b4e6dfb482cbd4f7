"""Where a ticket is served: the hall's windows of its queue, said the way a hall says it (请到1–3、7号窗口)."""

from __future__ import annotations

import logging

from wire import HallDetailOut

logger = logging.getLogger(__name__)


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7] → '1–3、7' (a run of three or more is one range)."""
    parts: list[str] = []
    i = 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{numbers[i]}–{numbers[j]}")
        else:
            parts.extend(str(n) for n in numbers[i : j + 1])
        i = j + 1
    return "、".join(parts)


def windows_of(hall: HallDetailOut | None, group: str) -> list[int]:
    """Numbers of the hall's windows that serve a queue, in order."""
    if hall is None or not group:
        return []
    return sorted({w.number for w in hall.windows if group in w.groups})


def where_to_go(hall: HallDetailOut | None, group: str, window_number: int | None = None) -> str:
    """'请到7–9号窗口' ('' when the hall lists no window for the queue); a called ticket its own window."""
    if window_number is not None:
        return f"请到{window_number}号窗口"
    numbers = windows_of(hall, group)
    return f"请到{_ranges(numbers)}号窗口" if numbers else ""
