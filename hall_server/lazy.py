"""Modules that load at their first use: heavy libraries only a few endpoints or passes need."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import threading
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)


class _OnFirstUse(ModuleType):
    """Stands in for a module until one of its attributes is read, then imports the real one.

    Not importlib's LazyLoader: before Python 3.12 it is not thread-safe, and a second thread
    could read attributes of the module while the first was still executing it (statistics
    requests and the rollup pass run on several threads at once). The real import below holds
    Python's module lock, so a second thread waits for it to finish.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_lock"] = threading.Lock()

    def __getattr__(self, attr: str) -> Any:
        # Called only for names not in this stand-in yet: after the first, it holds them all.
        with self.__dict__["_lock"]:
            real = importlib.import_module(self.__name__)
            self.__dict__.update({k: v for k, v in vars(real).items() if k != "_lock"})
        return getattr(real, attr)


def lazy_module(name: str) -> ModuleType:
    """The module `name`, imported when one of its attributes is first read (not at import).

    The server's start-up imports every router; numpy (a third of a second of CPU at start) is
    needed only by the statistics rollups, so it loads with the first statistics request or pass.
    """
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    if importlib.util.find_spec(name) is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    return _OnFirstUse(name)
