"""Wait-time estimates from recent service durations."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping

from . import const

logger = logging.getLogger(__name__)


def typical_service_seconds(
    recent_service_seconds: Iterable[float],
    *,
    sample_size: int = const.ESTIMATE_SAMPLE_SIZE,
    trim: float = const.ESTIMATE_TRIM_FRACTION,
    default: float = const.DEFAULT_SERVICE_SECONDS,
) -> float:
    """Trimmed mean of the newest `sample_size` plausible durations (oldest first); `default` if none."""
    values = [
        float(v)
        for v in recent_service_seconds
        if v is not None and math.isfinite(v) and const.MIN_SERVICE_SECONDS <= v <= const.MAX_SERVICE_SECONDS
    ][-sample_size:]
    if not values:
        return default
    values.sort()
    cut = int(len(values) * trim)
    kept = values[cut : len(values) - cut] or values
    return sum(kept) / len(kept)


def effective_windows(group: str, window_weights: Iterable[Mapping[str, int]]) -> float:
    """How many windows' worth of capacity a group gets: a window's share is its weight / total."""
    total = 0.0
    for weights in window_weights:
        whole = sum(weights.values())
        if whole > 0 and weights.get(group, 0) > 0:
            total += weights[group] / whole
    return total


def estimate_wait_minutes(
    people_ahead: int,
    recent_service_seconds: Iterable[float],
    serving_windows: float,
    *,
    default_seconds: float = const.DEFAULT_SERVICE_SECONDS,
) -> int:
    """Whole minutes until a ticket is likely called: people ahead x typical duration / open windows.

    `serving_windows` may be a count or effective_windows() (a shared window counts partly).
    """
    if people_ahead <= 0:
        return 0
    per_person = typical_service_seconds(recent_service_seconds, default=default_seconds)
    # A group nobody serves right now still gets an estimate as if one window served it.
    windows = float(serving_windows) if serving_windows > 0 else 1.0
    return math.ceil(people_ahead * per_person / windows / 60.0)
