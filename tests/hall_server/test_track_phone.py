"""The phone ticket page's API: where to go, the number called now, and cancelling by the holder."""

from __future__ import annotations

from tests.hall_server.conftest import API, Hall, error_code
from tests.hall_server.hs_city import CITY


def track(hall: Hall, token: str) -> dict:
    r = hall.client.get(f"{API}/track/{token}")
    assert r.status_code == 200, r.text
    return r.json()


def test_the_page_says_which_windows_serve_the_queue_and_what_is_called_now(hall: Hall) -> None:
    a = hall.ok_issue("S-A1")
    b = hall.ok_issue("S-B1")
    mine = track(hall, a["track_token"])
    # Queue A is served at windows 1 and 2: one range; queue B at windows 1 and 3: two.
    assert (mine["go_windows"], mine["go_to"], mine["go_to_en"]) == ([1, 2], "1–2号窗口", "windows 1–2")
    other = track(hall, b["track_token"])
    assert (other["go_windows"], other["go_to"]) == ([1, 3], "1、3号窗口")
    assert mine["now_serving"] is None
    # A closed window is not where anyone is sent while another serves the queue.
    hall.ok(2, "close")
    assert track(hall, a["track_token"])["go_to"] == "1号窗口"
    # Window 3 calls the B ticket: its holder is sent to that window, and it is the number called now.
    hall.ok(3, "call-next")
    called = track(hall, b["track_token"])
    assert (called["go_windows"], called["go_to"], called["now_serving"]) == ([3], "3号窗口", b["number"])
    # The number called in another queue is not the A holder's "now serving".
    assert track(hall, a["track_token"])["now_serving"] is None


def test_windows_of_one_zone_are_named_with_it_on_the_phone_page(hall: Hall) -> None:
    manager = hall.auth("m-city")
    for number, zone in ((1, "B区"), (2, "B区"), (3, "C区")):
        r = hall.client.put(f"{API}/windows/{hall.wid(number)}/zone", json={"zone": zone}, headers=manager)
        assert r.status_code == 200 and r.json()["zone"] == zone, r.text
    a = hall.ok_issue("S-A1")
    b = hall.ok_issue("S-B1")
    # Queue A (windows 1 and 2, both in B区) is sent to the zone; queue B spans two zones: numbers only.
    mine = track(hall, a["track_token"])
    assert (mine["go_to"], mine["go_to_en"]) == ("B区1–2号窗口", "windows 1–2, zone B区")
    assert track(hall, b["track_token"])["go_to"] == "1、3号窗口"
    # Called at window 3: its own window, in its zone.
    hall.ok(3, "call-next")
    assert track(hall, b["track_token"])["go_to"] == "C区3号窗口"
    # The visitor kiosk reads the same zones from the hall (and says the same sentence).
    windows = {w["number"]: w["zone"] for w in hall.client.get(f"{API}/halls/{CITY}").json()["windows"]}
    assert windows == {1: "B区", 2: "B区", 3: "C区"}


def test_the_holder_cancels_once_and_again_gets_the_same_answer(hall: Hall) -> None:
    first = hall.ok_issue("S-A1")
    mine = hall.ok_issue("S-A1")
    since = hall.last_seq()
    assert track(hall, mine["track_token"])["people_ahead"] == 1
    r = hall.client.post(f"{API}/track/{mine['track_token']}/cancel")
    assert r.status_code == 200, r.text
    gone = r.json()
    assert gone["status"] == "cancelled" and gone["go_windows"] == [] and gone["go_to"] is None
    # The ticket left the queue: the clerk calls the one before, then nobody; the displays heard it.
    events = [e for e in hall.events(since) if e["type"] == "ticket.cancelled"]
    assert [e["payload"]["ticket"]["id"] for e in events] == [mine["id"]]
    assert events[0]["payload"]["ticket"]["track_token"] is None
    assert hall.ok(1, "call-next")["id"] == first["id"]
    # Idempotent: a second tap answers the same and announces nothing new.
    again = hall.client.post(f"{API}/track/{mine['track_token']}/cancel")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    assert len([e for e in hall.events(since) if e["type"] == "ticket.cancelled"]) == 1


def test_a_called_ticket_or_an_unknown_link_cannot_be_cancelled(hall: Hall) -> None:
    t = hall.ok_issue("S-A1")
    hall.ok(1, "call-next")
    r = hall.client.post(f"{API}/track/{t['track_token']}/cancel")
    assert r.status_code == 409 and error_code(r) == "ticket.illegal_transition"
    assert "不能执行" in r.json()["error"]["message"]
    assert track(hall, t["track_token"])["status"] == "called"
    r = hall.client.post(f"{API}/track/no-such-token/cancel")
    assert r.status_code == 404 and error_code(r) == "ticket.unknown"
    r = hall.client.post(f"{API}/track/{'x' * 41}/cancel")
    assert r.status_code == 422
    assert hall.ticket(t["id"])["hall_id"] == CITY
