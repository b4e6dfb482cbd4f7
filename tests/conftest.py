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


def _module_scoped(item: pytest.Item) -> bool:
    """Whether the test uses a module- or class-scoped fixture (a server, a browser, a city)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        d.scope in ("module", "class", "package") for defs in info.name2fixturedefs.values() for d in defs
    )


def pytest_itemcollected(item: pytest.Item) -> None:
    """Under pytest-xdist (`-n N --dist loadgroup`, as .ci/run runs): keep together what must share
    a worker (marked here, before xdist reads the marks in its own collection hook).

    - A file whose tests share a module-scoped fixture runs on one worker (one server or browser
      start, not one per worker), unless a test names its own `xdist_group`.
    - Tests of the machine's one pcscd (fixed vpcd port 35963) run on one worker, one at a time.
    """
    if item.get_closest_marker("xdist_group"):
        return
    if "pcscd" in getattr(item, "fixturenames", ()):
        item.add_marker(pytest.mark.xdist_group("pcscd"))
    elif _module_scoped(item):
        item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `slow` (and their files) are collected first, so no long test starts last."""
    slow_files = {i.nodeid.split("::", 1)[0] for i in items if i.get_closest_marker("slow") is not None}
    items.sort(key=lambda i: i.nodeid.split("::", 1)[0] not in slow_files)
