"""The bounded wait used by the fault tests."""

from __future__ import annotations

import time

import pytest

from tests.support import wait_until


def test_wait_until_returns_the_value_or_fails_in_time() -> None:
    calls = iter([0, None, "ready"])
    assert wait_until(lambda: next(calls), 1.0, interval_s=0.01) == "ready"
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"never true: not true within 0\.2 s"):
        wait_until(lambda: False, 0.2, message="never true")
    assert 0.2 <= time.monotonic() - started < 1.0
