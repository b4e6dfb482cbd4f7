"""Helpers of the browser tests: chromium options, an API client with a token, the dashboard login."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.fixtures.server import HallServer
from tests.hall_server.clock_app import PASSWORD, SEED

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Screenshots go to a temporary folder; HALL_SCREENSHOTS_DIR=docs/screenshots refreshes the committed ones.
SHOTS = Path(os.environ.get("HALL_SCREENSHOTS_DIR") or tempfile.mkdtemp(prefix="web-shots-"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 1000}
TIMEOUT_MS = 15000


class Api:
    """requests against the server with a token."""

    def __init__(self, server: HallServer, token: str) -> None:
        self.s = server.session(token)
        self.base = server.api

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        r = self.s.post(self.base + path, json=body, timeout=30, **kw)
        assert r.status_code < 300, r.text
        return r.json() if r.content else None

    def get(self, path: str, **kw: Any) -> Any:
        r = self.s.get(self.base + path, timeout=30, **kw)
        assert r.status_code == 200, r.text
        return r.json()


def window_id(server: HallServer, hall: str, number: int) -> int:
    """A window's id from its hall and number."""
    return next(w["id"] for w in server.hall(hall)["windows"] if w["number"] == number)


def login(page: Any, server: HallServer, user: str) -> None:
    """Log a manager into the dashboard and wait for the hall tree."""
    page.goto(server.base_url + "/dashboard")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#tree a", timeout=TIMEOUT_MS)


def new_page(browser: Any, **kw: Any) -> Any:
    """A page in zh_CN and Beijing time with the tests' default timeout."""
    opts: dict[str, Any] = {"viewport": DESKTOP, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
    opts.update(kw)
    page = browser.new_page(**opts)
    page.set_default_timeout(TIMEOUT_MS)
    return page


def seeded_server(tmp: Path, env: dict[str, str]) -> Iterator[HallServer]:
    """One real hall-server process on SQLite with the test city, its settings in env."""
    from tests.fixtures.server import hall_servers

    seed = tmp / "city.json"
    seed.write_text(json.dumps(SEED, ensure_ascii=False), encoding="utf-8")
    with hall_servers() as factory:
        yield factory(f"sqlite:///{tmp}/hall.sqlite3", tmp / "data", seed_file=seed, env=env)
