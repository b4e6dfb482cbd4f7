"""Root test configuration: shared fixtures live in tests/fixtures/ and register here."""

import os

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
