"""The dashboard's audit-trail card: intact, then broken at the altered record after a restart."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.server import HallServer
from tests.web.support import TIMEOUT_MS, login, new_page, seeded_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HallServer]:
    """A real server whose audit verification runs every second."""
    yield from seeded_server(
        tmp_path_factory.mktemp("web-audit"),
        {"HALL_EXT_WORKER_SECONDS": "0", "HALL_AUDIT_VERIFY_SECONDS": "1"},
    )


def test_audit_card_shows_intact_then_broken(server: HallServer, browser: Any) -> None:
    kiosk = server.session(server.create_token("kiosk", "x-city"))
    r = kiosk.post(f"{server.api}/halls/x-city/tickets", json={"service_code": "S-001"}, timeout=30)
    assert r.status_code == 201, r.text
    page = new_page(browser)
    login(page, server, "m-city")
    page.click("#tree a[data-hall=x-city]")
    ok = "#audit-state [data-chain='x-city'].ok"
    page.wait_for_selector(ok, timeout=TIMEOUT_MS * 2)
    assert "完整" in page.inner_text(ok)
    # Someone edits the first record in the database file; the process re-walks every chain
    # when it starts, and the card names the record.
    db = server.db_url[len("sqlite:///") :]
    with sqlite3.connect(db) as conn:
        # The ticket's record (earlier ones, such as a hall.updated at start-up, may carry no payload).
        seq = conn.execute(
            "SELECT seq FROM events WHERE hall_id = 'x-city' AND type = 'ticket.issued' ORDER BY seq LIMIT 1"
        ).fetchone()[0]
        conn.execute("UPDATE events SET payload = '{}' WHERE hall_id = 'x-city' AND seq = ?", (seq,))
    server.restart()
    page.reload()
    page.click("#tree a[data-hall=x-city]")
    broken = "#audit-state [data-chain='x-city'].error"
    page.wait_for_selector(broken, timeout=TIMEOUT_MS * 2)
    # The record is named for the technician in the tooltip; seq numbers stay off the screen's text.
    assert "断裂" in page.inner_text(broken) and "seq" not in page.inner_text(broken)
    assert page.get_attribute(broken, "title") == f"seq {seq}"
