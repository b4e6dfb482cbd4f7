"""Keeps None alive under a PySide6 build that drops a reference to None on every void call.

PySide6 6.12 wheels on Python 3.11 return None from void methods (setText, show, setGeometry, ...)
without taking a reference, as if None were immortal (it is from Python 3.12 on, PEP 683). Every
such call then lowers None's reference count by one; a display with a clock, a notice marquee and
turning pages reaches zero within hours and the interpreter aborts ("none_dealloc: deallocating
None"). If the leak is seen here, None gets a reference reserve that no run can use up.
"""

from __future__ import annotations

import ctypes
import logging
import sys

logger = logging.getLogger(__name__)

# References added to None when the leak is seen: at a million leaked a second, 35 years.
NONE_RESERVE = 1 << 50
_PROBE_CALLS = 64
_checked = False


def _void_call_leaks() -> bool:
    """True when a void PySide6 call loses a reference to None."""
    from PySide6.QtCore import QObject

    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(_PROBE_CALLS):
        obj.setObjectName("probe")
    # A correct binding leaves the count as it was, give or take a few references made meanwhile.
    return before - sys.getrefcount(None) >= _PROBE_CALLS // 2


def protect_none() -> bool:
    """Check once per process; give None its reserve if void calls leak. True when it was needed."""
    global _checked
    if _checked or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    _checked = True
    if not _void_call_leaks():
        return False
    # ob_refcnt is the first field of every CPython object, and id() is its address.
    ctypes.c_ssize_t.from_address(id(None)).value += NONE_RESERVE
    import PySide6

    logger.warning(
        "PySide6 %s drops a reference to None on every void call (Python %d.%d); None kept alive",
        PySide6.__version__,
        *sys.version_info[:2],
    )
    return True
