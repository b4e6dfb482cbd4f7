"""A township relays for its village: city (PostgreSQL) <- township (SQLite) <- village (SQLite).

Three real `hall-server serve` processes; the village's HALL_PARENT_URL is the township's address
(through a fault proxy), the township's is the city's (through another). The village serves with
its links down, then catches up through the township: the city holds exactly the village's
records, seq for seq and hash for hash; the city's tokens and its revocation of the village flow
down through the township. Deletes of ticket documents flow up through it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from hall_server.auth import revoke_token
from hall_server.db.engine import Database
from hall_server.services import stations
from tests.fixtures.server import HallServerFactory
from tests.hall_server.sync_harness import (
    City,
    Station,
    assert_same_records,
    bearer,
    has_ticket,
    link_state,
    noise_jpeg,
    records,
    station_chain,
    wait_caught_up,
)
from tests.support.netfault import FaultProxy
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.timeout(300), pytest.mark.postgres]


@dataclass
class Relay:
    """The city, the township's station (village 1's hall) and the village's (village 2's hall)."""

    city: City
    township: Station
    village: Station
    up: FaultProxy  # township -> city
    down: FaultProxy  # village -> township


@pytest.fixture(scope="module")
def relay(
    servers: HallServerFactory, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Relay]:
    pg = request.getfixturevalue("pg_server")
    # Village 2's station reaches the city through village 1's (the township's) station.
    with station_chain(servers, tmp_path_factory.mktemp("relay"), pg, ["township", "village"]) as (
        city,
        (township, village),
        (up, down),
    ):
        yield Relay(city, township, village, up, down)


def test_village_records_reach_the_city_through_the_township_exactly_once(relay: Relay) -> None:
    city, township, village = relay.city, relay.township, relay.village
    # The village's streams travel up unchanged: the township registers them with the city's chain base.
    relay.up.refuse()
    relay.down.refuse()
    ids = village.serve_some(12)
    wait_until(lambda: village.link()["state"] == "down", 30, message="the village sees its link down")
    assert village.link()["waiting"] > 0
    assert records(city.engine, village.hall)["tickets"] == []

    # The village's link back, the township's still down: the township holds them, the city not yet.
    relay.down.restore()
    wait_caught_up(village)
    assert len(records(township.engine, village.hall)["tickets"]) == 12
    assert records(city.engine, village.hall)["tickets"] == []
    assert township.link()["waiting"] > 0, "the township shows the village's records waiting for the city"

    relay.up.restore()
    wait_caught_up(township)
    mine = assert_same_records(village)  # seq for seq, hash for hash, tickets and ratings alike
    assert len(mine["tickets"]) == 12 and mine["served"] > 0 and mine["ratings"]
    assert records(township.engine, village.hall) == mine

    # The city verifies the village's chain by its own verifier: the relayed log is intact there.
    for stream in village.village.streams:
        done = city.server.cli("audit", "verify", "--hall", stream)
        verdict = json.loads(done.stdout.strip().splitlines()[-1])
        assert done.returncode == 0 and verdict["ok"], (stream, done.stdout, done.stderr)

    # One record made later at the village reaches the city through the township.
    later = int(village.issue()["id"])
    assert later > max(ids)
    wait_until(lambda: has_ticket(city.engine, later), 60, message="the later ticket reaches the city")
    wait_caught_up(village)
    wait_caught_up(township)
    assert_same_records(village)

    # The city's station list shows the village through the township, with its contact as the
    # township recorded it (not silent), and the township itself.
    row = wait_until(
        lambda: (r := city.station_row(village.village.station_id))["last_contact_at"] and r,
        30,
        message="the city's station list shows the village's contact",
    )
    assert row["relay_id"] == township.village.station_id
    assert not row["silent"] and row["applied"][village.hall] > 0
    assert city.station_row(township.village.station_id)["relay_id"] is None


def test_city_tokens_and_revocation_flow_down_through_the_township(relay: Relay) -> None:
    city, township, village = relay.city, relay.township, relay.village
    # A device token the city revokes stops working at the village within a few rounds.
    display = village.tokens["display"]
    assert village.token_status(display) == 200
    db = Database(city.url, pool_size=1)
    try:
        with db.write() as s:
            token_id = s.execute(
                text("SELECT id FROM api_tokens WHERE hall_id = :h AND role = 'display'"), {"h": village.hall}
            ).scalar_one()
            assert revoke_token(s, int(token_id))
        wait_until(
            lambda: village.token_status(display) == 401,
            60,
            message="the city's revocation of a village token reaches the village through the township",
        )
        # The city owns the registry: revoking the village there refuses it at the township.
        stations.revoke_station(db, village.village.station_id)
    finally:
        db.dispose()
    wait_until(lambda: link_state(village) == "revoked", 60, message="the village is refused by the township")
    link = village.link()
    assert link["error_code"] == "sync.revoked" and link["message"], link
    # The township itself keeps syncing with the city.
    assert link_state(township) == "ok"


def _documents(engine: object, hall: str) -> list[int]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return [
            int(r[0])
            for r in conn.execute(
                text("SELECT id FROM ticket_documents WHERE hall_id = :h ORDER BY id"), {"h": hall}
            )
        ]


def test_a_deleted_document_is_deleted_at_the_township_and_the_city(relay: Relay, tmp_path: Path) -> None:
    """The township's own hall: a photo kept and then deleted at the station goes at the city too,
    once; a second photo kept meanwhile stays."""
    city, township = relay.city, relay.township
    relay.up.restore()
    wait_caught_up(township)
    township.issue()
    called = township.call_next()
    token = township.clerk_token
    assert token
    kept = []
    for n in range(2):
        buf = noise_jpeg(n, (64, 48))  # another photo each (the same bytes again is the same document)
        r = requests.post(
            f"{township.server.api}/tickets/{called['id']}/documents",
            data=buf,
            headers={**bearer(token), "Content-Type": "image/jpeg"},
            timeout=10,
        )
        assert r.status_code == 201, r.text
        kept.append(int(r.json()["id"]))
    wait_caught_up(township)
    assert _documents(city.engine, township.hall) == kept

    # Deleted at the station while its link is down: the city keeps it until the link is back.
    relay.up.refuse()
    r = requests.delete(
        f"{township.server.api}/documents/{kept[0]}", headers=bearer(township.manager_token()), timeout=10
    )
    assert r.status_code == 204, r.text
    assert _documents(township.engine, township.hall) == kept[1:]
    assert _documents(city.engine, township.hall) == kept
    relay.up.restore()
    wait_caught_up(township)
    assert _documents(city.engine, township.hall) == kept[1:]
