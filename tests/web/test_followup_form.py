"""The dashboard's follow-up step dialog in a real browser: a bad-rating case taken to closed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.server import HallServer
from tests.hall_server.clock_app import PASSWORD
from tests.web.support import PHONE, SHOTS, Api, login, new_page, window_id

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STEPS_URL = "**/api/v1/followups/*/steps"


def bad_rating(server: HallServer, hall: str, level: int, reasons: list[str], text: str) -> dict[str, Any]:
    """A ticket issued, served and finished at window 1, then rated badly at that window's device."""
    kiosk = Api(server, server.create_token("kiosk", hall))
    w1 = window_id(server, hall, 1)
    clerk = Api(server, server.login(f"{hall}-c1", PASSWORD, w1)["token"])
    kiosk.post(f"/halls/{hall}/tickets", {"service_code": "S-001", "channel": "kiosk"})
    ticket = clerk.post(f"/windows/{w1}/call-next")
    clerk.post(f"/windows/{w1}/start")
    clerk.post(f"/windows/{w1}/finish")
    rating = Api(server, server.create_token("rating", hall, w1))
    body = {"ticket_id": ticket["id"], "level": level, "channel": "device", "prompted": True}
    return rating.post("/ratings", {**body, "reasons": reasons, "text": text})


def case_of(manager: Api, hall: str, rating_id: int) -> dict[str, Any]:
    """The follow-up case of a rating, with its recorded steps."""
    case = next(c for c in manager.get(f"/halls/{hall}/followups") if c["rating_id"] == rating_id)
    return manager.get(f"/followups/{case['id']}")


def row(case_id: int) -> str:
    return f"#followups tr[data-case='{case_id}']"


def wait_step(page: Any, case_id: int, text: str) -> None:
    """Wait until the case's row in the list shows a status."""
    page.wait_for_function(
        "([sel, t]) => { const r = document.querySelector(sel + ' .step'); return r && r.textContent === t; }",
        arg=[row(case_id), text],
    )


def open_dialog(page: Any, case_id: int) -> None:
    page.click(f"{row(case_id)} button")
    page.wait_for_selector("#case-dialog[open]")
    # The recorded steps arrive with the case read afresh: the dialog is ready then.
    page.wait_for_selector("#case-history li[data-step]", state="attached")


def visible_error(page: Any) -> str:
    return page.inner_text("#case-msg") if page.is_visible("#case-msg") else ""


def test_manager_takes_a_case_to_closed_with_the_dialog(server: HallServer, browser: Any) -> None:
    first = bad_rating(server, "y-city", 2, ["服务态度", "办事结果"], "窗口人员态度冷淡，材料说明不清")
    second = bad_rating(server, "y-city", 1, ["服务效率"], "等了一个小时")
    manager = Api(server, server.login("m-y", PASSWORD)["token"])
    admin = Api(server, server.login("admin", PASSWORD)["token"])
    case = case_of(manager, "y-city", first["id"])
    other = case_of(manager, "y-city", second["id"])
    cid = case["id"]
    page = new_page(browser)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, server, "m-y")
    page.click("#tree a[data-hall=y-city]")
    page.wait_for_selector(f"{row(cid)} .next-step")
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
    listed = page.inner_text(row(cid))
    assert "不满意" in listed and "王芳" in listed and "待核实" in listed
    assert f"剩{case['working_days_left']}个工作日" in listed and case["working_days_left"] == 15

    # The dialog shows the case and only the next step; focus lands in the note.
    page.focus(f"{row(cid)} .next-step")
    page.keyboard.press("Enter")
    page.wait_for_selector("#case-dialog[open]")
    page.wait_for_selector("#case-history li[data-step=open]", state="attached")
    assert page.evaluate("document.activeElement.id") == "case-note"
    facts = page.inner_text("#case-facts")
    for expected in ("1号窗口 社保窗口", "王芳", "社会保障卡申领", "不满意（2）", "服务态度、办事结果"):
        assert expected in facts
    assert "窗口人员态度冷淡，材料说明不清" in facts
    assert case["deadline"] in facts and "剩15个工作日" in facts
    assert page.inner_text("#case-next") == "核实 / Verify"
    assert not page.is_visible("#case-satisfied")

    # An empty note (Enter on an empty box, then only spaces) is refused in the dialog; nothing is sent.
    page.keyboard.press("Enter")
    assert visible_error(page).startswith("请填写核实说明")
    assert page.get_attribute("#case-note", "aria-invalid") == "true"
    page.fill("#case-note", "   ")
    page.click("#case-submit")
    assert visible_error(page).startswith("请填写核实说明")
    assert page.is_visible("#case-dialog")
    assert [s["step"] for s in manager.get(f"/followups/{cid}")["steps"]] == ["open"]

    # Verified: the note typed, Enter submits; the row shows the new status without a reload.
    page.fill("#case-note", "")
    page.keyboard.type("已调取监控录像核实")
    page.keyboard.press("Enter")
    page.wait_for_selector("#case-dialog", state="hidden")
    wait_step(page, cid, "已核实")
    assert "已核实" in page.inner_text("#followups-msg")

    # Answered: Shift+Enter is a new line in the note.
    open_dialog(page, cid)
    assert page.inner_text("#case-next") == "回复 / Answer"
    page.keyboard.type("已电话致歉")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("说明办理材料要求")
    assert page.is_visible("#case-dialog")
    page.keyboard.press("Enter")
    wait_step(page, cid, "已回复")

    # Escape cancels: nothing is recorded, the dialog closes and focus returns to the case's row.
    open_dialog(page, cid)
    page.keyboard.type("写了一半")
    page.keyboard.press("Escape")
    page.wait_for_selector("#case-dialog", state="hidden")
    page.wait_for_function(f"document.activeElement.closest('tr')?.dataset.case === '{cid}'")
    assert manager.get(f"/followups/{cid}")["step"] == "answered"

    # Fixed, with the request held in flight: the button is disabled and a second Enter sends nothing.
    held: list[Any] = []
    page.route(STEPS_URL, lambda route: held.append(route))
    open_dialog(page, cid)
    assert page.input_value("#case-note") == ""  # a cancelled note does not come back
    page.fill("#case-note", "已对窗口人员批评教育并补充一次性告知单")
    page.click("#case-submit")
    page.wait_for_function("document.getElementById('case-submit').disabled")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    page.focus("#case-note")
    page.keyboard.press("Enter")
    page.evaluate("document.getElementById('case-form').requestSubmit()")
    page.evaluate("document.getElementById('case-submit').click()")
    held[0].continue_()
    page.wait_for_selector("#case-dialog", state="hidden")
    wait_step(page, cid, "已整改")
    page.unroute(STEPS_URL)
    assert len(held) == 1, "a second request left the page"
    assert not page.is_visible("#case-msg")

    # Revisited: 满意 or 不满意 must be chosen; 不满意 is recorded.
    open_dialog(page, cid)
    assert page.inner_text("#case-next") == "回访 / Return visit"
    assert page.is_visible("#case-satisfied")
    page.fill("#case-note", "电话回访，群众认为仍需改进")
    page.click("#case-submit")
    assert visible_error(page).startswith("请选择群众是否满意")
    assert manager.get(f"/followups/{cid}")["step"] == "fixed"
    page.check("#case-satisfied input[value=no]")
    assert not page.is_visible("#case-msg")  # answered: the reminder goes away
    page.screenshot(path=str(SHOTS / "web-followup-form.png"))
    page.focus("#case-note")
    page.keyboard.press("Enter")
    wait_step(page, cid, "已回访（回访不满意）")

    # Closed: the last step; afterwards the row offers only a read-only view.
    open_dialog(page, cid)
    assert page.inner_text("#case-next") == "办结 / Close"
    page.fill("#case-note", "已整改到位，工单办结")
    page.click("#case-submit")
    wait_step(page, cid, "已办结（回访不满意）")
    assert page.locator(f"{row(cid)} .next-step").count() == 0
    page.click(f"{row(cid)} .view-case")
    page.wait_for_selector("#case-history li[data-step=closed]", state="attached")
    assert not page.is_visible("#case-note") and not page.is_visible("#case-submit")
    assert "已办结 · 孙丽" in page.inner_text("#case-history")
    page.click("#case-cancel")
    page.wait_for_selector("#case-dialog", state="hidden")

    # Each step is recorded with the manager's name and the note typed in the dialog.
    done = manager.get(f"/followups/{cid}")
    recorded = [(s["step"], s["by"], s["note"]) for s in done["steps"]]
    assert recorded == [
        ("open", "系统", ""),
        ("verified", "孙丽", "已调取监控录像核实"),
        ("answered", "孙丽", "已电话致歉\n说明办理材料要求"),
        ("fixed", "孙丽", "已对窗口人员批评教育并补充一次性告知单"),
        ("revisited", "孙丽", "电话回访，群众认为仍需改进"),
        ("closed", "孙丽", "已整改到位，工单办结"),
    ]
    assert done["revisit_satisfied"] is False and done["working_days_left"] is None

    # Out of order: someone else verifies the second case while the dialog is open. The server's
    # refusal shows in the dialog, which then offers the step that is next now, keeping the note.
    oid = other["id"]
    open_dialog(page, oid)
    assert page.inner_text("#case-next") == "核实 / Verify"
    admin.post(f"/followups/{oid}/steps", {"step": "verified", "note": "管理员已核实"})
    page.fill("#case-note", "已向当事窗口了解情况")
    page.click("#case-submit")
    page.wait_for_function("document.getElementById('case-msg').textContent.includes('工单步骤须依次进行')")
    page.wait_for_function("document.getElementById('case-next').textContent === '回复 / Answer'")
    assert "该工单现为“已核实”" in visible_error(page)
    assert page.is_visible("#case-dialog") and page.input_value("#case-note") == "已向当事窗口了解情况"
    page.click("#case-submit")
    page.wait_for_selector("#case-dialog", state="hidden")
    wait_step(page, oid, "已回复")
    steps = [(s["step"], s["by"]) for s in manager.get(f"/followups/{oid}")["steps"]]
    assert steps == [("open", "系统"), ("verified", "admin"), ("answered", "孙丽")]

    assert dialogs == []  # no prompt(), confirm() or alert() on the way
    assert page.evaluate("window.__sameDocument === true")
    page.close()


def test_step_dialog_fits_a_phone(server: HallServer, browser: Any) -> None:
    rated = bad_rating(
        server, "x-city", 1, ["服务态度", "服务效率"], "排队很久，窗口人员一直在看手机，态度也不好"
    )
    manager = Api(server, server.login("m-city", PASSWORD)["token"])
    cid = case_of(manager, "x-city", rated["id"])["id"]
    for step in ("verified", "answered", "fixed"):
        manager.post(f"/followups/{cid}/steps", {"step": step, "note": f"{step}：已处理"})
    page = new_page(browser, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    login(page, server, "m-city")
    page.click("#tree a[data-hall=x-city]")
    page.wait_for_selector(f"{row(cid)} .next-step")
    page.tap(f"{row(cid)} .next-step")
    page.wait_for_selector("#case-history li[data-step=fixed]", state="attached")
    assert page.is_visible("#case-satisfied")
    page.tap("#case-satisfied label:has(input[value=yes])")
    assert page.is_checked("#case-satisfied input[value=yes]")
    page.fill("#case-note", "回访群众，表示满意")
    page.screenshot(path=str(SHOTS / "web-followup-phone.png"))
    # Nothing scrolls sideways: not the page under the dialog, not the dialog, and it is on screen.
    width = PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = page.eval_on_selector(
        "#case-dialog",
        "d => { const r = d.getBoundingClientRect(); return {left: r.left, right: r.right, sw: d.scrollWidth, cw: d.clientWidth}; }",
    )
    assert box["left"] >= 0 and box["right"] <= width and box["sw"] <= box["cw"]
    for part in ("#case-note", "#case-submit", "#case-cancel", "#case-satisfied"):
        r = page.eval_on_selector(
            part, "e => { const b = e.getBoundingClientRect(); return [b.left, b.right]; }"
        )
        assert r[0] >= 0 and r[1] <= width, part
    page.tap("#case-submit")
    wait_step(page, cid, "已回访（回访满意）")
    assert manager.get(f"/followups/{cid}")["revisit_satisfied"] is True
    page.close()
