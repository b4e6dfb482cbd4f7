"""The queue snapshot, the catalogue reads, and personal data protection at rest and on the wire."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tests.hall_server.conftest import API, Hall
from tests.hall_server.hs_city import CITY, ID_ELDERLY, ID_YOUNG


def test_snapshot_contents(hall: Hall) -> None:
    for code in ("S-A1", "S-A1", "S-A2", "S-B1"):
        hall.ok_issue(code)
    hall.ok(2, "call-next")
    hall.ok(1, "pause")
    r = hall.client.get(f"{API}/halls/{CITY}/snapshot", headers=hall.auth(f"display:{CITY}"))
    assert r.status_code == 200
    snap = r.json()
    assert snap["hall"]["id"] == CITY and snap["last_seq"] == hall.last_seq()
    groups = {g["prefix"]: g for g in snap["groups"]}
    assert groups["A"]["waiting"] == 2 and groups["B"]["waiting"] == 1
    assert groups["A"]["name"] == "社保医保" and groups["A"]["estimated_wait_minutes"] >= 1
    windows = {w["number"]: w for w in snap["windows"]}
    assert windows[1]["status"] == "paused" and windows[1]["current"] is None
    assert windows[2]["current"]["number"] == "A001" and windows[2]["clerk"]["name"] == "李四"
    assert windows[3]["groups"] == {"B": 1}
    assert [c["payload"]["text"] for c in snap["recent_calls"]] == ["请A001号到2号窗口办理"]
    # The display's 请 X 号准备: the head of each queue, longest waiting first (A002 came before B001).
    assert snap["next_up"] == [{"prefix": "A", "number": "A002"}, {"prefix": "B", "number": "B001"}]
    r = hall.client.get(f"{API}/halls/{CITY}/snapshot")
    assert r.status_code == 401


def test_catalogue_reads(hall: Hall) -> None:
    halls = hall.client.get(f"{API}/halls").json()
    assert {(h["id"], h["level"], h["parent_id"]) for h in halls} == {
        ("t-city", "city", None),
        ("t-county", "county", "t-city"),
    }
    detail = hall.client.get(f"{API}/halls/{CITY}").json()
    assert [g["prefix"] for g in detail["groups"]] == ["A", "B"]
    assert detail["groups"][0]["services"] == ["S-A1", "S-A2"]
    assert detail["policy"]["recall_cap"] == 2 and len(detail["windows"]) == 3
    services = hall.client.get(f"{API}/halls/{CITY}/services").json()
    assert {s["code"]: s["prefix"] for s in services} == {"S-A1": "A", "S-A2": "A", "S-B1": "B"}
    found = hall.client.get(f"{API}/halls/{CITY}/services", params={"q": "不动产"}).json()
    assert [s["code"] for s in found] == ["S-B1"]
    one = hall.client.get(f"{API}/services/S-A1").json()
    assert (
        one["guide"]["materials"][0]["name"] == "居民身份证"
        and one["guide"]["legal_basis"] == "《社会保险法》"
    )
    r = hall.client.get(f"{API}/services/NOPE")
    assert r.status_code == 404 and r.json()["error"]["code"] == "service.unknown"
    health = hall.client.get(f"{API}/health").json()
    assert health["status"] == "ok" and health["hall_id"] == CITY
    spec = hall.client.get("/openapi.json").json()
    assert "/api/v1/halls/{hall_id}/tickets" in spec["paths"]
    assert "/api/v1/windows/{window_id}/call-next" in spec["paths"]


def test_personal_data_is_encrypted_at_rest(hall: Hall) -> None:
    hall.ok_issue("S-A1", identity={"id_number": ID_YOUNG, "name": "张三丰"})
    hall.ok_issue("S-A1", identity={"id_number": ID_ELDERLY, "name": "欧阳娜娜"})
    hall.ok(1, "call-next")
    if hall.is_postgres:
        with hall.ctx.db.read() as s:
            dump = "\n".join(
                str(row)
                for table in ("tickets", "events")
                for row in s.execute(text(f"SELECT * FROM {table}")).all()
            )
        blob = dump.encode("utf-8")
    else:
        # Every byte SQLite wrote: main file and WAL.
        path = Path(hall.db_url[len("sqlite:///") :])
        hall.ctx.db.engine.dispose()
        blob = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    for secret in (ID_YOUNG, ID_ELDERLY, "张三丰", "欧阳娜娜"):
        assert secret.encode("utf-8") not in blob, secret
    assert b"1101**********4565" in blob  # the masked form is stored for display


def test_full_identity_only_for_the_serving_clerk(hall: Hall) -> None:
    t = hall.ok_issue("S-A1", identity={"id_number": ID_YOUNG, "name": "张三丰", "card_type": "resident"})
    assert t["holder"]["id_masked"] == "1101**********4565" and t["holder"]["id_number"] is None
    called = hall.ok(1, "call-next")  # the clerk of window 1 serves it now
    assert called["holder"]["id_number"] == ID_YOUNG and called["holder"]["name"] == "张三丰"
    assert hall.ticket(t["id"], who=f"clerk:{CITY}:1")["holder"]["id_number"] == ID_YOUNG
    for who in (f"clerk:{CITY}:2", "m-city", "admin", f"display:{CITY}"):
        holder = hall.ticket(t["id"], who=who)["holder"]
        assert holder["id_number"] is None and holder["name"] is None and holder["name_masked"] == "张**", who
    tracked = hall.client.get(f"{API}/track/{t['track_token']}").json()
    assert tracked["holder"]["id_number"] is None
    hall.ok(1, "start")
    finished = hall.ok(1, "finish")
    assert finished["holder"]["id_number"] is None  # no longer at the window
