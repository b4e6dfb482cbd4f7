"""Document photos kept with a ticket (材料留存): round trip, encryption at rest, refusals, idempotency, audit."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography.exceptions import InvalidTag
from PIL import Image
from sqlalchemy import create_engine, func, select

from hall_server.db.models import TicketDocument
from hall_server.sync import photos
from hall_server.sync.protocol import station_range
from tests.hall_server.conftest import API, Hall, error_code
from tests.hall_server.hs_city import CITY, ID_YOUNG

JPEG = "image/jpeg"
D = TicketDocument.__table__


def make_jpeg(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    """A real JPEG of noise: every photo differs and its bytes are easy to look for."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def upload(hall: Hall, ticket_id: int, data: bytes, who: str = f"clerk:{CITY}:1", **params: Any) -> Any:
    """POST the raw bytes as a document of the ticket."""
    return hall.client.post(
        f"{API}/tickets/{ticket_id}/documents",
        content=data,
        params=params,
        headers={**hall.auth(who), "Content-Type": JPEG},
    )


def listing(hall: Hall, ticket_id: int, who: str = f"clerk:{CITY}:1") -> Any:
    return hall.client.get(f"{API}/tickets/{ticket_id}/documents", headers=hall.auth(who))


def fetch(hall: Hall, doc_id: int, who: str = f"clerk:{CITY}:1") -> Any:
    return hall.client.get(f"{API}/documents/{doc_id}", headers=hall.auth(who))


def called_at_window_1(hall: Hall, **issue: Any) -> dict[str, Any]:
    """A ticket issued at the kiosk and called at window 1 by its clerk."""
    t = hall.ok_issue("S-A1", **issue)
    called = hall.ok(1, "call", ticket_id=t["id"])
    assert called["status"] == "called" and called["window_id"] == hall.wid(1)
    return called


def stored_rows(hall: Hall) -> list[Any]:
    with hall.ctx.db.read() as s:
        return list(s.execute(select(D).order_by(D.c.id)).all())


def test_upload_list_and_read_back(hall: Hall) -> None:
    t = called_at_window_1(hall)
    first, second = make_jpeg(1), make_jpeg(2)
    r = upload(hall, t["id"], first, label="居民身份证复印件")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["ticket_id"] == t["id"] and doc["hall_id"] == CITY
    assert doc["window_id"] == hall.wid(1) and doc["window_number"] == 1
    assert doc["size"] == len(first) and doc["sha256"] == hashlib.sha256(first).hexdigest()
    assert doc["content_type"] == JPEG and doc["label"] == "居民身份证复印件"
    assert doc["url"] == f"{API}/documents/{doc['id']}" and doc["taken_at"].endswith("+08:00")
    hall.ok(1, "start")  # serving: still in hand
    r2 = upload(hall, t["id"], second)
    assert r2.status_code == 201, r2.text
    # The window's clerk, managers of the hall's subtree and the admin list and read them.
    for who in (f"clerk:{CITY}:1", "m-city", "admin"):
        r = listing(hall, t["id"], who)
        assert r.status_code == 200, (who, r.text)
        assert [d["id"] for d in r.json()] == [doc["id"], r2.json()["id"]]
        assert "data" not in r.text and "data_enc" not in r.json()[0]
    for doc_id, data in ((doc["id"], first), (r2.json()["id"], second)):
        got = fetch(hall, doc_id)
        assert got.status_code == 200 and got.headers["content-type"] == JPEG
        assert got.content == data
        assert got.headers["cache-control"] == "no-store"
    assert fetch(hall, doc["id"], "m-city").content == first


def test_stored_bytes_are_not_the_photo(hall: Hall) -> None:
    t = called_at_window_1(hall)
    photo = make_jpeg(7)
    assert upload(hall, t["id"], photo).status_code == 201
    (row,) = stored_rows(hall)
    assert row.sha256 == hashlib.sha256(photo).hexdigest() and row.size == len(photo)
    # A stretch from the middle of the image data: if it were stored in clear it would be found.
    probe = photo[len(photo) // 2 : len(photo) // 2 + 48]
    assert probe not in bytes(row.data_enc) and bytes(row.data_enc) != photo
    assert photo[:64] not in bytes(row.data_enc)
    if not hall.is_postgres:
        db = Path(hall.db_url[len("sqlite:///") :])
        on_disk = b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())
        assert bytes(row.data_enc)[:48] in on_disk  # the ciphertext is there...
        assert probe not in on_disk  # ...the photo is not
    # A blob moved onto another ticket's row does not decrypt (the ciphertext is bound to its ticket).
    with pytest.raises(InvalidTag):
        hall.ctx.protector.decrypt_bytes(bytes(row.data_enc), f"ticket_document:{t['id'] + 1}")


def test_same_photo_again_is_the_same_document(hall: Hall) -> None:
    t = called_at_window_1(hall)
    photo = make_jpeg(3)
    first = upload(hall, t["id"], photo)
    assert first.status_code == 201
    seq = hall.last_seq()
    again = upload(hall, t["id"], photo)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    # Even after the ticket left the window, a retry whose answer was lost gets its document back.
    hall.ok(1, "start")
    hall.ok(1, "finish")
    late = upload(hall, t["id"], photo)
    assert late.status_code == 200 and late.json()["id"] == first.json()["id"]
    assert len(stored_rows(hall)) == 1
    assert [e["type"] for e in hall.events(seq) if e["type"] == "ticket.document_added"] == []


def test_refusals_store_nothing(hall: Hall) -> None:
    t = called_at_window_1(hall)
    photo = make_jpeg(4)
    seq = hall.last_seq()
    cases: list[tuple[str, int, str, bytes, int]] = [
        (f"clerk:{CITY}:2", t["id"], "auth.wrong_window", photo, 403),  # another window's clerk
        (f"kiosk:{CITY}", t["id"], "auth.forbidden", photo, 403),
        (f"display:{CITY}", t["id"], "auth.forbidden", photo, 403),
        (f"rating:{CITY}:1", t["id"], "auth.forbidden", photo, 403),
        ("m-city", t["id"], "auth.forbidden", photo, 403),  # managers read, they do not add
        (f"clerk:{CITY}:1", t["id"], "document.not_jpeg", b"\x89PNG\r\n\x1a\n" + photo[8:], 415),
        (f"clerk:{CITY}:1", t["id"], "document.not_jpeg", b"%PDF-1.7 not a photo", 415),
        (f"clerk:{CITY}:1", t["id"], "document.empty", b"", 422),
        (f"clerk:{CITY}:1", t["id"], "document.too_large", photo[:4] + b"\0" * (5 * 1024 * 1024), 413),
        (f"clerk:{CITY}:1", 999999, "ticket.unknown", photo, 404),
    ]
    for who, ticket_id, code, data, status in cases:
        r = upload(hall, ticket_id, data, who)
        assert (r.status_code, error_code(r)) == (status, code), (who, code, r.text)
        assert r.json()["error"]["message"] and r.json()["error"]["message_en"]
    r = hall.client.post(f"{API}/tickets/{t['id']}/documents", content=photo, headers={"Content-Type": JPEG})
    assert r.status_code == 401 and error_code(r) == "auth.required"
    r = upload(hall, t["id"], photo, label="x" * 101)
    assert r.status_code == 422 and error_code(r) == "request.invalid"
    # A ticket still waiting, and one already finished, are not in anybody's hand.
    waiting = hall.ok_issue("S-A1")
    r = upload(hall, waiting["id"], photo)
    assert r.status_code == 409 and error_code(r) == "document.not_in_hand"
    hall.ok(1, "start")
    hall.ok(1, "finish")
    r = upload(hall, t["id"], photo)
    assert r.status_code == 409 and error_code(r) == "document.not_in_hand"
    assert "本窗口" in r.json()["error"]["message"]
    assert stored_rows(hall) == []
    assert not [e for e in hall.events(seq) if e["type"] == "ticket.document_added"]


def test_who_may_list_and_read(hall: Hall) -> None:
    t = called_at_window_1(hall)
    doc = upload(hall, t["id"], make_jpeg(5)).json()
    refused = {
        f"clerk:{CITY}:2": "auth.wrong_window",
        f"kiosk:{CITY}": "auth.forbidden",
        f"display:{CITY}": "auth.forbidden",
        f"rating:{CITY}:1": "auth.forbidden",
        "m-county": "auth.wrong_hall",  # a manager of another subtree
    }
    for who, code in refused.items():
        for r in (listing(hall, t["id"], who), fetch(hall, doc["id"], who)):
            assert r.status_code == 403 and error_code(r) == code, (who, r.text)
            assert b"\xff\xd8" not in r.content
    r = fetch(hall, 999999)
    assert r.status_code == 404 and error_code(r) == "document.unknown"
    r = listing(hall, 999999)
    assert r.status_code == 404 and error_code(r) == "ticket.unknown"
    assert hall.client.get(f"{API}/documents/{doc['id']}").status_code == 401


def test_the_audit_trail_records_the_upload_without_the_photo_or_the_person(hall: Hall) -> None:
    t = called_at_window_1(hall, identity={"id_number": ID_YOUNG, "name": "张三丰"})
    photo = make_jpeg(6)
    doc = upload(hall, t["id"], photo, label="户口簿 张三丰").json()
    (ev,) = [e for e in hall.events() if e["type"] == "ticket.document_added"]
    assert ev["actor"]["kind"] == "clerk" and ev["hall_id"] == CITY
    p = ev["payload"]
    assert p["ticket_id"] == t["id"] and p["number"] == t["number"]
    assert p["window"]["number"] == 1
    assert p["document"] == {
        "id": doc["id"],
        "size": len(photo),
        "content_type": JPEG,
        "sha256": hashlib.sha256(photo).hexdigest(),
    }
    text = json.dumps(ev, ensure_ascii=False)
    assert ID_YOUNG not in text and "张三丰" not in text and len(text) < 1000


def test_a_photo_queued_offline_arrives_after_the_ticket_left(hall: Hall) -> None:
    t = called_at_window_1(hall)
    taken = datetime.now(UTC)
    hall.ok(1, "start")
    hall.ok(1, "finish")
    queued = make_jpeg(8)
    # Taken while the ticket was in hand: the outbox delivers it late and it is kept.
    r = upload(hall, t["id"], queued, taken_at=taken.isoformat())
    assert r.status_code == 201, r.text
    assert r.json()["taken_at"] == taken.astimezone(hall.ctx.catalog.hall(CITY).zone).isoformat(
        timespec="seconds"
    )
    # Not when it claims a time the ticket was nowhere near this window, nor for another window.
    hour_ago = (taken - timedelta(hours=1)).isoformat()
    r = upload(hall, t["id"], make_jpeg(9), taken_at=hour_ago)
    assert r.status_code == 409 and error_code(r) == "document.not_in_hand"
    r = upload(hall, t["id"], make_jpeg(9), f"clerk:{CITY}:2", taken_at=taken.isoformat())
    assert r.status_code == 403 and error_code(r) == "auth.wrong_window"
    r = upload(hall, t["id"], make_jpeg(9), taken_at="yesterday")
    assert r.status_code == 422 and error_code(r) == "document.bad_taken_at"
    future = (taken + timedelta(hours=2)).isoformat()
    r = upload(hall, t["id"], make_jpeg(9), taken_at=future)
    assert r.status_code == 422 and error_code(r) == "document.bad_taken_at"
    assert len(stored_rows(hall)) == 1


def test_migration_builds_the_documents_table(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from hall_server.db.models import Base
    from hall_server.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            mine = [d for d in diffs if "ticket_documents" in repr(d)]
            assert mine == []
            assert conn.execute(select(func.count()).select_from(D)).scalar() == 0
    finally:
        engine.dispose()


def test_the_api_description_names_the_document_endpoints(hall: Hall) -> None:
    spec = hall.client.get("/openapi.json").json()
    paths = spec["paths"]
    upload_op = paths[f"{API}/tickets/{{ticket_id}}/documents"]["post"]
    assert JPEG in upload_op["requestBody"]["content"]
    assert {"413", "415"} <= set(upload_op["responses"])
    assert "get" in paths[f"{API}/tickets/{{ticket_id}}/documents"]
    assert JPEG in paths[f"{API}/documents/{{document_id}}"]["get"]["responses"]["200"]["content"]


def test_two_retries_at_once_keep_one_document(hall: Hall) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from hall_server.api.deps import lookup
    from hall_server.services.documents import DocumentInput, add_document

    t = called_at_window_1(hall)
    clerk = lookup(hall.ctx, hall.tokens[f"clerk:{CITY}:1"])
    photo = make_jpeg(11)
    for round_ in range(3):
        data = photo + bytes([round_])  # a fresh photo each round (bytes after the end marker)
        gate = Barrier(4)

        def send(_i: int, data: bytes = data, gate: Barrier = gate) -> tuple[dict[str, Any], bool]:
            gate.wait(timeout=10)
            return add_document(hall.ctx, clerk, t["id"], DocumentInput(data=data))

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(send, range(4)))
        assert len({doc["id"] for doc, _created in answers}) == 1
        assert sum(created for _doc, created in answers) == 1
    assert len(stored_rows(hall)) == 3
    assert len([e for e in hall.events() if e["type"] == "ticket.document_added"]) == 3


def test_a_manager_of_the_hall_deletes_a_document_and_the_trail_keeps_it(hall: Hall) -> None:
    t = called_at_window_1(hall)
    keep = upload(hall, t["id"], make_jpeg(40)).json()
    gone = upload(hall, t["id"], make_jpeg(41)).json()
    seq = hall.last_seq()
    for who, code in {
        f"clerk:{CITY}:1": "auth.forbidden",  # the clerk who took it may not remove it
        f"kiosk:{CITY}": "auth.forbidden",
        "m-county": "auth.wrong_hall",
    }.items():
        r = hall.client.delete(f"{API}/documents/{gone['id']}", headers=hall.auth(who))
        assert r.status_code == 403 and error_code(r) == code, (who, r.text)
    assert hall.last_seq() == seq and len(stored_rows(hall)) == 2
    r = hall.client.delete(f"{API}/documents/{gone['id']}", headers=hall.auth("m-city"))
    assert r.status_code == 204
    assert [d["id"] for d in listing(hall, t["id"]).json()] == [keep["id"]]
    assert len(stored_rows(hall)) == 1  # the encrypted bytes are gone too, not just hidden
    r = fetch(hall, gone["id"])
    assert r.status_code == 404 and error_code(r) == "document.unknown"
    r = hall.client.delete(f"{API}/documents/{gone['id']}", headers=hall.auth("admin"))
    assert r.status_code == 404 and error_code(r) == "document.unknown"
    (ev,) = [e for e in hall.events(seq) if e["type"] == "ticket.document_deleted"]
    assert ev["actor"]["kind"] == "manager"
    assert ev["payload"] == {"ticket_id": t["id"], "document": {"id": gone["id"], "sha256": gone["sha256"]}}


def test_photos_older_than_the_retention_period_are_purged(hall: Hall) -> None:
    from hall_server.services.documents import purge_documents

    t = called_at_window_1(hall)
    old = upload(hall, t["id"], make_jpeg(50)).json()
    new = upload(hall, t["id"], make_jpeg(51)).json()
    with hall.ctx.db.write() as s:  # the first photo was taken 200 days ago
        s.execute(
            D.update().where(D.c.id == old["id"]).values(taken_at=datetime.now(UTC) - timedelta(days=200))
        )
    seq = hall.last_seq()
    now = datetime.now(UTC)
    assert purge_documents(hall.ctx, now, 0) == 0  # 0 keeps everything
    assert len(stored_rows(hall)) == 2
    assert purge_documents(hall.ctx, now, 180) == 1
    assert [d["id"] for d in listing(hall, t["id"]).json()] == [new["id"]]
    assert purge_documents(hall.ctx, now, 180) == 0
    (ev,) = [e for e in hall.events(seq) if e["type"] == "documents.purged"]
    assert ev["payload"]["count"] == 1 and ev["payload"]["retention_days"] == 180
    assert ev["actor"]["kind"] == "system"


def test_a_parent_asks_a_station_for_its_own_missing_photos_past_others(hall: Hall) -> None:
    """GET /sync/photos names the station's documents whose photo is missing, even behind many of
    another id range (a replaced station's photos that will never come), and says when more wait."""
    ticket = hall.ok_issue()["id"]
    old_lo, _ = station_range(3)
    mine_lo, mine_hi = station_range(4)

    def row(doc_id: int) -> dict[str, Any]:
        return {
            "id": doc_id,
            "ticket_id": ticket,
            "hall_id": CITY,
            "taken_at": datetime.now(UTC),
            "content_type": JPEG,
            "size": 1,
            "sha256": f"{doc_id:064d}",
            "label": "",
            "data_enc": b"",
        }

    with hall.ctx.db.write() as s:
        s.execute(D.insert(), [row(old_lo + i) for i in range(300)] + [row(mine_lo + i) for i in range(3)])
    with hall.ctx.db.read() as s:
        assert photos.wanted(s, [CITY], [(mine_lo, mine_hi)], 50) == (
            [mine_lo, mine_lo + 1, mine_lo + 2],
            False,
        )
        assert photos.wanted(s, [CITY], [(mine_lo, mine_hi)], 2) == ([mine_lo, mine_lo + 1], True)
        assert photos.wanted(s, [CITY], [], 50) == ([], False)
