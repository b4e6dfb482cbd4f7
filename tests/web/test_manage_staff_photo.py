"""The staff page's 工号 and photo fields in headless Chromium against a real server (issue 13): a
manager gives a clerk a staff number and a photo, sees both in the list; a GIF is refused with the
server's message, and the account's other changes are kept."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from tests.fixtures.photos import RED, near, portrait
from tests.fixtures.server import HallServer
from tests.web.support import login, new_page

pytestmark = [pytest.mark.browser]

FULL_HD = {"width": 1920, "height": 1080}
CLERK = "x-county-c1"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00"


def _row(username: str) -> str:
    return f"#staff tr[data-username='{username}']"


def test_a_manager_sets_staff_number_and_photo_on_the_staff_page(server: HallServer, browser: Any) -> None:
    page = new_page(browser, viewport=FULL_HD)
    login(page, server, "m-county")
    page.goto(server.base_url + "/manage/staff")
    page.wait_for_selector(_row(CLERK))
    page.select_option("#hall", "x-county")
    page.wait_for_selector(_row(CLERK))
    page.click(f"{_row(CLERK)} button:has-text('编辑')")
    # The fields are labelled for screen readers (zh_CN first).
    assert page.get_attribute("#s-number", "aria-describedby") == "s-number-help"
    assert "工号" in page.inner_text("label[for='s-number']")
    assert "照片" in page.inner_text("label[for='s-photo']")
    page.fill("#s-number", "X-0001")
    page.set_input_files(
        "#s-photo", files=[{"name": "wang.jpg", "mimeType": "image/jpeg", "buffer": portrait(RED)}]
    )
    page.wait_for_selector("#s-photo-preview:not([hidden])")
    page.click("#s-save")
    page.wait_for_selector("#flash:has-text('照片已更新')")
    # The list shows the number and the photo, fetched with the manager's token (no plain URL).
    page.wait_for_selector(f"{_row(CLERK)} td.staff-number:has-text('X-0001')")
    img = page.locator(f"{_row(CLERK)} img.staff-photo")
    page.wait_for_function(
        "sel => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth > 0; }",
        arg=f"{_row(CLERK)} img.staff-photo",
    )
    assert img.get_attribute("alt") == "照片：王芳" and img.get_attribute("src").startswith("blob:")

    # What the server keeps: the number, and a thumbnail of the uploaded picture.
    token = page.evaluate("sessionStorage.getItem('hall_token')")
    s = server.session(token)
    me = next(x for x in s.get(server.api + "/staff", timeout=30).json() if x["username"] == CLERK)
    assert me["staff_number"] == "X-0001" and me["has_photo"] is True
    r = s.get(f"{server.api}/staff/{me['id']}/photo", timeout=30)
    with Image.open(io.BytesIO(r.content)) as pic:
        assert near(pic.convert("RGB").getpixel((pic.width // 2, pic.height // 2)), RED)

    # A GIF: the account's change is saved, the photo refused with the server's own words.
    page.click(f"{_row(CLERK)} button:has-text('编辑')")
    page.fill("#s-number", "X-0002")
    page.set_input_files("#s-photo", files=[{"name": "wang.gif", "mimeType": "image/gif", "buffer": GIF}])
    page.click("#s-save")
    page.wait_for_selector("#flash.error:has-text('照片未保存')")
    assert "JPEG或PNG" in page.inner_text("#flash") and page.get_attribute("#flash", "role") == "alert"
    page.wait_for_selector(f"{_row(CLERK)} td.staff-number:has-text('X-0002')")
    again = next(x for x in s.get(server.api + "/staff", timeout=30).json() if x["username"] == CLERK)
    assert again["has_photo"] is True  # the earlier photo stays

    # Removing the photo from the form.
    page.click(f"{_row(CLERK)} button:has-text('编辑')")
    page.wait_for_selector("#s-photo-remove:not([hidden])")
    page.click("#s-photo-remove")
    page.wait_for_selector("#flash:has-text('已删除照片')")
    page.wait_for_selector(f"{_row(CLERK)} td:first-child:has-text('—')")
    page.close()
