"""axe-core (WCAG 2.1 A/AA) over every web page and state: zero violations (GB/T 37668, 适老化).

Each entry of STATES opens a page in a fresh browser tab, brings it to one state and runs axe-core
(tests/web/axe.py fetches the pinned release from the npm registry) in the page. A new page or a
new state is one more `State(...)` in the list: a name, the viewport, and a function that gets the
page there (it may use the server and the shared `World`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.server import HallServer, hall_servers, prepare_database, run_cli
from tests.hall_server.clock_app import ID_A, ID_B, PASSWORD, SEED, _hall
from tests.web.axe import fetch_axe
from tests.web.support import DESKTOP, PHONE, Api, login, new_page, window_id

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# What is audited: WCAG 2.0 and 2.1, levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
VILLAGE = ("x-vil-a11y", "新桥村便民服务站", "st-a11y", "新桥村")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HallServer]:
    """The test city with one village station that never synced (so the stations panel shows)."""
    tmp = tmp_path_factory.mktemp("web-a11y")
    data = json.loads(json.dumps(SEED))
    hid, name, sid, sname = VILLAGE
    data["halls"].append(_hall(hid, name, "village", "x-town"))
    seed = tmp / "city.json"
    seed.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    db_url, data_dir = f"sqlite:///{tmp}/hall.sqlite3", tmp / "data"
    prepare_database(db_url, data_dir, seed)
    run_cli("station", "add", sid, "--halls", hid, "--name", sname, db_url=db_url, data_dir=data_dir)
    with hall_servers() as factory:
        yield factory(db_url, data_dir, prepare=False, env={"HALL_EXT_WORKER_SECONDS": "1"})


@pytest.fixture(scope="module")
def axe_js() -> str:
    """The axe-core script, fetched and verified once."""
    return Path(fetch_axe()).read_text(encoding="utf-8")


@dataclass
class World:
    """What the states share: the server and the tickets made for them."""

    server: HallServer
    tickets: dict[str, dict[str, Any]]

    def ticket(self, key: str, service: str = "S-002") -> dict[str, Any]:
        """A waiting ticket of the county hall, made once per key."""
        if key not in self.tickets:
            kiosk = Api(self.server, self.server.create_token("kiosk", "x-county"))
            self.tickets[key] = kiosk.post(
                "/halls/x-county/tickets", {"service_code": service, "channel": "kiosk"}
            )
        return self.tickets[key]


@pytest.fixture(scope="module")
def world(server: HallServer) -> World:
    """A bad rating (a follow-up case) and a device fault (an alert) in the city hall."""
    kiosk = Api(server, server.create_token("kiosk", "x-city"))
    w1 = window_id(server, "x-city", 1)
    clerk = Api(server, server.login("x-city-c1", PASSWORD, w1)["token"])
    kiosk.post("/halls/x-city/tickets", {"service_code": "S-001", "channel": "kiosk"})
    kiosk.post("/halls/x-city/tickets", {"service_code": "S-001", "channel": "kiosk"})
    served = clerk.post(f"/windows/{w1}/call-next")
    clerk.post(f"/windows/{w1}/start")
    clerk.post(f"/windows/{w1}/finish")
    rating = Api(server, server.create_token("rating", "x-city", w1))
    body = {"ticket_id": served["id"], "level": 1, "channel": "device", "prompted": True}
    rating.post("/ratings", {**body, "reasons": ["服务态度"], "text": "等了很久"})
    clerk.post(f"/windows/{w1}/call-next")
    kiosk.post(
        "/devices/heartbeat",
        {
            "device_id": "kiosk-01",
            "kind": "kiosk",
            "status": "fault",
            "faults": [{"code": "paper_out", "message": "打印机缺纸"}],
        },
    )
    return World(server, {})


# --- the states --------------------------------------------------------------------------------
def track_waiting(page: Any, w: World) -> None:
    t = w.ticket("waiting")
    page.goto(f"{w.server.base_url}/t/{t['track_token']}")
    page.wait_for_function("t => document.getElementById('number').textContent === t", arg=t["number"])
    page.wait_for_selector("#go-to:not(:empty)")


def track_unknown(page: Any, w: World) -> None:
    page.goto(f"{w.server.base_url}/t/no-such-token")
    page.wait_for_selector("#not-found:not([hidden])")


def track_cancel_asked(page: Any, w: World) -> None:
    track_waiting(page, w)
    page.click("#cancel-ticket")
    page.wait_for_selector("#cancel-confirm-box:not([hidden])")


def track_cancelled(page: Any, w: World) -> None:
    t = w.ticket("cancelled")
    page.goto(f"{w.server.base_url}/t/{t['track_token']}")
    page.wait_for_selector("#cancel-ticket:not([hidden])")
    page.click("#cancel-ticket")
    page.click("#cancel-ticket-confirm")
    page.wait_for_function("document.getElementById('status-line').textContent.includes('已取消')")


def book_start(page: Any, w: World) -> None:
    page.goto(f"{w.server.base_url}/book/x-city")
    page.wait_for_selector("#days button:not([disabled])")


def book_day_picked(page: Any, w: World) -> None:
    book_start(page, w)
    page.click("#days button:not([disabled]) >> nth=0")
    page.click("#slots button:not([disabled]) >> nth=0")


def book_error(page: Any, w: World) -> None:
    book_day_picked(page, w)
    page.fill("#id_number", "110101")
    page.fill("#phone", "13800138000")
    page.click("#submit")
    page.wait_for_selector("#error:not(:empty)")


def book_no_slot(page: Any, w: World) -> None:
    book_start(page, w)
    page.click("#submit")
    page.wait_for_selector("#error:not(:empty)")


def book_confirmation(page: Any, w: World) -> None:
    book_day_picked(page, w)
    page.fill("#id_number", ID_B)
    page.fill("#phone", "13900139000")
    page.click("#submit")
    page.wait_for_selector("#done:not([hidden]) #checkin-qr")


def book_cancel_code(page: Any, w: World) -> None:
    book_start(page, w)
    page.click("#days button:not([disabled]) >> nth=-1")
    page.click("#slots button:not([disabled]) >> nth=0")
    page.fill("#id_number", ID_A)
    page.fill("#phone", "13800138000")
    page.click("#submit")
    page.wait_for_selector("#done:not([hidden])")
    page.click("#cancel")
    page.wait_for_selector("#cancel-proof:not([hidden])")


def dashboard_login(page: Any, w: World) -> None:
    page.goto(w.server.base_url + "/dashboard")
    page.wait_for_selector("#login:not([hidden])")


def dashboard_login_error(page: Any, w: World) -> None:
    dashboard_login(page, w)
    page.fill("#username", "m-city")
    page.fill("#password", "wrong-password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:not(:empty)")


def dashboard_tree(page: Any, w: World) -> None:
    """The city manager's tree with the stations panel (a village station that never synced)."""
    login(page, w.server, "m-city")
    page.wait_for_selector("#stations-card:not([hidden]) #stations tr")


def dashboard_hall(page: Any, w: World) -> None:
    """A hall with every panel: last call, alerts, audit card, queues, windows, devices, feed, charts, cases."""
    login(page, w.server, "m-city")
    page.click("#tree a[data-hall=x-city]")
    page.wait_for_selector("#alerts .alert")
    page.wait_for_selector("#followups tr[data-case]")
    page.wait_for_selector("#audit-state [data-chain]")
    page.click("#reload-stats")
    page.wait_for_selector("#chart-hour svg")


def dashboard_groups_form(page: Any, w: World) -> None:
    dashboard_hall(page, w)
    page.click("#windows button.edit-groups >> nth=0")
    page.wait_for_selector("#groups-form:not([hidden])")
    page.fill("#groups-form-rows input.weight >> nth=0", "0")
    page.click("#groups-form-save")
    page.wait_for_selector("#groups-form-msg:not(:empty)")


def dashboard_followup_form(page: Any, w: World) -> None:
    dashboard_hall(page, w)
    page.click("#followups tr[data-case] .next-step >> nth=0")
    page.wait_for_selector("#case-dialog[open]")
    page.click("#case-submit")  # empty note: the form shows its error
    page.wait_for_selector("#case-msg:not(:empty)")


@dataclass(frozen=True)
class State:
    """One page in one state: its name, its viewport and how to get there."""

    name: str
    reach: Callable[[Any, World], None]
    phone: bool = True  # 390 px wide, else the desktop


STATES = [
    State("track-waiting", track_waiting),
    State("track-unknown", track_unknown),
    State("track-cancel-asked", track_cancel_asked),
    State("track-cancelled", track_cancelled),
    State("book-start", book_start),
    State("book-day-picked", book_day_picked),
    State("book-no-slot-error", book_no_slot),
    State("book-field-error", book_error),
    State("book-confirmation", book_confirmation),
    State("book-cancel-code", book_cancel_code),
    State("dashboard-login", dashboard_login, phone=False),
    State("dashboard-login-error", dashboard_login_error, phone=False),
    State("dashboard-tree-stations", dashboard_tree, phone=False),
    State("dashboard-hall", dashboard_hall, phone=False),
    State("dashboard-hall-phone", dashboard_hall),
    State("dashboard-groups-form", dashboard_groups_form, phone=False),
    State("dashboard-followup-form", dashboard_followup_form, phone=False),
]


def violations(page: Any, axe_js: str) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations of the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_js)
    return page.evaluate(
        "tags => axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })"
        ".then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary) })))",
        WCAG_TAGS,
    )


def describe(found: list[dict[str, Any]]) -> str:
    """The violations, one rule and its first nodes a line, for the failure message."""
    lines = []
    for v in found:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        lines += [f"    {n}" for n in v["nodes"][:5]]
    return "\n".join(lines)


@pytest.mark.parametrize("state", STATES, ids=[s.name for s in STATES])
def test_no_wcag_violations(state: State, world: World, browser: Any, axe_js: str) -> None:
    kw: dict[str, Any] = {"viewport": DESKTOP}
    if state.phone:
        kw = {"viewport": PHONE, "device_scale_factor": 2, "is_mobile": True}
    page = new_page(browser, **kw)
    try:
        state.reach(page, world)
        found = violations(page, axe_js)
        assert not found, f"{state.name}:\n{describe(found)}"
    finally:
        page.close()


def test_the_audit_sees_a_violation(world: World, browser: Any, axe_js: str) -> None:
    """The audit is live: an unlabelled input and low-contrast text added to a page are reported."""
    page = new_page(browser, viewport=PHONE)
    try:
        book_start(page, world)
        page.evaluate(
            "document.body.append(Object.assign(document.createElement('input'), {type: 'text'}));"
            "const p = document.createElement('p'); p.textContent = '看不清'; p.style.color = '#ccc';"
            "document.body.append(p);"
        )
        found = {v["id"] for v in violations(page, axe_js)}
        assert {"label", "color-contrast"} <= found
    finally:
        page.close()
