"""Now and then, the memory the C allocator holds free goes back to the kernel (glibc's malloc_trim)."""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable

from hall_server.const import MALLOC_TRIM_S

logger = logging.getLogger(__name__)


def _find_trim() -> Callable[[int], int] | None:
    # glibc only (the servers' Linux); elsewhere there is nothing to call and nothing to do.
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_TRIM = _find_trim()


def release_free_memory() -> bool:
    """Return free pages inside every malloc arena to the kernel; True if any were."""
    if _TRIM is None:
        return False
    return bool(_TRIM(0))


def start(stop: threading.Event, interval: float = MALLOC_TRIM_S) -> threading.Thread | None:
    """A daemon thread that trims every `interval` seconds until `stop` is set (None without glibc)."""
    if _TRIM is None or interval <= 0:
        return None

    def loop() -> None:
        while not stop.wait(interval):
            try:
                release_free_memory()
            except Exception:  # never worth stopping the server for
                logger.exception("malloc_trim failed")

    thread = threading.Thread(target=loop, name="hall-malloc-trim", daemon=True)
    thread.start()
    return thread
