"""A bounded wait for a condition, for tests that watch something settle in another thread."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout_s: float, interval_s: float = 0.05, message: str = ""
) -> T:
    """Return the predicate's first truthy value, polled every interval_s; AssertionError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            what = message or getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"{what}: not true within {timeout_s} s (last value {value!r})")
        time.sleep(min(interval_s, remaining))
