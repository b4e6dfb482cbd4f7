"""The server starts without the libraries only a few endpoints need; they load at first use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _last_json_line(code: str) -> Any:
    """Run `code` in a fresh interpreter (the test process imported everything long ago)."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# Run in a fresh interpreter: the test process itself has imported everything long ago.
_PROBE = """
import json, sys
import hall_server.app
loaded = lambda name: name in sys.modules and type(sys.modules[name]).__name__ == "module"
before = {name: loaded(name) for name in ("numpy", "PIL.Image", "openpyxl")}
from hall_server.services import stats_facts
codes, labels = stats_facts.encode(["a", "b", "a"])
print(json.dumps({"before": before, "codes": codes.tolist(), "labels": labels, "after": loaded("numpy")}))
"""


def test_app_import_leaves_numpy_pillow_and_openpyxl_unloaded_until_used() -> None:
    got = _last_json_line(_PROBE)
    assert got["before"] == {"numpy": False, "PIL.Image": False, "openpyxl": False}
    # First use loads numpy and the statistics work as before.
    assert got["codes"] == [0, 1, 0] and got["labels"] == ["a", "b"]
    assert got["after"] is True


# Sixteen threads read numpy through the statistics module at the same instant, the first reads.
_RACE = """
import json, threading
import hall_server.app
from hall_server.services import stats_facts
barrier = threading.Barrier(16)
errors = []
def read():
    barrier.wait()
    try:
        stats_facts.np.zeros(3, dtype=stats_facts.np.int64).sum()
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=read) for _ in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(errors))
"""


def test_first_use_from_many_threads_at_once_sees_the_whole_module() -> None:
    for _ in range(3):
        assert _last_json_line(_RACE) == []
