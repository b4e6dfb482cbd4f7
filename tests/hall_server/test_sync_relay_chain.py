"""A relay behind a relay: city (PostgreSQL) <- township 1 <- township 2 <- village (all SQLite).

Four real `hall-server serve` processes, each link through its own fault proxy. The village
serves with the middle link down, then its records reach the city through both townships
exactly once, seq for seq and hash for hash (the city's verifier checks the village's chain);
the city's tokens and revocations flow down two levels; a village's document photo climbs both
relays to the county's manager at the city.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from hall_server.auth import create_token, revoke_token
from hall_server.db.engine import Database
from tests.fixtures.server import HallServerFactory
from tests.hall_server.sync_harness import (
    City,
    Station,
    assert_same_records,
    bearer,
    document_blob,
    login,
    noise_jpeg,
    records,
    station_chain,
    stream_events,
    wait_caught_up,
    wait_photo,
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
def chain(
    servers: HallServerFactory, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Chain]:
    pg = request.getfixturevalue("pg_server")
    # Village 3's station reaches the city through village 2's, which reaches it through village 1's;
    # the village's first round needs the city's tokens for its hall: they came down two levels.
    root = tmp_path_factory.mktemp("relay-chain")
    with station_chain(servers, root, pg, ["town1", "town2", "village"]) as (city, stations, proxies):
        town1, town2, village = stations
        yield Chain(city, town1, town2, village, proxies[1])


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
            lambda: village.token_status(fresh) == 200,
            60,
            message="a token made at the city reaches the village through two townships",
        )
        # ... and its revocation stops it there.
        with db.write() as s:
            assert revoke_token(s, int(token_id))
        wait_until(
            lambda: village.token_status(fresh) == 401,
            60,
            message="the city's revocation reaches the village through two townships",
        )
    finally:
        db.dispose()


def test_a_village_photo_climbs_both_townships_to_the_city(chain: Chain) -> None:
    city, village = chain.city, chain.village
    data = noise_jpeg(11)
    _ticket, doc = village.keep_photo(data)
    manager = login(city.server.api, "m-county")
    got = wait_photo(
        city.server.api, doc, manager, 90, "the village's photo reaches the city through both townships"
    )
    assert got.content == data
    mine = document_blob(village.engine, doc)
    assert mine
    for st in (chain.town2, chain.town1):
        assert document_blob(st.engine, doc) == mine, "each township keeps the photo as the village stored it"


def test_a_village_staff_call_is_an_alert_at_the_city(chain: Chain) -> None:
    """呼叫工作人员 at the village's kiosk: the city's dashboard lists it among the hall's alerts,
    answered at the station (the city may not acknowledge it); the village's acknowledgement
    takes it off the city's alerts."""
    city, village = chain.city, chain.village
    call_id = uuid.uuid4().hex
    r = village.http.post(
        f"{village.server.api}/halls/{village.hall}/staff-calls",
        json={"call_id": call_id},
        headers=bearer(village.tokens["kiosk"]),
        timeout=10,
    )
    assert r.status_code == 201, r.text
    manager = login(city.server.api, "m-county")

    def city_calls() -> list[dict]:
        got = requests.get(
            f"{city.server.api}/halls/{village.hall}/alerts", headers=bearer(manager), timeout=10
        )
        assert got.status_code == 200, got.text
        return [a for a in got.json() if a["code"] == "staff.call"]

    calls = wait_until(city_calls, 60, message="the village's staff call reaches the city's alerts")
    assert [c["detail"]["call_id"] for c in calls] == [call_id]
    assert calls[0]["detail"]["at_station"] is True and "呼叫工作人员" in calls[0]["message"]
    # One writer per record: the station's floor staff answer it.
    r = requests.post(
        f"{city.server.api}/staff-calls/{call_id}/acknowledge", headers=bearer(manager), timeout=10
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "staff_call.at_station", r.text
    r = village.http.post(
        f"{village.server.api}/staff-calls/{call_id}/acknowledge",
        headers=bearer(village.manager_token()),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    wait_until(lambda: city_calls() == [], 60, message="the village's acknowledgement reaches the city")
