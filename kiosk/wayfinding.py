"""Where a ticket is served: the hall's windows of its queue, said the way a hall says it (请到1–3、7号窗口)."""

from __future__ import annotations

import logging

from queueing.directions import directions_to
from wire import HallDetailOut

logger = logging.getLogger(__name__)


def windows_of(hall: HallDetailOut | None, group: str) -> list[int]:
    """Numbers of the hall's windows that serve a queue, in order."""
    if hall is None or not group:
        return []
    return sorted({w.number for w in hall.windows if group in w.groups})


def where_to_go(hall: HallDetailOut | None, group: str, window_number: int | None = None) -> str:
    """'请到7–9号窗口' ('' when the hall lists no window for the queue); a called ticket its own window."""
    if window_number is not None:
        return f"请到{window_number}号窗口"
    # The same wording as the phone page's (queueing.directions); every window of the queue here,
    # as the ticket is issued before a clerk may have opened one.
    directions = directions_to(windows_of(hall, group))
    return f"请到{directions.text}" if directions else ""
