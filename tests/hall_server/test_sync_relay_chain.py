"""A relay behind a relay: city (PostgreSQL) <- township 1 <- township 2 <- village (all SQLite).

Four real `hall-server serve` processes, each link through its own fault proxy. The village
serves with the middle link down, then its records reach the city through both townships
exactly once, seq for seq and hash for hash (the city's verifier checks the village's chain);
the city's tokens and revocations flow down two levels; a village's document photo climbs both
relays to the county's manager at the city.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
import requests
from PIL import Image
from sqlalchemy import text

from hall_server.auth import create_token, revoke_token
from hall_server.db.engine import Database
from tests.fixtures.server import HOST, HallServerFactory, hall_servers
from tests.hall_server.hs_city import PASSWORD
from tests.hall_server.sync_harness import (
    City,
    Station,
    assert_same_records,
    records,
    start_city,
    start_station,
    stream_events,
    wait_caught_up,
)
from tests.support.netfault import FaultProxy
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.timeout(900), pytest.mark.postgres]


@dataclass
class Chain:
    """The city, township 1 (village 1's hall), township 2 (village 2's) and the village (3's)."""

    city: City
    town1: Station
    town2: Station
    village: Station
    middle: FaultProxy  # township 2 -> township 1


@pytest.fixture(scope="module")
def servers() -> Iterator[HallServerFactory]:
    with hall_servers() as factory:
        yield factory


@pytest.fixture(scope="module")
def chain(
    servers: HallServerFactory, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Chain]:
    pg = request.getfixturevalue("pg_server")
    root = tmp_path_factory.mktemp("relay-chain")
    # Village 3's station reaches the city through village 2's, which reaches it through village 1's.
    city = start_city(servers, root, "postgres", pg, villages=3, relays={2: 1, 3: 2})
    proxies = [FaultProxy(city.address).start()]
    town1 = start_station(servers, city, proxies[0].url, root, village=city.villages[0], name="town1")
    proxies.append(FaultProxy((HOST, town1.server.port)).start())
    town2 = start_station(servers, city, proxies[1].url, root, village=city.villages[1], name="town2")
    proxies.append(FaultProxy((HOST, town2.server.port)).start())
    # Its first round needs the city's tokens for its hall: they came down two levels.
    village = start_station(servers, city, proxies[2].url, root, village=city.villages[2], name="village")
    try:
        yield Chain(city, town1, town2, village, proxies[1])
    finally:
        for st in (village, town2, town1):
            st.server.kill()
            st.close()
        for p in proxies:
            p.close()
        city.close()


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_village_records_reach_the_city_through_two_townships_once_in_order(chain: Chain) -> None:
    city, town1, town2, village = chain.city, chain.town1, chain.town2, chain.village
    chain.middle.refuse()
    ids = village.serve_some(10)
    wait_caught_up(village)  # at township 2
    assert len(records(town2.engine, village.hall)["tickets"]) == 10
    assert records(town1.engine, village.hall)["tickets"] == []
    assert records(city.engine, village.hall)["tickets"] == []

    chain.middle.restore()
    wait_caught_up(town2)
    wait_caught_up(town1)
    mine = assert_same_records(village)  # each event once, seq for seq and hash for hash
    assert [t[0] for t in mine["tickets"]] == ids and mine["served"] > 0 and mine["ratings"]
    for st in (town1, town2):
        assert records(st.engine, village.hall) == mine
    # In the village's order: the city's seqs run 1..n without a gap, as the village wrote them.
    for stream in village.village.streams:
        seqs = [e[0] for e in stream_events(city.engine, stream)]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        done = city.server.cli("audit", "verify", "--hall", stream)
        verdict = json.loads(done.stdout.strip().splitlines()[-1])
        assert done.returncode == 0 and verdict["ok"], (stream, done.stdout, done.stderr)

    # The city's station list knows the village through township 2, and township 2 through 1.
    row = wait_until(
        lambda: (r := city.station_row(village.village.station_id))["last_contact_at"] and r,
        30,
        message="the city's station list shows the village's contact",
    )
    assert row["relay_id"] == town2.village.station_id and not row["silent"]
    assert city.station_row(town2.village.station_id)["relay_id"] == town1.village.station_id


def test_city_tokens_flow_down_two_levels(chain: Chain) -> None:
    city, village = chain.city, chain.village
    db = Database(city.url, pool_size=1)
    try:
        with db.write() as s:
            token_id, fresh = create_token(s, "display", hall_id=village.hall)
        # A token made at the city works at the village within a few rounds ...
        wait_until(
            lambda: (
                requests.get(f"{village.server.api}/sync/link", headers=_h(fresh), timeout=10).status_code
                == 200
            ),
            60,
            message="a token made at the city reaches the village through two townships",
        )
        # ... and its revocation stops it there.
        with db.write() as s:
            assert revoke_token(s, int(token_id))
        wait_until(
            lambda: (
                requests.get(f"{village.server.api}/sync/link", headers=_h(fresh), timeout=10).status_code
                == 401
            ),
            60,
            message="the city's revocation reaches the village through two townships",
        )
    finally:
        db.dispose()


def _login(api: str, username: str) -> str:
    r = requests.post(api + "/auth/login", json={"username": username, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def _photo() -> bytes:
    pixels = np.random.default_rng(11).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def test_a_village_photo_climbs_both_townships_to_the_city(chain: Chain) -> None:
    city, village = chain.city, chain.village
    village.login_clerk()
    village.issue()
    called = village.call_next()
    data = _photo()
    r = village.http.post(
        f"{village.server.api}/tickets/{called['id']}/documents",
        data=data,
        headers={**_h(village.clerk_token or ""), "Content-Type": "image/jpeg"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    doc = int(r.json()["id"])
    village.window_post("start")
    village.window_post("finish")
    manager = _login(city.server.api, "m-county")
    got = wait_until(
        lambda: (
            x
            if (
                x := requests.get(f"{city.server.api}/documents/{doc}", headers=_h(manager), timeout=10)
            ).status_code
            == 200
            else None
        ),
        90,
        message="the village's photo reaches the city through both townships",
    )
    assert got.content == data
    with village.engine.connect() as conn:
        mine = bytes(
            conn.execute(text("SELECT data_enc FROM ticket_documents WHERE id = :i"), {"i": doc}).scalar()
        )
    for st in (chain.town2, chain.town1):
        with st.engine.connect() as conn:
            theirs = conn.execute(
                text("SELECT data_enc FROM ticket_documents WHERE id = :i"), {"i": doc}
            ).scalar()
        assert bytes(theirs) == mine, "each township keeps the photo as the village stored it"


def test_a_village_staff_call_is_an_alert_at_the_city(chain: Chain) -> None:
    """呼叫工作人员 at the village's kiosk: the city's dashboard lists it among the hall's alerts,
    answered at the station (the city may not acknowledge it); the village's acknowledgement
    takes it off the city's alerts."""
    city, village = chain.city, chain.village
    call_id = uuid.uuid4().hex
    r = village.http.post(
        f"{village.server.api}/halls/{village.hall}/staff-calls",
        json={"call_id": call_id},
        headers=_h(village.tokens["kiosk"]),
        timeout=10,
    )
    assert r.status_code == 201, r.text
    manager = _login(city.server.api, "m-county")

    def city_calls() -> list[dict]:
        got = requests.get(f"{city.server.api}/halls/{village.hall}/alerts", headers=_h(manager), timeout=10)
        assert got.status_code == 200, got.text
        return [a for a in got.json() if a["code"] == "staff.call"]

    calls = wait_until(city_calls, 60, message="the village's staff call reaches the city's alerts")
    assert [c["detail"]["call_id"] for c in calls] == [call_id]
    assert calls[0]["detail"]["at_station"] is True and "呼叫工作人员" in calls[0]["message"]
    # One writer per record: the station's floor staff answer it.
    r = requests.post(f"{city.server.api}/staff-calls/{call_id}/acknowledge", headers=_h(manager), timeout=10)
    assert r.status_code == 409 and r.json()["error"]["code"] == "staff_call.at_station", r.text
    r = village.http.post(
        f"{village.server.api}/staff-calls/{call_id}/acknowledge",
        headers=_h(village.manager_token()),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    wait_until(lambda: city_calls() == [], 60, message="the village's acknowledgement reaches the city")
