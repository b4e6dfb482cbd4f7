"""Two server instances on one database: events written by one reach the other's subscribers.

Each instance has its own bus, so this runs the cross-process path: PostgreSQL LISTEN/NOTIFY,
or the SQLite poll of the per-hall counters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hall_server.app import create_app
from hall_server.config import Settings
from tests.hall_server.conftest import API, Hall
from tests.hall_server.hs_city import CITY

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def second(hall: Hall) -> Iterator[TestClient]:
    """Another app on the same database and data key."""
    app = create_app(Settings(data_dir=hall.data_dir, db_url=hall.db_url, pool_size=5), migrate=False)
    with TestClient(app) as client:
        yield client


def test_events_from_another_server_reach_subscribers_in_order(hall: Hall, second: TestClient) -> None:
    start = hall.last_seq()
    kiosk = hall.auth(f"kiosk:{CITY}")
    url = f"{API}/halls/{CITY}/events/ws?since={start}"
    with second.websocket_connect(url, headers=hall.auth(f"display:{CITY}")) as ws:
        numbers = []
        for i in range(6):
            # Alternate writers: the subscriber's own server and the other one.
            client = hall.client if i % 2 == 0 else second
            r = client.post(f"{API}/halls/{CITY}/tickets", json={"service_code": "S-A1"}, headers=kiosk)
            assert r.status_code == 201
            numbers.append(r.json()["number"])
        got = [json.loads(ws.receive_text()) for _ in range(6)]
    assert [e["seq"] for e in got] == list(range(start + 1, start + 7))
    assert [e["payload"]["ticket"]["number"] for e in got] == numbers == [f"A{i:03d}" for i in range(1, 7)]


def test_both_servers_share_numbering_and_calls(hall: Hall, second: TestClient) -> None:
    kiosk = hall.auth(f"kiosk:{CITY}")
    for client in (hall.client, second, hall.client):
        assert (
            client.post(
                f"{API}/halls/{CITY}/tickets", json={"service_code": "S-A1"}, headers=kiosk
            ).status_code
            == 201
        )
    a = hall.client.post(
        f"{API}/windows/{hall.wid(1)}/call-next", headers=hall.auth(f"clerk:{CITY}:1")
    ).json()
    b = second.post(f"{API}/windows/{hall.wid(2)}/call-next", headers=hall.auth(f"clerk:{CITY}:2")).json()
    assert {a["number"], b["number"]} == {"A001", "A002"}
