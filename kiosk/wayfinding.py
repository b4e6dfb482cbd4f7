"""Where a ticket is served: the hall's windows of its queue, said the way a hall says it (请到1–3、7号窗口)."""

from __future__ import annotations

import logging

from queueing.directions import directions_to, serving_windows
from wire import HallDetailOut

logger = logging.getLogger(__name__)


def windows_of(hall: HallDetailOut | None, group: str) -> list[int]:
    """Numbers of the hall's windows to send a queue's visitor to, in order (the phone page's rule)."""
    if hall is None or not group:
        return []
    return sorted(serving_windows([(w.number, w.status, w.groups) for w in hall.windows], group))


def where_to_go(hall: HallDetailOut | None, group: str, window_number: int | None = None) -> str:
    """'请到7–9号窗口' ('' when the hall lists no window for the queue); a called ticket its own window."""
    if window_number is not None:
        return f"请到{window_number}号窗口"
    # The same rule and wording as the phone page's (queueing.directions): the staffed windows of
    # the queue, or all of them while none is open yet.
    directions = directions_to(windows_of(hall, group))
    return f"请到{directions.text}" if directions else ""
