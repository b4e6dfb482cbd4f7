"""Keeps None, True and False alive under a PySide6 build that drops references to them.

PySide6 6.12 wheels on Python 3.11 return these singletons without taking a reference, as if they
were immortal (they are from Python 3.12 on, PEP 683): every void method call (setText, show,
setGeometry, ...) loses a reference to None, every Signal.emit() one to True. A count that reaches
zero aborts the interpreter ("none_dealloc" / "bool_dealloc"): an idle hall display with a clock and
a notice marquee died within hours, and True (a few hundred references at start) after a few hundred
signals. If a leak is seen here, each singleton gets a reference reserve that no run can use up.
"""

from __future__ import annotations

import ctypes
import logging
import sys

logger = logging.getLogger(__name__)

# References added to each singleton when a leak is seen: at a million lost a second, 35 years.
RESERVE = 1 << 50
SINGLETONS = (None, True, False)
_PROBE_CALLS = 64
_checked = False


def leaks() -> dict[str, int]:
    """References lost to None and True by _PROBE_CALLS void calls and as many signal emits."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        fired = Signal(int)

    obj = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for i in range(_PROBE_CALLS):
        obj.setObjectName("probe")
        obj.fired.emit(i)
    return {"None": none_before - sys.getrefcount(None), "True": true_before - sys.getrefcount(True)}


def protect_singletons() -> bool:
    """Check once per process; give the singletons their reserve if a leak is seen. True if needed."""
    global _checked
    if _checked or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    _checked = True
    lost = leaks()
    # A correct binding leaves the counts as they were, give or take a few references made meanwhile.
    if max(lost.values()) < _PROBE_CALLS // 2:
        return False
    for obj in SINGLETONS:
        # ob_refcnt is the first field of every CPython object, and id() is its address.
        ctypes.c_ssize_t.from_address(id(obj)).value += RESERVE
    import PySide6

    logger.warning(
        "PySide6 %s drops references to None/True on Qt calls and signals (Python %d.%d, lost %s "
        "in %d calls); they are kept alive",
        PySide6.__version__,
        *sys.version_info[:2],
        lost,
        _PROBE_CALLS,
    )
    return True
