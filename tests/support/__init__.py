"""Helpers for tests: a bounded wait."""

from tests.support.waiting import wait_until

__all__ = ["wait_until"]
