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

from queueing.idnumber import check_character
from tests.fixtures.server import HallServer, hall_servers, prepare_database, run_cli
from tests.hall_server.clock_app import PASSWORD, SEED, _hall
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
    made: int = 0

    def ticket(self, service: str = "S-002") -> dict[str, Any]:
        """A new waiting ticket of the county hall (a state may be reached more than once)."""
        kiosk = Api(self.server, self.server.create_token("kiosk", "x-county"))
        return kiosk.post("/halls/x-county/tickets", {"service_code": service, "channel": "kiosk"})

    def person(self) -> str:
        """A valid ID number nobody has booked with yet (one booking per person and day)."""
        self.made += 1
        first17 = f"11010119900307{self.made:03d}"
        return first17 + check_character(first17)


@pytest.fixture(scope="module")
def world(server: HallServer) -> World:
    """A bad rating (a follow-up case), a device fault and a staff call (alerts) in the city hall."""
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
    kiosk.post("/halls/x-city/staff-calls", {"call_id": "a" * 32})  # 呼叫工作人员, with its 已处理 button
    return World(server)


# --- the states --------------------------------------------------------------------------------
def track_waiting(page: Any, w: World) -> None:
    t = w.ticket()
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
    t = w.ticket()
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
    page.fill("#id_number", w.person())
    page.fill("#phone", "13900139000")
    page.click("#submit")
    page.wait_for_selector("#done:not([hidden]) #checkin-qr")


def book_cancel_code(page: Any, w: World) -> None:
    book_start(page, w)
    page.click("#days button:not([disabled]) >> nth=-1")
    page.click("#slots button:not([disabled]) >> nth=0")
    page.fill("#id_number", w.person())
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
    page.wait_for_selector("#alerts .staff-call button")
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


# Visible English outside an element marked lang="en" (WCAG 3.1.2, language of parts): a text with two
# English words in a row, or one English word of four letters or more. Codes (A001, S-001) are not words.
ENGLISH_OUTSIDE_LANG_JS = """() => {
  const visible = n => n.getClientRects().length > 0 && getComputedStyle(n).visibility !== "hidden";
  const phrase = /(?:^|[^A-Za-z0-9-])[A-Za-z]{2,}[ ,/:]+[A-Za-z]{2,}(?![A-Za-z0-9-])/;
  const word = /(?:^|[^A-Za-z0-9-])[A-Za-z][a-z]{3,}(?![A-Za-z0-9-])/;
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    const host = t.parentElement;
    if (!host || host.closest("script, style") || !visible(host)) continue;
    const tagged = host.closest("[lang]");
    if (tagged && tagged.getAttribute("lang").toLowerCase().startsWith("en")) continue;
    const text = t.textContent;
    if (phrase.test(text) || word.test(text)) out.push(text.trim().slice(0, 60));
  }
  return out;
}"""


def english_outside_lang(page: Any) -> list[str]:
    """Visible English text nodes of the page that no lang="en" element encloses."""
    return page.evaluate(ENGLISH_OUTSIDE_LANG_JS)


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
        # axe-core cannot tell English from Chinese: English text must sit inside lang="en".
        assert english_outside_lang(page) == [], f"{state.name}: English outside lang=en"
    finally:
        page.close()


def test_the_english_check_sees_english_without_lang(world: World, browser: Any) -> None:
    """The lang check is live: an English phrase added without lang="en" is found, with it it is not."""
    page = new_page(browser, viewport=PHONE)
    try:
        book_start(page, world)
        page.evaluate(
            "const p = document.createElement('p'); p.textContent = '已取消 / cancelled by you';"
            "document.body.append(p);"
        )
        assert english_outside_lang(page) == ["已取消 / cancelled by you"]
        page.evaluate("document.body.lastElementChild.lang = 'en'")
        assert english_outside_lang(page) == []
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


# The smallest text and the weakest control boundary of the visible page (GB/T 37668, WCAG 1.4.11).
MEASURE_JS = """() => {
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const opaque = c => { const v = rgb(c); return v.length < 4 || v[3] > 0; };
  const behind = node => {
    for (let n = node.parentElement; n; n = n.parentElement) {
      const bg = getComputedStyle(n).backgroundColor;
      if (opaque(bg) && bg !== "transparent") return rgb(bg).slice(0, 3);
    }
    return [255, 255, 255];
  };
  const visible = n => n.getClientRects().length > 0 && getComputedStyle(n).visibility !== "hidden";
  const small = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    const host = t.parentElement;
    if (!t.textContent.trim() || !visible(host) || host.closest("script, style, [aria-hidden=true]")) continue;
    const size = parseFloat(getComputedStyle(host).fontSize);
    if (size < 16) small.push(`${size}px: ${t.textContent.trim().slice(0, 30)}`);
  }
  const weak = [];
  for (const c of document.querySelectorAll("input, select, textarea, button")) {
    if (!visible(c) || c.disabled) continue;
    const s = getComputedStyle(c), outside = behind(c);
    const border = parseFloat(s.borderTopWidth) > 0 ? ratio(rgb(s.borderTopColor).slice(0, 3), outside) : 1;
    const fill = opaque(s.backgroundColor) ? ratio(rgb(s.backgroundColor).slice(0, 3), outside) : 1;
    const best = Math.max(border, fill);
    if (best < 3) weak.push(`${c.id || c.tagName}: ${best.toFixed(2)}:1`);
  }
  return { small, weak };
}"""
PHONE_STATES = [s for s in STATES if s.phone and s.name.startswith(("track-", "book-"))]


@pytest.mark.parametrize("state", PHONE_STATES, ids=[s.name for s in PHONE_STATES])
def test_phone_pages_text_at_least_16px_and_control_borders_3_to_1(
    state: State, world: World, browser: Any
) -> None:
    page = new_page(browser, viewport=PHONE, device_scale_factor=2, is_mobile=True)
    try:
        state.reach(page, world)
        found = page.evaluate(MEASURE_JS)
        assert found["small"] == [], f"{state.name}: text under 16 px: {found['small']}"
        assert found["weak"] == [], f"{state.name}: control boundaries under 3:1: {found['weak']}"
    finally:
        page.close()


def test_dashboard_tree_by_keyboard_and_live_regions(world: World, browser: Any) -> None:
    """The hall tree is a list of links reachable by Tab and opened with Enter; what changes is announced."""
    page = new_page(browser)
    try:
        login(page, world.server, "m-city")
        links = page.locator("#tree a[data-hall]")
        assert all(links.nth(i).get_attribute("href") for i in range(links.count()))
        page.focus("#tree a[data-hall=x-county]")
        page.keyboard.press("Tab")  # the next hall in the tree takes the focus: links are in the tab order
        assert page.evaluate("document.activeElement.dataset.hall") == "x-town"
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")
        page.wait_for_selector("#hall-view:not([hidden])")
        assert page.get_attribute("#tree a[data-hall=x-county]", "aria-current") == "page"
        assert page.url.endswith("?hall=x-county")
        assert page.get_attribute("#last-call", "aria-live") == "polite"
        assert page.get_attribute("label[for=from]", "for") == "from"
    finally:
        page.close()
    page = new_page(browser, viewport=PHONE)
    try:
        track_waiting(page, world)
        assert page.get_attribute("#status-line", "role") == "status"
        book_start(page, world)
        assert page.get_attribute("#error", "role") == "alert"
        assert page.get_attribute("#done-status", "role") == "status"
    finally:
        page.close()
