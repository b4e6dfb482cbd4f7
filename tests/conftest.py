"""Root test configuration: shared fixtures live in tests/fixtures/ and register here."""

import json
import logging
import os
from pathlib import Path

import pytest

logger = logging.getLogger(__name__)

# Qt runs offscreen in every test; no display is needed.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = [
    name
    for name in (
        "tests.fixtures.postgres",
        "tests.fixtures.server",
        "tests.fixtures.pcsc",
        "tests.fixtures.cups",
    )
    if os.path.exists(os.path.join(os.path.dirname(__file__), "fixtures", name.rsplit(".", 1)[1] + ".py"))
]


# Each file's wall time in a whole run (tests/durations.json, written by the command in
# docs/testing.md). pytest-xdist runs a file on one worker (--dist loadfile) and hands the files out
# in collection order, so the longest files go first: a long file that starts late ends the run.
DURATIONS = Path(__file__).with_name("durations.json")
# A file with `slow` tests that the table does not list yet is taken for this long.
SLOW_FILE_S = 120.0


def _recorded_seconds() -> dict[str, float]:
    try:
        return {
            str(k): float(v) for k, v in json.loads(DURATIONS.read_text(encoding="utf-8"))["seconds"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        logger.warning("no file durations in %s: the files run in collection order", DURATIONS)
        return {}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The files that took longest in a recorded run are collected first, those with `slow` tests
    the table does not know yet next; a file's tests keep their order."""
    recorded = _recorded_seconds()
    slow_files = {i.nodeid.split("::", 1)[0] for i in items if i.get_closest_marker("slow") is not None}

    def seconds(item: pytest.Item) -> float:
        path = item.nodeid.split("::", 1)[0]
        return recorded.get(path, SLOW_FILE_S if path in slow_files else 0.0)

    items.sort(key=lambda i: -seconds(i))
