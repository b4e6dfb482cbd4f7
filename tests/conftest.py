"""Root test configuration: shared fixtures live in tests/fixtures/ and register here."""

import os

import pytest

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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `slow` (and their files) are collected first, so no long test starts last."""
    slow_files = {i.nodeid.split("::", 1)[0] for i in items if i.get_closest_marker("slow") is not None}
    items.sort(key=lambda i: i.nodeid.split("::", 1)[0] not in slow_files)
