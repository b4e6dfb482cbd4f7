"""Helpers for tests: a TCP fault proxy for the station-to-city link and a bounded wait."""

from tests.support.netfault import FaultProxy, ProxyStats
from tests.support.waiting import wait_until

__all__ = ["FaultProxy", "ProxyStats", "wait_until"]
