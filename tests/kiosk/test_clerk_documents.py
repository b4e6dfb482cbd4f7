"""The clerk's document photo (F12): taken, labelled, uploaded with the ticket in hand, kept sealed in
the outbox while the link is down or the server refuses it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from tests.kiosk.helpers import Role, make_config

pytestmark = pytest.mark.timeout(120)


def _manager_get(kserver, path: str) -> requests.Response:
    """Read the server's side as the hall's manager (not the clerk's own session)."""
    token = kserver.server.login("manager", "test-pass-m")["token"]
    r = requests.get(f"{kserver.url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r


def _document_image(path) -> str:
    """A second, different document for the camera: a still image file (the synthetic face repeats)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (640, 480), "white")
    draw = ImageDraw.Draw(img)
    for y in range(40, 440, 24):
        draw.line((40, y, 600, y), fill=(40, 40, 40), width=3)
    img.save(path, "JPEG", quality=85)
    return f"image:{path}"


def test_clerk_photographs_a_document(qtbot, themed_qapp, kserver, tmp_path):
    from kiosk.api import HallClient
    from kiosk.hardware import Camera
    from tests.fixtures.server import free_port

    clerk = Role(
        qtbot,
        make_config(
            "clerk",
            kserver.url,
            tmp_path / "c",
            window_id=kserver.windows[3]["id"],
            username="clerk3",
            password="test-pass-3",
            camera="synthetic:face",
        ),
    )
    c = clerk.widget

    def op(name: str, body: dict | None = None):
        with qtbot.waitSignal(c.op_finished, timeout=20000) as sig:
            c.do_op(name, body)
        return sig.args[1]

    try:
        qtbot.waitUntil(lambda: c.pages.currentWidget() is c.work_page, timeout=20000)  # auto log-in
        assert "F12" in c.op_buttons["photo"].text()
        if c.current:  # an earlier test may have left a ticket at this window
            op("no_show")
        # No ticket in hand: the photo is shown but belongs to nobody, so nothing is kept.
        c.take_photo()
        qtbot.waitUntil(lambda: c.photo is not None, timeout=20000)
        assert c.photo[:2] == b"\xff\xd8"  # a JPEG
        assert c.photo_label.pixmap() is not None and not c.photo_label.pixmap().isNull()
        assert "须属于一个号" in c.message.text()
        assert c.doc_outbox.pending() == []

        # A ticket in hand: the photo goes to the server with it.
        t = HallClient(kserver.url, kserver.kiosk_token).issue_ticket("t-hall", "T-003")
        assert not c.material_box.isVisible()  # no ticket in hand: no material to name
        assert op("call_chosen", {"ticket_id": t.id}).id == t.id
        # The service guide's materials are offered for the photo's label.
        qtbot.waitUntil(lambda: c.material_box.count() > 1, timeout=20000)
        assert c.material_box.isVisible()
        c.photo = None
        c.take_photo()
        qtbot.waitUntil(lambda: "材料已上传（第1份）" in c.message.text(), timeout=20000)
        first = c.photo
        (doc,) = _manager_get(kserver, f"/tickets/{t.id}/documents").json()
        assert doc["ticket_id"] == t.id and doc["window_number"] == 3 and doc["size"] == len(first)
        # Labelled with the material chosen from the service guide (the first one by default).
        assert doc["label"] == "查询人身份证明" == c.material_box.itemText(0)
        assert c.material_box.itemText(c.material_box.count() - 1) == "其他材料"
        shots = os.environ.get("HALL_SCREENSHOTS_DIR")
        if shots:  # refresh docs/screenshots/clerk-document.png
            c.grab().save(str(Path(shots) / "clerk-document.png"))
        assert _manager_get(kserver, f"/documents/{doc['id']}").content == first
        assert c.doc_outbox.pending() == []

        # The link drops: the next photo stays on this machine, sealed, and says so.
        c.ctx.camera = Camera(_document_image(tmp_path / "doc.jpg"))
        server_url = c.client.base_url
        c.client.base_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        c.take_photo()
        qtbot.waitUntil(lambda: "材料暂存本机，网络恢复后自动上传" in c.message.text(), timeout=30000)
        second = c.photo
        assert second != first
        (queued,) = c.doc_outbox.pending()
        assert queued["ticket_id"] == t.id and c.doc_outbox.photo(queued) == second
        stored = b"".join(f.read_bytes() for f in c.doc_outbox.folder.iterdir() if f.suffix == ".enc")
        assert second[200:264] not in stored  # a copy of a document is personal data: sealed on disk
        assert "待上传材料 1 份" in c.doc_pending_label.text()

        # The visitor is served and leaves before the link is back; the photo still reaches the ticket.
        c.client.base_url = server_url
        op("start")
        op("finish")
        c.flush_documents()
        qtbot.waitUntil(lambda: "暂存材料已补传 1 份" in c.message.text(), timeout=30000)
        assert c.doc_outbox.pending() == [] and c.doc_pending_label.text() == ""
        docs = _manager_get(kserver, f"/tickets/{t.id}/documents").json()
        assert [d["size"] for d in docs] == [len(first), len(second)]
        assert _manager_get(kserver, f"/documents/{docs[1]['id']}").content == second
        assert c.doc_outbox.rejected() == []
    finally:
        if c.current:
            c.client.base_url = kserver.url
            op("no_show")
        clerk.close()


def test_document_outbox_keeps_what_the_server_refuses_and_waits_for_a_login(kserver, tmp_path):
    from kiosk.api import HallClient
    from kiosk.document_outbox import DocumentOutbox
    from kiosk.errors import Unauthorized

    outbox = DocumentOutbox(tmp_path / "outbox")
    photo = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8
    entry = outbox.add(999999, photo, number="B999")
    assert (outbox.folder / "outbox.key").stat().st_mode & 0o777 == 0o600
    assert photo[4:68] not in (outbox.folder / f"{entry['id']}.jpg.enc").read_bytes()

    def sender(client):
        return lambda e, jpeg: client.upload_document(e["ticket_id"], jpeg, None, e["taken_at"])

    # Logged out (a revoked or unknown token): nothing is lost, it waits for the next clerk.
    report = outbox.flush(sender(HallClient(kserver.url, "not-a-token")))
    assert isinstance(report.stopped_by, Unauthorized) and outbox.pending() == [entry]
    # Refused for good (a manager may not add documents): kept as rejected with the reason, photo kept.
    manager = HallClient(kserver.url, kserver.server.login("manager", "test-pass-m")["token"])
    report = outbox.flush(sender(manager))
    assert outbox.pending() == [] and [e["id"] for e, _x in report.rejected] == [entry["id"]]
    (rejected,) = outbox.rejected()
    assert rejected["error"]["code"] == "auth.forbidden" and rejected["error"]["message"]
    assert outbox.photo(rejected) == photo
    # A sealed file altered on disk is reported, not sent.
    bad = outbox.add(999999, photo)
    path = outbox.folder / f"{bad['id']}.jpg.enc"
    path.write_bytes(path.read_bytes()[:-1] + b"\0")
    outbox.flush(sender(manager))
    assert outbox.rejected()[-1]["error"]["code"] == "outbox.unreadable"


def test_clerk_without_camera_says_so(qtbot, themed_qapp, kserver, tmp_path):
    clerk = Role(qtbot, make_config("clerk", kserver.url, tmp_path / "c", window_id=kserver.windows[3]["id"]))
    try:
        clerk.wait_ready(qtbot)
        clerk.widget.take_photo()
        assert "摄像头" in clerk.widget.message.text()
    finally:
        clerk.close()
