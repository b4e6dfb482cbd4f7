"""The catalogue's guides (versions by date, hall overrides, claims), hall rules and work calendars (issue 12)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hall_server.services import followups
from hall_server.services.calendars import calendar_for_hall, unverified_years
from tests.hall_server.conftest import API, Hall, error_code
from tests.hall_server.hs_city import CITY, COUNTY, ID_YOUNG, ID_YOUNG_2

GUIDE: dict[str, Any] = {
    "name": "社会保障卡申领",
    "department": "人社局",
    "category": "社保",
    "legal_basis": "《中华人民共和国社会保险法》第五十八条",
    "conditions": "本市参保人员",
    "materials": [{"name": "居民身份证", "originals": 1, "copies": 2, "note": ""}],
    "fee": "不收费",
    "time_limit_days": 20,
    "promise_days": 3,
    "steps": ["取号", "受理", "制卡", "领卡"],
    "forms": ["社会保障卡申领表"],
    "location": "市政务服务中心一楼A区",
    "consult_phone": "0827-12333",
    "complaint_phone": "0827-12345",
    "online_url": "https://zwfw.example.gov.cn/sbk",
    "id_required": True,
    "daily_cap": 200,
    "notes": "",
}


def guide_of(h: Hall, code: str = "S-A1", **params: Any) -> dict[str, Any]:
    r = h.client.get(f"{API}/services/{code}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_seeded_material_reads_unambiguously(hall: Hall) -> None:
    material = guide_of(hall)["guide"]["materials"][0]
    assert material == {"name": "居民身份证", "originals": 1, "copies": 1, "note": ""}


def test_an_edit_is_a_new_version_and_the_old_guide_stays_readable_by_date(hall: Hall) -> None:
    before = guide_of(hall)
    assert before["guide"]["time_limit_days"] == 5 and before["version"] is None
    r = hall.client.put(f"{API}/services/S-A1/guide", json=GUIDE, headers=hall.auth("m-city"))
    assert r.status_code == 200, r.text
    now = guide_of(hall)
    assert now["version"] == 2 and now["guide"]["time_limit_days"] == 20
    assert now["guide"]["materials"][0]["copies"] == 2 and now["guide_url"].endswith("/guide/S-A1")
    history = hall.client.get(f"{API}/services/S-A1/versions").json()
    assert [v["version"] for v in history] == [1, 2] and history[0]["changed_by"] == "seed"
    last_month = (hall.ctx.now() - timedelta(days=30)).date().isoformat()
    old = guide_of(hall, at=last_month)
    assert old["version"] == 1 and old["guide"]["time_limit_days"] == 5
    assert old["guide"]["legal_basis"] == "《社会保险法》"
    today = guide_of(hall, at=hall.ctx.now().date().isoformat())
    assert today["version"] == 2


def test_only_the_city_edits_the_catalogue_and_bad_guides_are_refused(hall: Hall) -> None:
    r = hall.client.put(f"{API}/services/S-A1/guide", json=GUIDE, headers=hall.auth("m-county"))
    assert r.status_code == 403 and error_code(r) == "auth.forbidden"
    bad = {**GUIDE, "materials": [{"name": "身份证", "original": True, "copies": 1}]}
    r = hall.client.put(f"{API}/services/S-A1/guide", json=bad, headers=hall.auth("m-city"))
    assert r.status_code == 422
    r = hall.client.put(
        f"{API}/services/S-A1/guide", json={**GUIDE, "time_limit_days": -1}, headers=hall.auth("admin")
    )
    assert r.status_code == 422
    r = hall.client.put(f"{API}/services/NOPE/guide", json=GUIDE, headers=hall.auth("admin"))
    assert r.status_code == 404 and error_code(r) == "service.unknown"


def test_a_hall_sets_only_its_own_fields_and_its_kiosk_sees_them(hall: Hall) -> None:
    body = {
        "location": "县中心二楼5号窗口",
        "consult_phone": "0827-5550000",
        "daily_cap": 30,
        "id_required": True,
    }
    r = hall.client.put(f"{API}/halls/{COUNTY}/services/S-A1/guide", json=body, headers=hall.auth("m-county"))
    assert r.status_code == 200, r.text
    county = guide_of(hall, hall=COUNTY)["guide"]
    assert (
        county["location"] == "县中心二楼5号窗口"
        and county["daily_cap"] == 30
        and county["id_required"] is True
    )
    assert "location" not in guide_of(hall, hall=CITY)["guide"]  # the city's hall has not set one
    r = hall.client.put(
        f"{API}/halls/{COUNTY}/services/S-A1/guide",
        json={"time_limit_days": 1},
        headers=hall.auth("m-county"),
    )
    assert r.status_code == 422  # the legal time limit is not the hall's to set
    r = hall.client.put(f"{API}/halls/{CITY}/services/S-A1/guide", json=body, headers=hall.auth("m-county"))
    assert r.status_code == 403 and error_code(r) == "auth.wrong_hall"  # above the county manager
    services = hall.client.get(f"{API}/halls/{COUNTY}/services").json()
    assert services[0]["guide"]["daily_cap"] == 30  # the kiosk's list shows the hall's values too


def test_a_hall_claims_an_item_of_the_city_catalogue(hall: Hall) -> None:
    listed = {
        i["code"]: i
        for i in hall.client.get(f"{API}/halls/{COUNTY}/catalogue", headers=hall.auth("m-county")).json()
    }
    assert listed["S-A1"]["claimed"] and not listed["S-X"]["claimed"]
    r = hall.client.post(
        f"{API}/halls/{COUNTY}/services",
        json={"service_code": "S-X", "prefix": "A"},
        headers=hall.auth("m-county"),
    )
    assert r.status_code == 201, r.text
    codes = [s["code"] for s in hall.client.get(f"{API}/halls/{COUNTY}/services").json()]
    assert "S-X" in codes
    again = hall.client.post(
        f"{API}/halls/{COUNTY}/services",
        json={"service_code": "S-X", "prefix": "A"},
        headers=hall.auth("m-county"),
    )
    assert again.status_code == 409 and error_code(again) == "catalogue.claimed"


def test_rules_change_live_and_are_announced(hall: Hall) -> None:
    seq = hall.last_seq(COUNTY)
    body = {
        "opening_hours": [["09:00", "12:00"], ["13:30", "17:00"]],
        "green_mode": "ratio",
        "green_ratio": [1, 3],
        "recall_cap": 3,
        "notices": ["明日上午系统升级，暂停办理不动产业务"],
    }
    r = hall.client.put(f"{API}/halls/{COUNTY}/rules", json=body, headers=hall.auth("m-county"))
    assert r.status_code == 200, r.text
    assert r.json()["green_ratio"] == [1, 3] and r.json()["opening_hours"][1] == ["13:30", "17:00"]
    assert hall.ctx.catalog.hall(COUNTY).policy.recall_cap == 3  # no restart
    detail = hall.client.get(f"{API}/halls/{COUNTY}").json()
    assert detail["notices"] == body["notices"]
    events = [e for e in hall.events(seq, hall=COUNTY) if e["type"] == "hall.updated"]
    assert events and events[-1]["payload"]["rules"]["notices"] == body["notices"]
    bad = hall.client.put(
        f"{API}/halls/{COUNTY}/rules",
        json={"opening_hours": [["09:00", "12:00"], ["11:00", "13:00"]]},
        headers=hall.auth("m-county"),
    )
    assert bad.status_code == 422
    bad = hall.client.put(
        f"{API}/halls/{COUNTY}/rules", json={"green_mode": "sometimes"}, headers=hall.auth("m-county")
    )
    assert bad.status_code == 422 and error_code(bad) == "policy.invalid"


def test_calendar_edit_drives_deadlines_and_unverified_years_are_flagged(hall: Hall) -> None:
    status = hall.client.get(f"{API}/calendars", headers=hall.auth("m-county")).json()
    assert all(not y["verified"] for y in status)  # the shipped files are not verified
    year = hall.ctx.now().year + 1
    cal = hall.client.get(f"{API}/calendars/{year}", headers=hall.auth("m-city")).json()
    assert cal["origin"] in ("file", "none") and not cal["verified"]
    local = {"name": "本地节日", "days": [f"{year}-03-10"]}
    body = {"holidays": [*cal["holidays"], local], "verified": True, "source": "国办发明电〔2026〕号"}
    r = hall.client.put(f"{API}/calendars/{year}", json=body, headers=hall.auth("m-county"))
    assert r.status_code == 403
    r = hall.client.put(f"{API}/calendars/{year}", json=body, headers=hall.auth("m-city"))
    assert r.status_code == 200, r.text
    assert r.json()["verified"] and r.json()["origin"] == "database"
    with hall.ctx.db.read() as s:
        cal_obj = calendar_for_hall(s, COUNTY)
        assert not cal_obj.is_working_day(date(year, 3, 10))
        assert unverified_years(s, COUNTY, date(year, 1, 5), date(year, 2, 5)) == []
        assert unverified_years(s, COUNTY, date(year, 12, 20), date(year + 1, 1, 20)) == [year + 1]
    outside = {"holidays": [{"name": "x", "days": [f"{year + 1}-01-01"]}], "verified": True}
    r = hall.client.put(f"{API}/calendars/{year}", json=outside, headers=hall.auth("m-city"))
    assert r.status_code == 422 and error_code(r) == "calendar.invalid"
    both = {"holidays": [{"name": "x", "days": [f"{year}-01-05"], "workdays": [f"{year}-01-05"]}]}
    r = hall.client.put(f"{API}/calendars/{year}", json=both, headers=hall.auth("m-city"))
    assert r.status_code == 422
    status = {y["year"]: y for y in hall.client.get(f"{API}/calendars", headers=hall.auth("m-county")).json()}
    assert status[year]["verified"]


def test_a_followup_case_names_the_unverified_years_of_its_deadline(hall: Hall) -> None:
    served = hall.served()
    r = hall.client.post(
        f"{API}/ratings",
        json={
            "ticket_id": served["id"],
            "level": 1,
            "channel": "device",
            "prompted": True,
            "reasons": ["attitude"],
        },
        headers=hall.auth(f"rating:{CITY}:1"),
    )
    assert r.status_code < 300, r.text
    with hall.ctx.db.write() as s:
        assert followups.open_missing_cases(s, hall.ctx.now(), [CITY]) == 1
    [case] = hall.client.get(f"{API}/halls/{CITY}/followups", headers=hall.auth("m-city")).json()
    opened, deadline = date.fromisoformat(case["opened_on"]), date.fromisoformat(case["deadline"])
    years = list(range(opened.year, deadline.year + 1))
    assert case["calendar_unverified"] == years  # the shipped calendars are not verified
    for year in years:
        current = hall.client.get(f"{API}/calendars/{year}", headers=hall.auth("m-city")).json()
        body = {"holidays": current["holidays"], "verified": True, "source": "checked"}
        assert (
            hall.client.put(f"{API}/calendars/{year}", json=body, headers=hall.auth("m-city")).status_code
            == 200
        )
    [case] = hall.client.get(f"{API}/halls/{CITY}/followups", headers=hall.auth("m-city")).json()
    assert case["calendar_unverified"] == []


def test_a_clerk_removes_an_unjustified_priority_and_the_report_lists_it(hall: Hall) -> None:
    normal = hall.ok_issue()
    declared = hall.ok_issue(green_reason="pregnant")
    assert declared["green_reason"] == "pregnant"
    body = {"reason": "未见孕检证明，本人承认为代人取号"}
    r = hall.client.post(
        f"{API}/tickets/{declared['id']}/priority/remove", json=body, headers=hall.auth("clerk:t-county:1")
    )
    assert r.status_code == 403 and error_code(r) == "auth.wrong_hall"
    r = hall.client.post(
        f"{API}/tickets/{declared['id']}/priority/remove", json=body, headers=hall.auth(f"clerk:{CITY}:1")
    )
    assert r.status_code == 200, r.text
    assert r.json()["green_reason"] is None
    # Without its priority the ticket queues by issue time: it no longer jumps the one before it.
    called = hall.ok(2, "call-next")
    assert called["number"] == normal["number"]
    again = hall.client.post(
        f"{API}/tickets/{declared['id']}/priority/remove", json=body, headers=hall.auth(f"clerk:{CITY}:1")
    )
    assert again.status_code == 409 and error_code(again) == "green.not_removable"
    [row] = hall.client.get(f"{API}/halls/{CITY}/priority-removals", headers=hall.auth("m-city")).json()
    assert row["number"] == declared["number"] and row["green_reason_zh"] == "孕妇"
    assert row["reason"] == body["reason"] and row["by"] == "张三" and row["window_name"] == "综合窗口"
    assert row["hall_name"] == "测试市政务服务中心"
    r = hall.client.get(f"{API}/halls/{CITY}/priority-removals", headers=hall.auth("m-county"))
    assert r.status_code == 403


def test_a_services_own_id_rule_and_daily_cap_apply_to_tickets(hall: Hall) -> None:
    kiosk = f"kiosk:{COUNTY}"
    assert hall.issue("S-A1", who=kiosk, hall=COUNTY).status_code == 201  # anonymous is fine so far
    body = {"id_required": True, "daily_cap": 2}
    r = hall.client.put(f"{API}/halls/{COUNTY}/services/S-A1/guide", json=body, headers=hall.auth("m-county"))
    assert r.status_code == 200, r.text
    r = hall.issue("S-A1", who=kiosk, hall=COUNTY)
    assert r.status_code == 422 and error_code(r) == "issue.identity_required"
    assert hall.issue("S-A1", who=kiosk, hall=COUNTY, identity={"id_number": ID_YOUNG}).status_code == 201
    r = hall.issue("S-A1", who=kiosk, hall=COUNTY, identity={"id_number": ID_YOUNG_2})
    assert r.status_code == 409 and error_code(r) == "issue.daily_cap"  # two of S-A1 today
    assert hall.issue("S-A1").status_code == 201  # the city's hall did not set them
