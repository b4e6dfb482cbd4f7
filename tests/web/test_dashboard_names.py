"""The dashboard shows what a manager knows (names, ticket numbers, days), never internal ids or seq numbers."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.fixtures.server import HallServer
from tests.hall_server.clock_app import PASSWORD
from tests.web.support import Api, login, new_page, window_id
from tests.web.test_followup_form import bad_rating

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_dashboard_shows_names_not_internal_ids(server: HallServer, browser: Any) -> None:
    rating = bad_rating(server, "x-city", 2, ["服务态度"], "态度不好")
    manager = Api(server, server.login("m-city", PASSWORD)["token"])
    case = next(c for c in manager.get("/halls/x-city/followups") if c["rating_id"] == rating["id"])
    hall_ids = [h["id"] for h in manager.get("/dashboard/halls")]
    window_ids = [w["id"] for h in hall_ids for w in server.hall(h)["windows"]]
    page = new_page(browser)
    login(page, server, "m-city")
    page.click("#tree a[data-hall=x-city]")
    row = f"#followups tr[data-case='{case['id']}']"
    page.wait_for_selector(f"{row} button")
    page.wait_for_selector("#windows tr[data-window]")
    page.wait_for_selector("#audit-state [data-chain]")
    page.wait_for_function("document.getElementById('live').textContent.includes('实时')")
    # A live event reaches the feed while the page is open.
    kiosk = Api(server, server.create_token("kiosk", "x-city"))
    issued = kiosk.post("/halls/x-city/tickets", {"service_code": "S-001", "channel": "kiosk"})
    page.wait_for_selector("#feed li")

    # The case is known by its hall, its ticket's number and the day it was opened.
    _, m, d = (int(x) for x in case["opened_on"].split("-"))
    label = page.inner_text(f"{row} .case-label")
    assert label == f"{case['hall_name']} · {case['ticket_number']} · {m}月{d}日", label
    assert case["hall_name"] in page.inner_text("#tree")
    assert page.inner_text("#hall-meta") == case["hall_name"]  # the city: the top of its own path
    page.click(f"{row} button")
    page.wait_for_selector("#case-dialog[open]")
    assert case["ticket_number"] in page.inner_text("#case-title")

    text = page.inner_text("body")
    for hall_id in hall_ids:
        assert hall_id not in text, f"hall id {hall_id} on screen"
    assert not re.search(r"\bseq\b", text), "event sequence numbers on screen"
    assert issued["number"] in page.inner_text("#feed")
    # Window and case ids are bare numbers: no cell of the windows, cases or removals tables is one.
    cells = page.eval_on_selector_all(
        "#windows td, #followups td, #removals td, #conflicts td", "els => els.map(e => e.innerText.trim())"
    )
    assert window_id(server, "x-city", 1) in window_ids
    for wid in window_ids:
        assert str(wid) not in cells, f"window id {wid} on screen"
    assert str(case["id"]) not in cells, "case id on screen"
    assert f"工单{case['id']}" not in text and f"工单 {case['id']}" not in text
    assert f"case {case['id']}" not in text
