"""Where a ticket is served: the hall's windows of its queue, said the way a hall says it
(请到1–3、7号窗口; 请到B区7–9号窗口 when they stand in one zone)."""

from __future__ import annotations

import logging

from queueing.directions import Directions, WindowPlace, directions_for, directions_to, serving_windows
from wire import HallDetailOut

logger = logging.getLogger(__name__)


def windows_of(hall: HallDetailOut | None, group: str) -> list[int]:
    """Numbers of the hall's windows to send a queue's visitor to, in order (the phone page's rule)."""
    if hall is None or not group:
        return []
    return sorted(serving_windows([(w.number, w.status, w.groups) for w in hall.windows], group))


def ticket_directions(
    hall: HallDetailOut | None, group: str, window_number: int | None = None
) -> Directions | None:
    """The windows a ticket of the queue goes to (a called ticket: its own window), None if none."""
    windows = hall.windows if hall is not None else []
    if window_number is not None:
        zone = next((w.zone for w in windows if w.number == window_number), None)
        return directions_to([window_number], zone)
    if not group:
        return None
    # The same rule and wording as the phone page's (queueing.directions): the staffed windows of
    # the queue, or all of them while none is open yet, with their zone when they share one.
    places = [WindowPlace(w.number, w.status, w.groups, w.zone) for w in windows]
    return directions_for(places, group)


def where_to_go(hall: HallDetailOut | None, group: str, window_number: int | None = None) -> str:
    """'请到B区7–9号窗口' ('' when the hall lists no window for the queue); a called ticket its own window."""
    directions = ticket_directions(hall, group, window_number)
    return f"请到{directions.text}" if directions else ""


def where_to_go_en(hall: HallDetailOut | None, group: str, window_number: int | None = None) -> str:
    """'Please go to windows 7–9' (the same windows as where_to_go, for the English screens and ticket)."""
    directions = ticket_directions(hall, group, window_number)
    return f"Please go to {directions.text_en}" if directions else ""
