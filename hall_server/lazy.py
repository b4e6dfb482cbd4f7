"""Modules that load at their first use: heavy libraries only a few endpoints or passes need."""

from __future__ import annotations

import importlib.util
import logging
import sys
from types import ModuleType

logger = logging.getLogger(__name__)


def lazy_module(name: str) -> ModuleType:
    """The module `name`, executed when one of its attributes is first read (not at import).

    The server's start-up imports every router; numpy (a third of a second of CPU at start) is
    needed only by the statistics rollups, so it loads with the first statistics request or pass.
    """
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
