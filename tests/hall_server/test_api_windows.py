"""Every window operation through the real app, its event, and the transitions it refuses."""

from __future__ import annotations

from typing import Any

from tests.hall_server.conftest import API, Hall, error_code
from tests.hall_server.hs_city import CITY, COUNTY, ID_ELDERLY


def _new_events(hall: Hall, since: int) -> list[dict[str, Any]]:
    return hall.events(since)


def test_call_recall_start_finish_with_events(hall: Hall) -> None:
    t = hall.ok_issue("S-A1")
    seq0 = hall.last_seq()
    called = hall.ok(1, "call-next")
    assert called["id"] == t["id"] and called["status"] == "called"
    assert called["window_id"] == hall.wid(1) and called["window_number"] == 1
    recalled = hall.ok(1, "recall")
    assert recalled["recall_count"] == 1 and recalled["status"] == "called"
    assert hall.ok(1, "start")["status"] == "serving"
    done = hall.ok(1, "finish")
    assert done["status"] == "finished" and done["finished_at"]
    evs = _new_events(hall, seq0)
    assert [e["type"] for e in evs] == [
        "ticket.called",
        "ticket.recalled",
        "ticket.started",
        "ticket.finished",
        "rating.requested",
    ]
    assert [e["seq"] for e in evs] == list(range(seq0 + 1, seq0 + 6))  # gap-free
    call = evs[0]["payload"]
    assert call["text"] == "请A001号到1号窗口办理"
    assert call["words"] == "请 A 零零一 号 到 一号窗口 办理"
    assert call["window"] == {"id": hall.wid(1), "number": 1, "name": "综合窗口"}
    assert call["ticket"]["number"] == "A001"
    assert evs[0]["actor"] == {"kind": "clerk", "id": "c1"}
    rating = evs[-1]["payload"]
    assert rating["ticket_id"] == t["id"] and rating["window"]["id"] == hall.wid(1)
    assert rating["clerk"]["name"] == "张三"
    # The window is free again and the next call finds nobody.
    r = hall.op(1, "call-next")
    assert r.status_code == 404 and error_code(r) == "queue.empty"
    assert "没有等候" in r.json()["error"]["message"]


def test_illegal_transitions_change_nothing(hall: Hall) -> None:
    hall.ok_issue("S-A1")
    r = hall.op(1, "finish")
    assert r.status_code == 409 and error_code(r) == "window.idle"
    hall.ok(1, "call-next")
    seq = hall.last_seq()
    r = hall.op(1, "finish")  # called, not serving yet
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "ticket.illegal_transition"
    assert err["detail"]["status"] == "called" and "finish" not in err["detail"]["allowed"]
    assert "不能执行" in err["message"]
    assert hall.last_seq() == seq
    window = hall.client.get(f"{API}/windows/{hall.wid(1)}", headers=hall.auth("admin")).json()
    assert window["current"]["status"] == "called"


def test_double_call_next_is_refused_while_busy(hall: Hall) -> None:
    hall.ok_issue("S-A1")
    hall.ok_issue("S-A1")
    first = hall.ok(1, "call-next")
    seq = hall.last_seq()
    r = hall.op(1, "call-next")
    assert r.status_code == 409 and error_code(r) == "window.busy"
    assert hall.last_seq() == seq
    waiting = hall.client.get(
        f"{API}/halls/{CITY}/tickets", params={"status": "waiting"}, headers=hall.auth("admin")
    )
    assert [t["number"] for t in waiting.json()] == ["A002"]
    assert first["number"] == "A001"


def test_recall_is_capped(hall: Hall) -> None:
    hall.ok_issue("S-A1")
    hall.ok(1, "call-next")
    hall.ok(1, "recall")
    hall.ok(1, "recall")
    seq = hall.last_seq()
    r = hall.op(1, "recall")
    assert r.status_code == 409 and error_code(r) == "ticket.recall_cap"
    assert r.json()["error"]["detail"]["recall_cap"] == 2
    assert hall.last_seq() == seq
    assert hall.ok(1, "no-show")["status"] == "no_show"
    assert [e["type"] for e in hall.events(seq)] == ["ticket.no_show"]


def test_transfer_to_another_service(hall: Hall) -> None:
    t = hall.ok_issue("S-A1")
    hall.ok(2, "call-next")
    hall.ok(2, "start")
    moved = hall.ok(2, "transfer", service_code="S-B1")
    assert moved["status"] == "waiting" and moved["group"] == "B" and moved["service_code"] == "S-B1"
    assert moved["number"] == "A001" and moved["window_id"] is None
    ev = hall.events(hall.last_seq() - 1)[-1]
    assert ev["type"] == "ticket.transferred"
    assert ev["payload"]["from_service_code"] == "S-A1" and ev["payload"]["to_service_code"] == "S-B1"
    # Window 2 serves only A: it no longer sees the ticket; window 3 (B) calls it.
    r = hall.op(2, "call-next")
    assert r.status_code == 404 and error_code(r) == "queue.empty"
    assert hall.ok(3, "call-next")["id"] == t["id"]


def test_transfer_to_a_window_binds_the_ticket(hall: Hall) -> None:
    t = hall.ok_issue("S-A1")
    hall.ok_issue("S-A1")
    hall.ok(2, "call-next")
    moved = hall.ok(2, "transfer", window_id=hall.wid(1))
    assert moved["bound_window_id"] == hall.wid(1)
    # Window 2 calls the next unbound A ticket, not the one sent to window 1.
    assert hall.ok(2, "call-next")["number"] == "A002"
    assert hall.ok(1, "call-next")["id"] == t["id"]
    r = hall.op(1, "transfer")
    assert r.status_code == 422 and error_code(r) == "transfer.target_required"
    r = hall.op(1, "transfer", window_id=hall.wid(1))
    assert r.status_code == 422 and error_code(r) == "transfer.same_window"
    r = hall.op(1, "transfer", window_id=hall.wid(1, COUNTY))
    assert r.status_code == 404 and error_code(r) == "window.unknown"
    r = hall.op(1, "transfer", service_code="S-X")
    assert r.status_code == 404 and error_code(r) == "service.unknown"


def test_suspend_and_call_back(hall: Hall) -> None:
    t = hall.ok_issue("S-A1")
    hall.ok_issue("S-A1")
    hall.ok(1, "call-next")
    hall.ok(1, "start")
    s = hall.ok(1, "suspend")
    assert s["status"] == "suspended" and s["window_id"] is None
    # The window is free: it serves the next visitor meanwhile.
    nxt = hall.ok(1, "call-next")
    assert nxt["number"] == "A002"
    r = hall.op(1, "call-back", ticket_id=t["id"])
    assert r.status_code == 409 and error_code(r) == "window.busy"
    hall.ok(1, "no-show")
    back = hall.ok(1, "call-back", ticket_id=t["id"])
    assert back["status"] == "called" and back["id"] == t["id"]
    types = [e["type"] for e in hall.events(0)]
    assert types.count("ticket.suspended") == 1 and types[-1] == "ticket.called_back"
    payload = hall.events(hall.last_seq() - 1)[-1]["payload"]
    assert payload["text"] == "请A001号到1号窗口办理"
    # Calling back a ticket that is not suspended is an illegal transition.
    hall.ok(1, "start")
    hall.ok(1, "finish")
    r = hall.op(1, "call-back", ticket_id=t["id"])
    assert r.status_code == 409 and error_code(r) == "ticket.illegal_transition"


def test_call_a_chosen_ticket(hall: Hall) -> None:
    hall.ok_issue("S-A1")
    second = hall.ok_issue("S-A1")
    b = hall.ok_issue("S-B1")
    got = hall.ok(1, "call", ticket_id=second["id"])
    assert got["number"] == "A002"
    hall.ok(1, "no-show")
    r = hall.op(2, "call", ticket_id=b["id"])  # window 2 does not serve B
    assert r.status_code == 409 and error_code(r) == "call.group_not_served"
    r = hall.op(1, "call", ticket_id=second["id"])  # no longer waiting
    assert r.status_code == 409 and error_code(r) == "ticket.illegal_transition"
    r = hall.op(1, "call", ticket_id=999999)
    assert r.status_code == 404 and error_code(r) == "ticket.unknown"
    other = hall.ok_issue("S-A1", who=f"kiosk:{COUNTY}", hall=COUNTY)
    r = hall.op(1, "call", ticket_id=other["id"])
    assert r.status_code == 409 and error_code(r) == "ticket.other_hall"


def test_green_channel_is_called_first(hall: Hall) -> None:
    hall.ok_issue("S-A1")
    hall.ok_issue("S-A1")
    old = hall.ok_issue("S-A1", identity={"id_number": ID_ELDERLY, "name": "王老"})
    assert old["people_ahead"] == 0
    assert hall.ok(2, "call-next")["id"] == old["id"]
    assert hall.ok(2, "no-show") and hall.ok(2, "call-next")["number"] == "A001"


def test_window_weights_follow_the_policy(hall: Hall) -> None:
    for _ in range(4):
        hall.ok_issue("S-A1")
    for _ in range(4):
        hall.ok_issue("S-B1")
    groups = []
    for _ in range(6):
        groups.append(hall.ok(1, "call-next")["group"])
        hall.ok(1, "no-show")
    assert groups.count("A") == 4 and groups.count("B") == 2  # weights A:2, B:1


def test_pause_resume_open_close(hall: Hall) -> None:
    hall.ok_issue("S-A1")
    seq = hall.last_seq()
    w = hall.ok(1, "pause")
    assert w["status"] == "paused" and w["clerk"]["name"] == "张三"
    r = hall.op(1, "call-next")
    assert r.status_code == 409 and error_code(r) == "window.not_open"
    r = hall.op(1, "pause")
    assert r.status_code == 409 and error_code(r) == "window.illegal_transition"
    assert hall.ok(1, "resume")["status"] == "open"
    hall.ok(1, "call-next")
    r = hall.op(1, "close")
    assert r.status_code == 409 and error_code(r) == "window.busy"
    hall.ok(1, "no-show")
    assert hall.ok(1, "close")["status"] == "closed"
    assert hall.ok(1, "open")["status"] == "open"
    evs = [e for e in hall.events(seq) if e["type"] == "window.updated"]
    assert [e["payload"]["change"] for e in evs] == ["pause", "resume", "close", "open"]
    assert evs[0]["payload"]["window"]["status"] == "paused"


def test_change_groups_and_weights(hall: Hall) -> None:
    url = f"{API}/windows/{hall.wid(2)}/groups"
    r = hall.client.put(url, json={"groups": {"A": 1, "B": 3}}, headers=hall.auth(f"clerk:{CITY}:2"))
    assert r.status_code == 403 and error_code(r) == "auth.forbidden"
    r = hall.client.put(url, json={"groups": {"Z": 1}}, headers=hall.auth("m-city"))
    assert r.status_code == 422 and error_code(r) == "group.unknown"
    r = hall.client.put(url, json={"groups": {"A": 0}}, headers=hall.auth("m-city"))
    assert r.status_code == 422 and error_code(r) == "window.invalid_weight"
    r = hall.client.put(url, json={"groups": {"A": 1, "B": 3}}, headers=hall.auth("m-city"))
    assert r.status_code == 200 and r.json()["groups"] == {"A": 1, "B": 3}
    ev = hall.events(hall.last_seq() - 1)[-1]
    assert ev["type"] == "window.updated" and ev["payload"]["window"]["groups"] == {"A": 1, "B": 3}
    b = hall.ok_issue("S-B1")
    assert hall.ok(2, "call-next")["id"] == b["id"]


def test_rating_request_on_demand(hall: Hall) -> None:
    r = hall.op(1, "rating-request")
    assert r.status_code == 409 and error_code(r) == "window.no_rated_ticket"
    hall.ok_issue("S-A1")
    hall.ok(1, "call-next")
    hall.ok(1, "start")
    r = hall.op(1, "rating-request")
    assert r.status_code == 204
    assert hall.events(hall.last_seq() - 1)[-1]["type"] == "rating.requested"


def test_windows_calling_at_once_never_share_a_ticket(hall: Hall) -> None:
    import threading

    for _ in range(24):
        hall.ok_issue("S-A1")
    called: dict[int, list[str]] = {1: [], 2: []}
    errors: list[str] = []

    def clerk(number: int) -> None:
        while True:
            r = hall.op(number, "call-next")
            if r.status_code == 404:
                return
            if r.status_code != 200:
                errors.append(r.text)
                return
            called[number].append(r.json()["number"])
            if hall.op(number, "no-show").status_code != 200:
                errors.append("no-show failed")
                return

    threads = [threading.Thread(target=clerk, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    everything = called[1] + called[2]
    assert sorted(everything) == [f"A{i:03d}" for i in range(1, 25)]  # each exactly once


# --- 下一位: close the ticket in hand and call the next in one step ---------------------------
def test_next_finishes_the_ticket_in_hand_and_calls_the_next(hall: Hall) -> None:
    a = hall.ok_issue("S-A1")
    b = hall.ok_issue("S-A1")
    hall.ok(1, "call-next")
    hall.ok(1, "start")
    seq0 = hall.last_seq()
    out = hall.ok(1, "next", close="finish", ticket_id=a["id"])
    assert out["closed"]["id"] == a["id"] and out["closed"]["status"] == "finished"
    assert out["called"]["id"] == b["id"] and out["called"]["status"] == "called"
    assert out["called"]["window_number"] == 1
    evs = hall.events(seq0)
    assert [e["type"] for e in evs] == ["ticket.finished", "rating.requested", "ticket.called"]
    assert [e["seq"] for e in evs] == [seq0 + 1, seq0 + 2, seq0 + 3]
    assert evs[2]["payload"]["text"] == "请A002号到1号窗口办理"
    window = hall.client.get(f"{API}/windows/{hall.wid(1)}", headers=hall.auth("admin")).json()
    assert window["current"]["id"] == b["id"]


def test_next_with_no_show_and_an_empty_queue_frees_the_window(hall: Hall) -> None:
    a = hall.ok_issue("S-A1")
    hall.ok(1, "call-next")
    out = hall.ok(1, "next", close="no_show", ticket_id=a["id"])
    assert out["closed"]["status"] == "no_show" and out["called"] is None
    window = hall.client.get(f"{API}/windows/{hall.wid(1)}", headers=hall.auth("admin")).json()
    assert window["current"] is None
    # The window is free: a ticket issued now is called by a plain call-next.
    c = hall.ok_issue("S-A1")
    assert hall.ok(1, "call-next")["id"] == c["id"]


def test_a_double_click_on_next_never_closes_the_ticket_just_called(hall: Hall) -> None:
    a = hall.ok_issue("S-A1")
    b = hall.ok_issue("S-A1")
    hall.ok_issue("S-A1")
    hall.ok(1, "call-next")
    hall.ok(1, "next", close="no_show", ticket_id=a["id"])
    seq = hall.last_seq()
    r = hall.op(1, "next", close="no_show", ticket_id=a["id"])  # the same click again
    assert r.status_code == 409 and error_code(r) == "window.current_changed"
    assert r.json()["error"]["detail"]["current_ticket_id"] == b["id"]
    assert hall.last_seq() == seq
    window = hall.client.get(f"{API}/windows/{hall.wid(1)}", headers=hall.auth("admin")).json()
    assert window["current"]["id"] == b["id"] and window["current"]["status"] == "called"


def test_next_refusals_write_nothing(hall: Hall) -> None:
    a = hall.ok_issue("S-A1")
    hall.ok_issue("S-A1")
    r = hall.op(1, "next", close="finish", ticket_id=a["id"])  # window idle
    assert r.status_code == 409 and error_code(r) == "window.current_changed"
    hall.ok(1, "call-next")
    seq = hall.last_seq()
    r = hall.op(1, "next", close="finish", ticket_id=a["id"])  # called, never started
    assert r.status_code == 409 and error_code(r) == "ticket.illegal_transition"
    r = hall.op(1, "next", close="cancel", ticket_id=a["id"])
    assert r.status_code == 422
    r = hall.op(2, "next", close="no_show", ticket_id=a["id"], who=f"clerk:{CITY}:1")  # other window
    assert r.status_code == 403
    hall.ok(1, "pause")
    r = hall.op(1, "next", close="no_show", ticket_id=a["id"])  # a paused window does not call
    assert r.status_code == 409 and error_code(r) == "window.not_open"
    assert [e["type"] for e in hall.events(seq)] == ["window.updated"]
    window = hall.client.get(f"{API}/windows/{hall.wid(1)}", headers=hall.auth("admin")).json()
    assert window["current"]["id"] == a["id"] and window["current"]["status"] == "called"
