"""Cyclic garbage is collected on the Qt thread only, while Qt runs."""

from __future__ import annotations

import gc
import weakref

from kiosk.qt_thread_gc import MainThreadCollector


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_collection_moves_to_the_qt_thread_and_back(qtbot) -> None:
    gc.enable()
    collector = MainThreadCollector(interval_ms=50)
    try:
        assert not gc.isenabled()  # no automatic collection in whatever thread allocates
        ref = weakref.ref(_Node())
        assert ref() is not None  # a cycle survives without a collection
        qtbot.waitUntil(lambda: ref() is None, timeout=5000)  # the timer collected it
    finally:
        collector.stop()
    assert gc.isenabled()
