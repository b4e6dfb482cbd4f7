"""Old name of kiosk.qt_thread_gc, kept only while kiosk/demo.py still imports it from here."""

from kiosk.qt_thread_gc import COLLECT_INTERVAL_MS, MainThreadCollector

__all__ = ["COLLECT_INTERVAL_MS", "MainThreadCollector"]
