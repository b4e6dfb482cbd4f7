"""Memory freed across threads goes back to the kernel once trimmed (the soak's idle memory, issue 14)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from hall_server import malloc_trim

# A process that makes many event-sized strings on one thread, frees nine in ten of them on
# another (as replay pages and event texts are), then reports its RSS before and after a trim.
_CHILD = """
import threading
from pathlib import Path
from hall_server import malloc_trim

def rss_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

made = []
t = threading.Thread(target=lambda: made.extend(b"x" * 900 + i.to_bytes(4, "big") for i in range(200_000)))
t.start(); t.join()
kept = made[::10]  # every tenth stays: the freed ones are holes, not a shrinkable top
del made
before = rss_mb()
malloc_trim.release_free_memory()
print(before, rss_mb(), len(kept))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_memory_freed_across_threads_returns_once_trimmed() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=120, check=True
    )
    before, after, _kept = (float(x) for x in out.stdout.split())
    # About 190 MB made and nine tenths freed; pages holding a kept string stay. Measured: 198 ->
    # 112 MB with the trim, 198 -> 198 MB without (glibc keeps the holes of a thread's arena).
    assert before - after > 50, (before, after)


def test_trim_thread_stops_with_the_server() -> None:
    stop = threading.Event()
    thread = malloc_trim.start(stop, interval=0.05)
    assert thread is not None and thread.is_alive()
    time.sleep(0.2)  # a few trims ran
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
