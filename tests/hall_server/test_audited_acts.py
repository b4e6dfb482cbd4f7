"""Issue 9: security acts are recorded with actor, source and time, kept from displays, chained."""

from __future__ import annotations

from typing import Any

from hall_server import audit
from hall_server.auth import create_token, revoke_token
from hall_server.events import Actor
from tests.hall_server.conftest import API, Hall
from tests.hall_server.hs_city import CITY, ID_YOUNG
from tests.hall_server.test_documents import fetch, make_jpeg, upload


def _records(hall: Hall, who: str = "m-city", scope: str = CITY) -> list[dict[str, Any]]:
    r = hall.client.get(f"{API}/audit/records", params={"scope": scope}, headers=hall.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


def _of(records: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [r for r in records if r["type"] == type_]


def test_a_reveal_to_the_clerk_is_recorded_without_the_number(hall: Hall) -> None:
    t = hall.ok_issue("S-A1", identity={"id_number": ID_YOUNG, "name": "张三"})
    called = hall.ok(1, "call", ticket_id=t["id"])
    assert called["holder"]["id_number"] == ID_YOUNG  # the serving clerk sees it
    got = hall.client.get(f"{API}/tickets/{t['id']}", headers=hall.auth(f"clerk:{CITY}:1"))
    assert got.json()["holder"]["id_number"] == ID_YOUNG
    reveals = _of(_records(hall), "audit.id_revealed")
    assert len(reveals) == 2
    rec = reveals[-1]
    assert rec["actor"]["kind"] == "clerk" and rec["actor"]["id"] == "c1"
    assert rec["payload"]["source"] == "testclient" and rec["at"]
    assert rec["payload"]["tickets"][0]["id"] == t["id"]
    text = str(reveals)
    assert ID_YOUNG not in text and "张三" not in text
    # Displays never see the audit stream, neither in the hall's events nor by asking.
    assert not [e for e in hall.events() if e["type"].startswith("audit.")]
    r = hall.client.get(f"{API}/audit/records", params={"scope": CITY}, headers=hall.auth(f"display:{CITY}"))
    assert r.status_code == 403
    # The stream is no hall: it cannot be read or subscribed to as one, even by an admin.
    r = hall.client.get(f"{API}/halls/audit:{CITY}/events", headers=hall.auth("admin"))
    assert r.status_code == 404
    with hall.client.websocket_connect(
        f"{API}/halls/audit:{CITY}/events/ws?since=0", headers=hall.auth("admin")
    ) as ws:
        assert "hall.unknown" in ws.receive_text()
    # A manager of another hall does not see this one's.
    r = hall.client.get(f"{API}/audit/records", params={"scope": CITY}, headers=hall.auth("m-county"))
    assert r.status_code == 403


def test_token_settings_and_documents_are_recorded(hall: Hall) -> None:
    with hall.ctx.db.write() as s:
        token_id, secret = create_token(
            s, "kiosk", hall_id=CITY, label="新自助机", actor=Actor("admin", "root")
        )
    with hall.ctx.db.write() as s:
        assert revoke_token(s, token_id, actor=Actor("admin", "root"))
    r = hall.client.put(
        f"{API}/halls/{CITY}/ext-settings", json={"alert_queue_length": 33}, headers=hall.auth("m-city")
    )
    assert r.status_code == 200, r.text
    t = hall.ok_issue("S-A1")
    hall.ok(1, "call", ticket_id=t["id"])
    doc = upload(hall, t["id"], make_jpeg(7)).json()
    assert fetch(hall, doc["id"], who="m-city").status_code == 200
    assert hall.client.delete(f"{API}/documents/{doc['id']}", headers=hall.auth("m-city")).status_code == 204
    recs = _records(hall)
    created = _of(recs, "audit.token_created")[-1]
    assert created["payload"]["token_id"] == token_id and created["actor"] == {"kind": "admin", "id": "root"}
    assert secret not in str(recs)
    assert _of(recs, "audit.token_revoked")[-1]["payload"]["token_id"] == token_id
    changed = _of(recs, "audit.settings_changed")[-1]
    assert changed["payload"]["changes"]["alert_queue_length"]["to"] == 33
    assert changed["actor"]["id"] == "m-city"
    viewed = _of(recs, "audit.document_viewed")[-1]
    assert viewed["payload"]["document_id"] == doc["id"] and viewed["actor"]["id"] == "m-city"
    assert _of(recs, "audit.document_deleted")[-1]["payload"]["document_id"] == doc["id"]
    # The audit stream is chained like any hall's log.
    verdicts = audit.verify_all(hall.ctx.db, audit.stream_of(CITY))
    assert verdicts[0].ok and verdicts[0].checked >= 5


def test_city_scope_is_admin_only(hall: Hall) -> None:
    with hall.ctx.db.write() as s:
        create_token(s, "admin", actor=Actor("cli", "ops"))
    assert _of(_records(hall, "admin", "city"), "audit.token_created")
    r = hall.client.get(f"{API}/audit/records", params={"scope": "city"}, headers=hall.auth("m-city"))
    assert r.status_code == 403
