"""Managers run their halls (issue 12): staff of their subtree, the roster, window hand-over, devices."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from tests.hall_server.conftest import API, Hall, error_code
from tests.hall_server.hs_city import CITY, COUNTY, PASSWORD

NEW_PW = "Another-Pass-2026"


def _login(hall: Hall, username: str, window: int | None, hall_id: str = CITY, password: str = PASSWORD):
    body = {"username": username, "password": password}
    if window is not None:
        body["window_id"] = hall.wid(window, hall_id)
    return hall.client.post(f"{API}/auth/login", json=body)


def _audit_types(hall: Hall, scope: str, who: str) -> list[str]:
    r = hall.client.get(
        f"{API}/audit/records", params={"scope": scope, "limit": 1000}, headers=hall.auth(who)
    )
    assert r.status_code == 200, r.text
    return [rec["type"] for rec in r.json()]


def test_a_county_manager_sees_and_edits_only_their_subtree(hall: Hall) -> None:
    county, city = hall.auth("m-county"), hall.auth("m-city")
    mine = {s["username"] for s in hall.client.get(f"{API}/staff", headers=county).json()}
    assert mine == {"d1", "m-county"}
    above = {s["username"] for s in hall.client.get(f"{API}/staff", headers=city).json()}
    assert {"c1", "c2", "c3", "d1", "m-city", "m-county"} <= above
    new = {"username": "d9", "name": "孙七", "role": "clerk", "hall_id": COUNTY, "password": PASSWORD}
    # Not above their hall: the city is out of reach.
    r = hall.client.post(f"{API}/staff", json={**new, "hall_id": CITY}, headers=county)
    assert r.status_code == 403 and error_code(r) == "auth.wrong_hall"
    r = hall.client.post(f"{API}/staff", json={**new, "password": "123"}, headers=county)
    assert r.status_code == 422 and error_code(r) == "auth.weak_password"
    r = hall.client.post(f"{API}/staff", json=new, headers=county)
    assert r.status_code == 201, r.text
    d9 = r.json()
    assert d9["hall_name"] and d9["active"] and "password" not in r.text and "hash" not in r.text
    r = hall.client.post(f"{API}/staff", json=new, headers=county)
    assert r.status_code == 409 and error_code(r) == "staff.username_taken"
    # A city clerk is not even found from the county; a manager cannot disable themselves.
    c1 = next(s for s in hall.client.get(f"{API}/staff", headers=city).json() if s["username"] == "c1")
    r = hall.client.patch(f"{API}/staff/{c1['id']}", json={"active": False}, headers=county)
    assert r.status_code == 404 and error_code(r) == "staff.unknown"
    me = next(
        s for s in hall.client.get(f"{API}/staff", headers=county).json() if s["username"] == "m-county"
    )
    r = hall.client.patch(f"{API}/staff/{me['id']}", json={"active": False}, headers=county)
    assert r.status_code == 422 and error_code(r) == "staff.self"
    # d1 sits at the county's window: the new clerk is refused there until a manager hands it over.
    r = _login(hall, "d9", 1, COUNTY)
    assert r.status_code == 409 and error_code(r) == "auth.window_occupied"
    assert "赵六" in r.json()["error"]["message"]
    r = hall.client.post(
        f"{API}/windows/{hall.wid(1, COUNTY)}/hand-over", json={"reason": "换班"}, headers=county
    )
    assert r.status_code == 200 and r.json()["window"].endswith("1号窗口 综合窗口")
    r = _login(hall, "d9", 1, COUNTY)
    assert r.status_code == 200, r.text
    token = {"Authorization": f"Bearer {r.json()['token']}"}
    # A password reset ends the clerk's sessions; the new password works.
    r = hall.client.post(f"{API}/staff/{d9['id']}/password", json={"password": NEW_PW}, headers=county)
    assert r.status_code == 200
    assert hall.client.get(f"{API}/auth/me", headers=token).status_code == 401
    r = _login(hall, "d9", 1, COUNTY, NEW_PW)
    assert r.status_code == 200
    token = {"Authorization": f"Bearer {r.json()['token']}"}
    # Disabled: the session ends at once and the account cannot log in.
    r = hall.client.patch(f"{API}/staff/{d9['id']}", json={"active": False, "name": "孙七七"}, headers=county)
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["name"] == "孙七七"
    assert hall.client.get(f"{API}/auth/me", headers=token).status_code == 401
    assert error_code(_login(hall, "d9", 1, COUNTY, NEW_PW)) == "auth.bad_credentials"
    types = _audit_types(hall, COUNTY, "m-county")
    for t in (
        "audit.staff_created",
        "audit.staff_changed",
        "audit.staff_password_reset",
        "audit.window_handed_over",
    ):
        assert t in types, t


def test_the_roster_decides_who_sits_where_and_figures_follow_the_clerk(hall: Hall) -> None:
    city = hall.auth("m-city")
    today = hall.ctx.now().astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    new = {"username": "c9", "name": "周九", "role": "clerk", "hall_id": CITY, "password": PASSWORD}
    c9 = hall.client.post(f"{API}/staff", json=new, headers=city).json()
    staff = {s["username"]: s for s in hall.client.get(f"{API}/staff", headers=city).json()}
    line = {"day": today, "window_id": hall.wid(3), "user_id": c9["id"], "starts": "00:00", "ends": "24:00"}
    r = hall.client.post(f"{API}/halls/{CITY}/roster", json=line, headers=city)
    assert r.status_code == 201, r.text
    sitting = r.json()
    assert sitting["clerk"] == "周九" and sitting["window"].endswith("3号窗口 不动产窗口")
    r = hall.client.post(
        f"{API}/halls/{CITY}/roster", json={**line, "user_id": staff["c2"]["id"]}, headers=city
    )
    assert r.status_code == 409 and error_code(r) == "sitting.overlap"
    r = hall.client.post(
        f"{API}/halls/{CITY}/roster", json={**line, "starts": "10:00", "ends": "09:00"}, headers=city
    )
    assert r.status_code == 422 and error_code(r) == "sitting.invalid"
    # c3 still sits at window 3: refused; after c3 logs out, the rostered clerk sits down.
    assert error_code(_login(hall, "c9", 3)) == "auth.window_occupied"
    hall.client.post(f"{API}/auth/logout", headers=hall.auth(f"clerk:{CITY}:3"))
    r = _login(hall, "c9", 3)
    assert r.status_code == 200, r.text
    c9_token = {"Authorization": f"Bearer {r.json()['token']}"}
    # Not at a window they are not rostered for (window 2 is free now), told where they are rostered.
    hall.client.post(f"{API}/auth/logout", headers=hall.auth(f"clerk:{CITY}:2"))
    r = _login(hall, "c9", 2)
    assert r.status_code == 403 and error_code(r) == "auth.not_rostered"
    assert "不动产窗口" in r.json()["error"]["message"]
    # With a roster today, an unrostered clerk is refused everywhere.
    assert error_code(_login(hall, "c2", 2)) == "auth.not_rostered"
    got = hall.client.get(f"{API}/halls/{CITY}/roster", params={"day": today}, headers=city).json()
    assert [(s["clerk"], s["starts"], s["ends"]) for s in got] == [("周九", "00:00", "24:00")]
    # c9 serves a ticket at window 3; then c2 takes window 3 over (roster changed, hand-over).
    t1 = hall.ok_issue("S-B1")
    for step in ("call-next", "start", "finish"):
        r = hall.client.post(f"{API}/windows/{hall.wid(3)}/{step}", json={}, headers=c9_token)
        assert r.status_code == 200, r.text
    r = hall.client.delete(f"{API}/roster/{sitting['id']}", headers=city)
    assert r.status_code == 204
    r = hall.client.post(
        f"{API}/halls/{CITY}/roster", json={**line, "user_id": staff["c2"]["id"]}, headers=city
    )
    assert r.status_code == 201
    assert error_code(_login(hall, "c2", 3)) == "auth.window_occupied"
    assert (
        hall.client.post(f"{API}/windows/{hall.wid(3)}/hand-over", json={}, headers=city).status_code == 200
    )
    assert hall.client.get(f"{API}/auth/me", headers=c9_token).status_code == 401
    r = _login(hall, "c2", 3)
    assert r.status_code == 200, r.text
    c2_token = {"Authorization": f"Bearer {r.json()['token']}"}
    t2 = hall.ok_issue("S-B1")
    for step in ("call-next", "start", "finish"):
        assert (
            hall.client.post(f"{API}/windows/{hall.wid(3)}/{step}", json={}, headers=c2_token).status_code
            == 200
        )
    assert t1["id"] != t2["id"]
    # The figures follow the clerk, not the window: one served each, by name.
    r = hall.client.get(
        f"{API}/halls/{CITY}/stats/breakdown", params={"by": "clerk", "subtree": "false"}, headers=city
    )
    assert r.status_code == 200, r.text
    served = {row["label"]: row["served"] for row in r.json()}
    assert served.get("周九") == 1 and served.get("李四") == 1
    assert "audit.roster_changed" in _audit_types(hall, CITY, "m-city")


def test_staff_and_rosters_are_the_citys_at_a_station(hall: Hall) -> None:
    city = hall.auth("m-city")
    hall.ctx.settings.parent_url = "https://city.example"
    try:
        new = {"username": "c8", "name": "吴八", "role": "clerk", "hall_id": CITY, "password": PASSWORD}
        r = hall.client.post(f"{API}/staff", json=new, headers=city)
        assert r.status_code == 409 and error_code(r) == "sync.managed_by_city"
        r = hall.client.post(f"{API}/halls/{CITY}/enrolments", json={"role": "kiosk"}, headers=city)
        assert r.status_code == 409 and error_code(r) == "sync.managed_by_city"
    finally:
        hall.ctx.settings.parent_url = None


def test_a_device_enrols_once_by_its_code(hall: Hall) -> None:
    county = hall.auth("m-county")
    r = hall.client.post(
        f"{API}/halls/{COUNTY}/enrolments", json={"role": "rating", "label": "1号窗口评价器"}, headers=county
    )
    assert r.status_code == 422  # a rating terminal names its window
    r = hall.client.post(
        f"{API}/halls/{COUNTY}/enrolments",
        json={"role": "rating", "label": "1号窗口评价器", "window_id": hall.wid(1, COUNTY)},
        headers=county,
    )
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["qr_svg"] is None or issued["qr_svg"].lstrip().startswith("<")
    pending = hall.client.get(f"{API}/halls/{COUNTY}/device-registry", headers=county).json()["pending"]
    assert [p["label"] for p in pending] == ["1号窗口评价器"]
    r = hall.client.post(f"{API}/devices/enrol", json={"code": issued["code"]})
    assert r.status_code == 201, r.text
    device = r.json()
    assert device["role"] == "rating" and device["window_id"] == hall.wid(1, COUNTY)
    r = hall.client.post(f"{API}/devices/enrol", json={"code": issued["code"]})
    assert r.status_code == 404 and error_code(r) == "enrol.code_invalid"
    assert "登记码" in r.json()["error"]["message"]
    reg = hall.client.get(f"{API}/halls/{COUNTY}/device-registry", headers=county).json()
    assert reg["pending"] == []
    row = next(t for t in reg["tokens"] if t["id"] == device["token_id"])
    assert row["label"] == "1号窗口评价器" and row["window"].endswith("1号窗口 综合窗口")
    # The city's manager of another branch cannot register devices here.
    r = hall.client.post(f"{API}/halls/{CITY}/enrolments", json={"role": "kiosk"}, headers=county)
    assert r.status_code == 403


def test_the_roster_goes_down_to_a_station_and_a_line_taken_off_goes_too(hall: Hall) -> None:
    from datetime import UTC, datetime

    from hall_server.sync.config_snapshot import apply_config, snapshot

    city = hall.auth("m-city")
    staff = {s["username"]: s for s in hall.client.get(f"{API}/staff", headers=city).json()}
    line = {
        "day": "2030-05-06",
        "window_id": hall.wid(2),
        "user_id": staff["c2"]["id"],
        "starts": "09:00",
        "ends": "12:00",
    }
    sitting = hall.client.post(f"{API}/halls/{CITY}/roster", json=line, headers=city).json()
    now = datetime.now(UTC)
    with hall.ctx.db.read() as s:
        version, config = snapshot(s, [CITY], now)
    assert [(r["id"], r["starts"], r["ends"]) for r in config["sittings"]] == [
        (sitting["id"], "09:00", "12:00")
    ]
    assert all("external_subject" in u and "password_hash" in u for u in config["users"])
    # Applied where the line is gone (as a station would after the city took it off): it goes.
    assert hall.client.delete(f"{API}/roster/{sitting['id']}", headers=city).status_code == 204
    with hall.ctx.db.read() as s:
        version2, config2 = snapshot(s, [CITY], now)
    assert version2 != version and config2["sittings"] == []
    with hall.ctx.db.write() as s:
        apply_config(s, config, [CITY], now)  # the old snapshot brings the line back ...
    assert (
        len(hall.client.get(f"{API}/halls/{CITY}/roster", params={"day": "2030-05-06"}, headers=city).json())
        == 1
    )
    with hall.ctx.db.write() as s:
        apply_config(s, config2, [CITY], now)  # ... and the new one takes it off
    assert (
        hall.client.get(f"{API}/halls/{CITY}/roster", params={"day": "2030-05-06"}, headers=city).json() == []
    )


def test_a_manager_sets_a_windows_zone_audited_and_bounded(hall: Hall) -> None:
    from datetime import UTC, datetime

    from hall_server.sync.config_snapshot import apply_config, snapshot

    city, county = hall.auth("m-city"), hall.auth("m-county")
    w1 = hall.wid(1)
    since = hall.last_seq()
    r = hall.client.put(f"{API}/windows/{w1}/zone", json={"zone": " B区 "}, headers=city)
    assert r.status_code == 200 and r.json()["zone"] == "B区", r.text
    # The displays hear it (they regroup their windows) and the audit trail keeps who did it.
    changed = [e for e in hall.events(since) if e["type"] == "window.updated"]
    assert [e["payload"]["change"] for e in changed] == ["zone"]
    assert changed[0]["payload"]["window"]["zone"] == "B区"
    assert "audit.window_zone_changed" in _audit_types(hall, CITY, "m-city")
    snap = hall.client.get(f"{API}/halls/{CITY}/snapshot", headers=hall.auth(f"display:{CITY}")).json()
    assert {w["number"]: w["zone"] for w in snap["windows"]}[1] == "B区"
    # Bounded, printable text; empty clears it.
    for bad in ("一二三四五六七八九", "B\n区"):
        r = hall.client.put(f"{API}/windows/{w1}/zone", json={"zone": bad}, headers=city)
        assert r.status_code == 422, (bad, r.text)
    r = hall.client.put(f"{API}/windows/{w1}/zone", json={"zone": "B\n区"}, headers=city)
    assert error_code(r) == "window.invalid_zone" and "B区" in r.json()["error"]["message"]
    r = hall.client.put(f"{API}/windows/{w1}/zone", json={"zone": 7}, headers=city)
    assert r.status_code == 422
    # Not a clerk, not the manager of another hall; an unknown window is 404.
    r = hall.client.put(
        f"{API}/windows/{w1}/zone", json={"zone": "C区"}, headers=hall.auth(f"clerk:{CITY}:1")
    )
    assert r.status_code == 403
    r = hall.client.put(f"{API}/windows/{w1}/zone", json={"zone": "C区"}, headers=county)
    assert r.status_code == 403 and error_code(r) == "auth.wrong_hall"
    r = hall.client.put(f"{API}/windows/999999/zone", json={"zone": "C区"}, headers=city)
    assert r.status_code == 404 and error_code(r) == "window.unknown"
    # The zone is the city's configuration: it travels down to a station in the config snapshot.
    with hall.ctx.db.read() as s:
        _, config = snapshot(s, [CITY], datetime.now(UTC))
    assert {w["number"]: w["zone"] for w in config["windows"]}[1] == "B区"
    r = hall.client.put(f"{API}/windows/{w1}/zone", json={"zone": ""}, headers=city)
    assert r.status_code == 200 and r.json()["zone"] is None
    with hall.ctx.db.write() as s:
        apply_config(s, config, [CITY], datetime.now(UTC))  # as a station applies the city's snapshot
    detail = hall.client.get(f"{API}/halls/{CITY}").json()
    assert {w["number"]: w["zone"] for w in detail["windows"]}[1] == "B区"
