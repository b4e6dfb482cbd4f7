"""A clerk's 工号 and photo (issue 13, 好差评: the rated person is identifiable): set by a manager,
kept encrypted as a thumbnail, shown to the rating device of the clerk's window only."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime

from PIL import Image
from sqlalchemy import select

from hall_server.db.models import User
from hall_server.services.staff_photos import photo_context
from hall_server.sync.config_snapshot import snapshot
from tests.fixtures.photos import RED, near, portrait
from tests.hall_server.conftest import API, Hall, error_code
from tests.hall_server.hs_city import CITY, COUNTY, PASSWORD


def _staff(hall: Hall, username: str, who: str = "m-city") -> dict:
    return next(
        s for s in hall.client.get(f"{API}/staff", headers=hall.auth(who)).json() if s["username"] == username
    )


def _put_photo(hall: Hall, user_id: int, data: bytes, content_type: str = "image/jpeg", who: str = "m-city"):
    return hall.client.put(
        f"{API}/staff/{user_id}/photo", content=data, headers={**hall.auth(who), "Content-Type": content_type}
    )


def _audit_types(hall: Hall, who: str = "m-city") -> list[str]:
    r = hall.client.get(f"{API}/audit/records", params={"scope": CITY, "limit": 1000}, headers=hall.auth(who))
    assert r.status_code == 200, r.text
    return [rec["type"] for rec in r.json()]


def test_a_manager_sets_number_and_photo_and_the_windows_rating_device_shows_them(hall: Hall) -> None:
    c1 = _staff(hall, "c1")
    assert c1["staff_number"] is None and c1["has_photo"] is False
    r = hall.client.patch(
        f"{API}/staff/{c1['id']}", json={"staff_number": "A-0101"}, headers=hall.auth("m-city")
    )
    assert r.status_code == 200 and r.json()["staff_number"] == "A-0101", r.text
    upload = portrait(RED)
    r = _put_photo(hall, c1["id"], upload)
    assert r.status_code == 200, r.text
    assert r.json()["has_photo"] is True and r.json()["staff_number"] == "A-0101"
    assert {"audit.staff_changed", "audit.staff_photo_set"} <= set(_audit_types(hall))

    # The rating device beside window 1, where c1 sits, sees name, 工号 and the photo.
    w1 = hall.wid(1)
    r = hall.client.get(f"{API}/windows/{w1}/clerk", headers=hall.auth(f"rating:{CITY}:1"))
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    clerk = r.json()["clerk"]
    assert (clerk["name"], clerk["staff_number"]) == ("张三", "A-0101")
    thumb = base64.b64decode(clerk["photo_jpeg"])
    with Image.open(io.BytesIO(thumb)) as img:
        assert img.format == "JPEG" and img.width <= 180 and img.height <= 240
        assert near(img.convert("RGB").getpixel((img.width // 2, img.height // 2)), RED)
        assert not img.getexif()  # no camera data or location travels with it
    # A device of another window or kind, or another hall's, does not get the clerk's face.
    for who, code in (
        (f"rating:{CITY}:2", "rating.wrong_window"),
        (f"kiosk:{CITY}", "auth.forbidden"),
        (f"display:{CITY}", "auth.forbidden"),
        (f"rating:{COUNTY}:1", "auth.wrong_hall"),
    ):
        r = hall.client.get(f"{API}/windows/{w1}/clerk", headers=hall.auth(who))
        assert r.status_code == 403 and error_code(r) == code, (who, r.text)

    # At rest: ciphertext bound to the account, neither the upload nor the thumbnail in plain.
    with hall.ctx.db.read() as s:
        stored = s.execute(select(User.photo_enc).where(User.id == c1["id"])).scalar_one()
    stored = bytes(stored)
    assert not stored.startswith(b"\xff\xd8\xff") and upload not in stored and thumb not in stored
    assert b"JFIF" not in stored
    assert hall.ctx.protector.decrypt_bytes(stored, photo_context(c1["id"])) == thumb

    # The staff page reads it back (the hall's managers only); removing it is audited.
    r = hall.client.get(f"{API}/staff/{c1['id']}/photo", headers=hall.auth("m-city"))
    assert r.status_code == 200 and r.content == thumb and r.headers["cache-control"] == "no-store"
    r = hall.client.get(f"{API}/staff/{c1['id']}/photo", headers=hall.auth("m-county"))
    assert r.status_code == 404 and error_code(r) == "staff.unknown"
    r = hall.client.delete(f"{API}/staff/{c1['id']}/photo", headers=hall.auth("m-city"))
    assert r.status_code == 200 and r.json()["has_photo"] is False
    assert "audit.staff_photo_removed" in _audit_types(hall)
    r = hall.client.get(f"{API}/windows/{w1}/clerk", headers=hall.auth(f"rating:{CITY}:1"))
    assert r.json()["clerk"]["photo_jpeg"] is None and r.json()["clerk"]["staff_number"] == "A-0101"


def test_bad_photos_and_staff_numbers_get_clear_4xx(hall: Hall) -> None:
    c2 = _staff(hall, "c2")
    gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00"
    huge = io.BytesIO()
    Image.new("1", (10_000, 5_000)).save(huge, "PNG")  # small file, 50 million pixels
    cases = (
        (b"", "image/jpeg", 422, "staff.photo_empty"),
        (gif, "image/gif", 415, "staff.photo_type"),
        (gif, "image/jpeg", 415, "staff.photo_type"),
        (b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 50, "image/jpeg", 422, "staff.photo_unreadable"),
        (huge.getvalue(), "image/png", 422, "staff.photo_unreadable"),
        (b"\xff\xd8\xff" + b"\0" * (2 * 1024 * 1024), "image/jpeg", 413, "staff.photo_too_large"),
    )
    for data, kind, status, code in cases:
        r = _put_photo(hall, c2["id"], data, kind)
        assert r.status_code == status and error_code(r) == code, (code, r.status_code, r.text[:200])
        assert r.json()["error"]["message"]  # zh_CN text for the staff page
    assert _staff(hall, "c2")["has_photo"] is False
    # A PNG is fine: kept as a JPEG thumbnail.
    r = _put_photo(hall, c2["id"], portrait(RED, fmt="PNG"), "image/png")
    assert r.status_code == 200 and r.json()["has_photo"] is True, r.text
    r = hall.client.get(f"{API}/staff/{c2['id']}/photo", headers=hall.auth("m-city"))
    assert r.content.startswith(b"\xff\xd8\xff") and r.headers["content-type"] == "image/jpeg"
    # A clerk may not set anyone's photo; a manager of another branch does not find the account.
    r = _put_photo(hall, c2["id"], portrait(), who=f"clerk:{CITY}:1")
    assert r.status_code == 403 and error_code(r) == "auth.forbidden"
    r = _put_photo(hall, c2["id"], portrait(), who="m-county")
    assert r.status_code == 404 and error_code(r) == "staff.unknown"

    # 工号: unique, letters/digits/hyphens, "" clears it.
    city = hall.auth("m-city")
    c3 = _staff(hall, "c3")
    assert (
        hall.client.patch(f"{API}/staff/{c2['id']}", json={"staff_number": "B7"}, headers=city).status_code
        == 200
    )
    r = hall.client.patch(f"{API}/staff/{c3['id']}", json={"staff_number": "B7"}, headers=city)
    assert r.status_code == 409 and error_code(r) == "staff.number_taken"
    r = hall.client.patch(f"{API}/staff/{c3['id']}", json={"staff_number": "工号 1"}, headers=city)
    assert r.status_code == 422 and error_code(r) == "request.invalid"
    r = hall.client.patch(f"{API}/staff/{c2['id']}", json={"staff_number": ""}, headers=city)
    assert r.status_code == 200 and r.json()["staff_number"] is None
    new = {"username": "c9", "name": "周九", "role": "clerk", "hall_id": CITY, "password": PASSWORD}
    r = hall.client.post(f"{API}/staff", json={**new, "staff_number": "C-9"}, headers=city)
    assert r.status_code == 201 and r.json()["staff_number"] == "C-9", r.text


def test_number_and_photo_go_to_stations_in_the_config_snapshot_small(hall: Hall) -> None:
    c1 = _staff(hall, "c1")
    hall.client.patch(f"{API}/staff/{c1['id']}", json={"staff_number": "A-0101"}, headers=hall.auth("m-city"))
    # A large, detailed photo: the snapshot carries the thumbnail, not the upload.
    noisy = Image.effect_noise((1200, 1600), 80).convert("RGB")
    buf = io.BytesIO()
    noisy.save(buf, "JPEG", quality=70)
    assert len(buf.getvalue()) > 300_000
    assert _put_photo(hall, c1["id"], buf.getvalue()).status_code == 200
    with hall.ctx.db.read() as s:
        _version, config = snapshot(s, [CITY], datetime.now(UTC))
    row = next(u for u in config["users"] if u["id"] == c1["id"])
    assert row["staff_number"] == "A-0101"
    sealed = base64.b64decode(row["photo_enc"])
    thumb = hall.ctx.protector.decrypt_bytes(sealed, photo_context(c1["id"]))
    assert thumb.startswith(b"\xff\xd8\xff") and len(sealed) < 64 * 1024
