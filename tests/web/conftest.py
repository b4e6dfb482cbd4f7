"""Fixtures of the browser tests: a real hall-server process per module and Debian's chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.server import HallServer
from tests.web.support import ARGS, CHROMIUM, seeded_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HallServer]:
    """One real hall-server process (SQLite) with the issue-5 test city."""
    yield from seeded_server(tmp_path_factory.mktemp("web"), {"HALL_EXT_WORKER_SECONDS": "1"})


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright (per module: no event loop outlives it)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: run .ci/install (it installs chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()
