"""The event stream: gap-free seq per hall, GET since, WebSocket replay then live, no gaps or repeats."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.hall_server.conftest import API, Hall
from tests.hall_server.hs_city import CITY, COUNTY

# A WebSocket read has no timeout of its own: never let a lost event hang the suite.
pytestmark = pytest.mark.timeout(90)


def _ws_url(hall_id: str, since: int | None = None) -> str:
    url = f"{API}/halls/{hall_id}/events/ws"
    return url if since is None else f"{url}?since={since}"


def _ws(client: Any, hall_id: str, token: str, since: int | None = None) -> Any:
    """The event socket of a hall, authenticated by the header (as kiosks do)."""
    return client.websocket_connect(_ws_url(hall_id, since), headers={"Authorization": f"Bearer {token}"})


def _read(ws: Any, n: int) -> list[dict[str, Any]]:
    return [json.loads(ws.receive_text()) for _ in range(n)]


def test_seq_is_per_hall_and_gap_free(hall: Hall) -> None:
    city0, county0 = hall.last_seq(CITY), hall.last_seq(COUNTY)
    hall.ok_issue("S-A1")
    hall.ok_issue("S-A1", who=f"kiosk:{COUNTY}", hall=COUNTY)
    hall.ok_issue("S-B1")
    assert [e["seq"] for e in hall.events(city0)] == [city0 + 1, city0 + 2]
    assert [e["seq"] for e in hall.events(county0, COUNTY)] == [county0 + 1]
    all_city = [e["seq"] for e in hall.events(0)]
    assert all_city == list(range(1, len(all_city) + 1))
    r = hall.client.get(
        f"{API}/halls/{CITY}/events", params={"since": city0, "limit": 1}, headers=hall.auth("admin")
    )
    assert [e["seq"] for e in r.json()] == [city0 + 1]
    ev = hall.events(city0)[0]
    assert set(ev) == {"seq", "hall_id", "type", "at", "actor", "payload"}
    assert ev["actor"]["kind"] == "device" and ev["type"] == "ticket.issued"


def test_websocket_replays_what_was_missed_then_goes_live(hall: Hall) -> None:
    token = hall.tokens[f"display:{CITY}"]
    start = hall.last_seq()
    hall.ok_issue("S-A1")
    with _ws(hall.client, CITY, token, since=start) as ws:
        first = _read(ws, 1)
        assert first[0]["seq"] == start + 1 and first[0]["type"] == "ticket.issued"
        hall.ok_issue("S-A1")  # live
        live = _read(ws, 1)
        assert live[0]["seq"] == start + 2
    last_seen = start + 2
    # Disconnected: three more things happen.
    hall.ok_issue("S-B1")
    hall.ok(1, "call-next")
    hall.ok(1, "recall")
    with _ws(hall.client, CITY, token, since=last_seen) as ws:
        missed = _read(ws, 3)
        assert [e["seq"] for e in missed] == [last_seen + 1, last_seen + 2, last_seen + 3]
        assert [e["type"] for e in missed] == ["ticket.issued", "ticket.called", "ticket.recalled"]
        hall.ok(1, "start")
        nxt = _read(ws, 1)[0]
        assert nxt["seq"] == last_seen + 4 and nxt["type"] == "ticket.started"


def test_websocket_without_since_is_live_only(hall: Hall) -> None:
    hall.ok_issue("S-A1")
    with _ws(hall.client, CITY, hall.tokens[f"kiosk:{CITY}"]) as ws:
        t = hall.ok_issue("S-A2")
        ev = json.loads(ws.receive_text())
        assert ev["payload"]["ticket"]["id"] == t["id"]


def test_websocket_refuses_bad_tokens_and_other_halls(hall: Hall) -> None:
    for hall_id, token, code, err in (
        (CITY, None, 4401, "auth.required"),
        (CITY, "garbage", 4401, "auth.invalid"),
        (CITY, hall.tokens[f"display:{COUNTY}"], 4403, "auth.wrong_hall"),
        ("no-hall", hall.tokens["admin"], 4404, "hall.unknown"),
    ):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with hall.client.websocket_connect(_ws_url(hall_id), headers=headers) as ws:
            body = json.loads(ws.receive_text())
            assert body["error"]["code"] == err
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_text()
            assert info.value.code == code


def test_concurrent_writers_reach_subscribers_in_order_without_gaps(hall: Hall) -> None:
    start = hall.last_seq()
    n_threads, per_thread = 4, 10
    errors: list[str] = []

    def kiosk() -> None:
        for _ in range(per_thread):
            r = hall.issue("S-A1")
            if r.status_code != 201:
                errors.append(r.text)

    with _ws(hall.client, CITY, hall.tokens[f"display:{CITY}"], since=start) as ws:
        threads = [threading.Thread(target=kiosk) for _ in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        got = _read(ws, n_threads * per_thread)
    assert not errors
    assert [e["seq"] for e in got] == list(range(start + 1, start + 1 + n_threads * per_thread))
    numbers = sorted(e["payload"]["ticket"]["number"] for e in got)
    assert numbers == [f"A{i:03d}" for i in range(1, n_threads * per_thread + 1)]


def test_events_carry_no_plain_personal_data(hall: Hall) -> None:
    from tests.hall_server.hs_city import ID_YOUNG

    start = hall.last_seq()
    hall.ok_issue("S-A1", identity={"id_number": ID_YOUNG, "name": "张三丰"})
    hall.ok(1, "call-next")
    text = json.dumps(hall.events(start), ensure_ascii=False)
    assert ID_YOUNG not in text and "张三丰" not in text
    assert "1101**********4565" in text and "张**" in text
