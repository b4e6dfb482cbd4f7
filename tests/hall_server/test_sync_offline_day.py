"""The offline day (issue 11): a village station's link to the city is down for a day's work,
5,000 tickets issued, called, served or missed and rated; back up, the city has every record once.

The same real parts as tests/hall_server/test_sync_netfault.py (a `hall-server serve` station on
SQLite behind a TCP fault proxy, the city on PostgreSQL), in a module of its own: it is the
suite's longest test, and `--dist loadfile` runs it beside the other fault tests, not after them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.server import HallServerFactory, hall_servers
from tests.hall_server.sync_harness import (
    City,
    LocalDesk,
    Net,
    assert_same_records,
    assert_same_stats,
    city_counts,
    open_net,
    start_city,
    wait_caught_up,
    work_the_queue,
)
from tests.support.waiting import wait_until

OFFLINE_TICKETS = 5000


@pytest.fixture(scope="module")
def servers() -> Iterator[HallServerFactory]:
    with hall_servers() as factory:
        yield factory


@pytest.fixture(scope="module")
def pg_city(
    servers: HallServerFactory, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[City]:
    pg = request.getfixturevalue("pg_server")
    city = start_city(servers, tmp_path_factory.mktemp("city-pg"), "postgres", pg, villages=1)
    yield city
    city.close()


@pytest.fixture
def pg_net(servers: HallServerFactory, pg_city: City, tmp_path: Path) -> Iterator[Net]:
    yield from open_net(servers, pg_city, tmp_path)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(1200)
def test_offline_day_catches_up_exactly(pg_net: Net) -> None:
    """The link is down for a day's work: 5,000 tickets issued, called, served or missed, a
    third of the served rated; back up, the city has every record once and the same totals.
    On the city's real database only (the SQLite city's apply is covered by the fault tests).

    The day is worked through the station's own use cases in this process, on its database,
    while its server runs with the link down (LocalDesk): the capture triggers record it as they
    record a request's work, and the server sends it up. Over HTTP the day alone took 2-4
    minutes of the suite's time; the HTTP paths of issue, 下一位 and rating are tested at the
    station by the fault tests and everywhere else."""
    net = pg_net
    # The production timeout is 5 s; a loaded 2-core test machine's city needs more per batch.
    st = net.station(sync_timeout_s=10)
    wait_caught_up(st)
    before = city_counts(st)
    net.proxy.refuse()
    t0 = time.monotonic()
    with LocalDesk.open(st) as desk:
        work_the_queue(desk, OFFLINE_TICKETS, chunk=25)  # the queue stays short, as over a day
    served_s = time.monotonic() - t0
    link = wait_until(
        lambda: (lk := st.link())["state"] == "down" and lk["waiting"] > OFFLINE_TICKETS * 3 and lk,
        30,
        message="the station shows the link down and the day's records waiting",
    )
    assert link["error_code"] == "sync.unreachable", link
    assert city_counts(st) == before
    net.proxy.restore()
    t1 = time.monotonic()
    wait_caught_up(st, 400)
    caught_s = time.monotonic() - t1
    rec = assert_same_records(st)
    assert len(rec["tickets"]) == OFFLINE_TICKETS
    assert rec["served"] == OFFLINE_TICKETS - OFFLINE_TICKETS // 10 and rec["calls"] == OFFLINE_TICKETS
    assert len(rec["ratings"]) == sum(1 for n in range(1, OFFLINE_TICKETS + 1) if n % 3 == 0 and n % 10)
    assert_same_stats(st)
    print(f"offline day: served in {served_s:.1f} s, caught up in {caught_s:.1f} s")
