"""Station sync through a real TCP fault proxy (tests/support/netfault.py) between a station
server (SQLite) and the city server: a refused, reset, black-holed and slow link, the city or the
station killed mid-batch, a station clock 10 minutes off, a restored backup, a second machine with
the same identity and a revoked credential (the offline day has its own module,
test_sync_offline_day.py, so the two run on parallel workers).

Every server is a real `hall-server serve` process; the station's HALL_PARENT_URL is the proxy.
Where the city's database matters (applying what a cut, repeated or killed push left) the city
runs on PostgreSQL and on SQLite; the pure link faults run on a SQLite city. A city serves a test
module; each test takes a village hall (and its station) of its own.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from hall_server.const import DEFAULT_TIMEZONE
from tests.fixtures.server import HallServerFactory, hall_servers
from tests.hall_server.sync_harness import (
    City,
    Net,
    Station,
    assert_same_records,
    assert_same_stats,
    city_counts,
    copy_sqlite,
    open_net,
    start_city,
    stream_counts,
    wait_caught_up,
)
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

VILLAGES = 12  # one per test using the city, with room to spare
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def servers() -> Iterator[HallServerFactory]:
    with hall_servers() as factory:
        yield factory


@pytest.fixture(scope="module")
def sqlite_city(servers: HallServerFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    city = start_city(servers, tmp_path_factory.mktemp("city-sqlite"), "sqlite", villages=VILLAGES)
    yield city
    city.close()


@pytest.fixture(scope="module")
def pg_city(
    servers: HallServerFactory, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[City]:
    pg = request.getfixturevalue("pg_server")
    city = start_city(servers, tmp_path_factory.mktemp("city-pg"), "postgres", pg, villages=VILLAGES)
    yield city
    city.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_city(request: pytest.FixtureRequest) -> City:
    """The city on SQLite, then on PostgreSQL."""
    return request.getfixturevalue("pg_city" if request.param == "postgres" else "sqlite_city")


@pytest.fixture
def net(servers: HallServerFactory, sqlite_city: City, tmp_path: Path) -> Iterator[Net]:
    """Link faults: the SQLite city."""
    yield from open_net(servers, sqlite_city, tmp_path)


@pytest.fixture
def any_net(servers: HallServerFactory, any_city: City, tmp_path: Path) -> Iterator[Net]:
    """Faults whose outcome the city's database decides: SQLite and PostgreSQL."""
    yield from open_net(servers, any_city, tmp_path)


@pytest.fixture
def pg_net(servers: HallServerFactory, pg_city: City, tmp_path: Path) -> Iterator[Net]:
    yield from open_net(servers, pg_city, tmp_path)


def _backlog(net: Net, st: Station, tickets: int) -> dict[str, Any]:
    """Refuse the link, serve tickets at the station until they wait; the city's counts then."""
    net.proxy.refuse()
    st.serve_some(tickets)
    wait_until(lambda: st.link()["state"] == "down", 20, message="the station sees the link down")
    return city_counts(st)


def _acked(st: Station) -> dict[str, int]:
    """The station's acknowledged seq per stream (its durable checkpoint)."""
    with st.engine.connect() as conn:
        return {str(k): int(v) for k, v in conn.execute(text("SELECT hall_id, acked_seq FROM sync_acks"))}


def _applied_not_acked(st: Station) -> bool:
    """The city has events of the hall beyond what the station holds acknowledged."""
    return stream_counts(st.city.engine, st.hall)["max"] > _acked(st)[st.hall]


def _epoch(st: Station) -> str:
    return str(st.state().epoch)


# --- 1. refused ---------------------------------------------------------------------------------
def test_refused_link_station_serves_then_catches_up(net: Net) -> None:
    st = net.station()
    st.serve_some(2)
    wait_caught_up(st)
    before = city_counts(st)
    net.proxy.refuse()
    st.serve_some(6)  # issue, call, start, finish, rate: all at the station, none needs the city
    link = wait_until(
        lambda: (lk := st.link())["state"] == "down" and lk["waiting"] > 0 and lk,
        20,
        message="/sync/link down with what waits",
    )
    assert link["error_code"] == "sync.unreachable" and link["message"] and link["message_en"]
    assert link["waiting"] >= 6 * 3, link  # every ticket left at least issued, called, closed
    assert city_counts(st) == before
    net.proxy.restore()
    wait_caught_up(st)
    assert len(assert_same_records(st)["tickets"]) == 8
    # The city's view of the station (what it reported with its last push) follows within a round.
    row = wait_until(
        lambda: (r := net.city.station_row(st.village.station_id))["waiting"] == 0 and r,
        10,
        message="the city's station list shows nothing waiting",
    )
    assert row["conflict"] is None and not row["silent"] and not row["revoked"]
    assert_same_stats(st)


# --- 2. reset mid-batch -------------------------------------------------------------------------
CUTS = (
    ("up", 120),  # inside the request line and headers: no push gets through
    ("up", 900),  # just after the headers: the body's first bytes
    ("up", 12_000),  # in the middle of the body: smaller pushes get through the cut link
    ("down", 0),  # the city applied the batch, its answer is lost entirely
    ("down", 60),  # ... or cut inside the answer's headers
)


def test_reset_mid_batch_loses_and_duplicates_nothing(any_net: Net) -> None:
    """For each cut: a backlog goes up in pushes that the proxy resets after N bytes (the
    station retries, each retry cut again) until the link is restored; then the city holds each
    (hall, seq) once and exactly the station's tickets and ratings."""
    net = any_net
    st = net.station()
    for direction, after in CUTS:
        before = _backlog(net, st, 8)
        resets = net.proxy.stats.resets
        net.proxy.reset(after_bytes=after, direction=direction)
        wait_until(
            lambda r=resets: net.proxy.stats.resets >= r + 2, 30, message=f"two cuts {direction} {after}"
        )
        if after == 120:
            assert city_counts(st) == before, "a push cut inside its headers was applied"
        elif after == 12_000:
            # The station halves its pushes until they fit through the cut link: it converges.
            wait_caught_up(st)
            assert net.proxy.stats.resets >= resets + 2
        elif direction == "down":
            # The city applied a push, the station never got the answer: nothing acknowledged.
            wait_until(lambda: _applied_not_acked(st), 30, message="a push applied, its answer lost")
        net.proxy.restore()
        wait_caught_up(st)
        assert_same_records(st)
    assert net.proxy.stats.resets >= 2 * len(CUTS)


# --- 3. black hole ------------------------------------------------------------------------------
def test_blackholed_link_rounds_end_and_kiosk_stays_fast(net: Net) -> None:
    timeout_s = 1.0
    st = net.station(sync_timeout_s=timeout_s)
    wait_caught_up(st)
    net.proxy.blackhole()
    t0 = time.monotonic()
    first = st.state().last_attempt_at
    slowest = 0.0
    for _ in range(10):
        t = time.monotonic()
        st.issue(timeout=5)
        slowest = max(slowest, time.monotonic() - t)
    link = wait_until(lambda: (lk := st.link())["state"] == "down" and lk, 10, message="link down")
    took = time.monotonic() - t0
    assert "Timeout" in (link["message_en"] or "") or link["error_code"] == "sync.unreachable", link
    # A round ends after one request timeout (plus the round's own work), never hangs.
    assert took < timeout_s * 2 + 4, f"the round took {took:.1f} s with a {timeout_s} s timeout"
    # And the loop goes on: further rounds start and end while the hole lasts.
    attempts = {first}

    def more_rounds() -> bool:
        attempts.add(st.state().last_attempt_at)
        return len(attempts) >= 3

    wait_until(more_rounds, 20, message="two more rounds ended in the black hole")
    assert slowest < 1.0, f"a kiosk request took {slowest:.2f} s while the link was black-holed"
    st.serve_some(3)
    net.proxy.restore()  # the held bytes of the abandoned requests reach the city now
    wait_caught_up(st)
    assert len(assert_same_records(st)["tickets"]) == 13


# --- 4. slow link -------------------------------------------------------------------------------
def test_slow_link_converges(net: Net) -> None:
    st = net.station()
    wait_caught_up(st)
    _backlog(net, st, 20)
    net.proxy.slow(latency_s=0.3, bytes_per_s=48_000)
    st.serve_some(3)
    wait_caught_up(st, 120)
    assert_same_records(st)


# --- 5. the city killed mid-batch ---------------------------------------------------------------
def test_city_killed_mid_push_converges_exactly_once(any_net: Net) -> None:
    net = any_net
    st = net.station()
    before = _backlog(net, st, 25)
    up = net.proxy.stats.bytes_up
    # A slow link holds the push in flight; the city dies while its body arrives.
    net.proxy.slow(bytes_per_s=20_000)
    wait_until(lambda: net.proxy.stats.bytes_up > up + 8_000, 30, message="a push in flight")
    net.city.server.kill()
    # Killed mid-push: the push in flight was not applied. (A first small batch, read while the
    # link was down and sent the moment it came back, may have been applied before the slow one.)
    applied = city_counts(st)["records"]["tickets"]
    assert len(applied) < len(before["records"]["tickets"]) + 25
    net.proxy.restore()
    st.serve_some(2)  # served while the city is down
    net.city.server.restart()
    wait_caught_up(st)
    assert len(assert_same_records(st)["tickets"]) == 27


# --- 6. the station killed -9 mid-sync ----------------------------------------------------------
def test_station_killed_mid_sync_converges_exactly_once(any_net: Net) -> None:
    """Killed while its push is in flight (not applied), then killed after the city applied a
    push whose answer it never got (applied, not acknowledged): restarted, it sends again and
    the city has everything once."""
    net = any_net
    st = net.station()
    before = _backlog(net, st, 15)
    up = net.proxy.stats.bytes_up
    # Slow enough that the push is far from through when the station dies (at 20 KB/s a loaded
    # machine killed it only after the whole push had reached the city).
    net.proxy.slow(bytes_per_s=2_000)
    wait_until(lambda: net.proxy.stats.bytes_up > up + 1_500, 30, message="a push in flight")
    st.server.kill()
    net.proxy.restore()
    # The push in flight was not applied (a first small batch sent as the link came back may be).
    assert len(city_counts(st)["records"]["tickets"]) < len(before["records"]["tickets"]) + 15
    st.server.restart()
    wait_caught_up(st)
    assert_same_records(st)

    _backlog(net, st, 10)
    net.proxy.reset(after_bytes=0, direction="down")
    wait_until(lambda: _applied_not_acked(st), 30, message="a push applied, its answer lost")
    st.server.kill()
    assert _applied_not_acked(st)
    net.proxy.restore()
    st.server.restart()
    wait_caught_up(st)
    assert len(assert_same_records(st)["tickets"]) == 25


# --- 7. the station's clock is off --------------------------------------------------------------
@pytest.mark.parametrize("offset_min", [-10, 10])
def test_station_clock_off_by_ten_minutes(net: Net, offset_min: int) -> None:
    """Order comes from the seq, the city shows the records with the station's times, and the
    lag figures stay sane (0 <= lag < a minute) on both sides."""
    st = net.station(clock_offset_s=offset_min * 60)
    wait_caught_up(st)
    net.proxy.refuse()
    st.serve_some(5)
    link = wait_until(lambda: (lk := st.link())["state"] == "down" and lk, 20, message="link down")
    assert 0 <= link["lag_s"] < 60, link
    net.proxy.restore()
    link = wait_caught_up(st)
    assert 0 <= link["lag_s"] < 60, link
    assert_same_records(st)  # seq for seq: the city's order is the station's
    row = wait_until(
        lambda: (r := net.city.station_row(st.village.station_id))["waiting"] == 0 and r,
        10,
        message="the city's station list shows nothing waiting",
    )
    assert row["lag_s"] is None or 0 <= row["lag_s"] < 60, row
    assert not row["silent"]
    # The city measures the station's clock from its push (sent_at against its receive time).
    assert row["clock_skew_s"] is not None and abs(row["clock_skew_s"] - offset_min * 60) < 30, row
    contact = datetime.fromisoformat(row["last_contact_at"])
    assert abs((datetime.now(UTC) - contact).total_seconds()) < 60, "the city's contact time is its own"
    # The tickets carry the station's clock: the city shows them as the station recorded them.
    with net.city.engine.connect() as conn:
        issued = conn.execute(
            text("SELECT max(issued_at) FROM tickets WHERE hall_id = :h"), {"h": st.hall}
        ).scalar()
    issued = issued if isinstance(issued, datetime) else datetime.fromisoformat(str(issued))
    issued = issued if issued.tzinfo else issued.replace(tzinfo=UTC)
    skew = (issued - datetime.now(UTC)).total_seconds()
    assert abs(skew - offset_min * 60) < 90, (
        f"issued {skew:.0f} s from now, the clock is {offset_min} min off"
    )
    with net.city.engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM tickets WHERE hall_id = :h"), {"h": st.hall}).scalar()
    assert count == 5
    # The city's "today" list holds them when the station's day is the city's day (within ten
    # minutes of the hall's midnight the station's slow or fast clock puts them on the other day).
    hall_tz = ZoneInfo(DEFAULT_TIMEZONE)
    if issued.astimezone(hall_tz).date() == datetime.now(hall_tz).date():
        r = net.city.get(f"/halls/{st.hall}/tickets")
        assert r.status_code == 200 and len(r.json()) == 5, r.text


# --- 8. restored from an older backup -----------------------------------------------------------
@pytest.mark.postgres
def test_restored_backup_is_refused_not_merged(pg_net: Net) -> None:
    net = pg_net
    st = net.station()
    st.serve_some(3)
    wait_caught_up(st)
    st.server.stop()
    backup = net.root / "backup" / "station.sqlite3"
    copy_sqlite(st.db_path, backup)
    st.server.start()
    st.serve_some(3)
    wait_caught_up(st)
    st.server.stop()
    before = city_counts(st)
    copy_sqlite(backup, st.db_path)
    st.server.start()
    link = wait_until(lambda: (lk := st.link())["state"] == "rewound" and lk, 30, message="rewound")
    assert link["error_code"] == "sync.rewound" and CJK.search(link["message"] or ""), link
    st.serve_some(2)  # the restored station serves; its new records collide with what the city has
    wait_until(
        lambda: st.link()["waiting"] > 0 and st.link()["state"] == "rewound", 20, message="still refused"
    )
    first = st.state().last_attempt_at
    wait_until(lambda: st.state().last_attempt_at != first, 20, message="another round refused")
    assert st.link()["state"] == "rewound"
    assert city_counts(st) == before, "a restored backup's records were merged"
    assert net.city.station_row(st.village.station_id)["conflict"] == "rewound"


# --- 9. two machines, one identity --------------------------------------------------------------
@pytest.mark.postgres
def test_second_machine_with_same_identity_is_refused(pg_net: Net) -> None:
    net = pg_net
    first = net.station()
    first.serve_some(3)
    wait_caught_up(first)
    second = net.station(name="second", village=first.village, wait_first_round=False)
    # Its database has the station's number and halls from the bundle, so its first round pushes
    # (refused) before it pulls: it never gets the city's configuration, and with it no tokens to
    # ask its /sync/link with. Its recorded link state is what it would show.
    state = wait_until(
        lambda: (s := second.state()) is not None and s.link_state == "epoch_conflict" and s,
        40,
        message="epoch conflict",
    )
    assert state.error_code == "sync.epoch_changed", state
    first.serve_some(2)
    wait_caught_up(first)
    assert len(assert_same_records(first)["tickets"]) == 5
    assert second.state().link_state == "epoch_conflict"
    assert net.city.station_row(first.village.station_id)["epoch"] == _epoch(first)


# --- 10. revoked --------------------------------------------------------------------------------
def test_revoked_station_is_refused_and_shows_it(net: Net) -> None:
    st = net.station()
    st.serve_some(2)
    wait_caught_up(st)
    net.city.cli("station", "revoke", st.village.station_id)
    before = city_counts(st)
    link = wait_until(lambda: (lk := st.link())["state"] == "revoked" and lk, 30, message="revoked")
    assert link["error_code"] == "sync.revoked"
    assert CJK.search(link["message"] or ""), f"the village screen's message is not Chinese: {link}"
    assert link["message_en"] and not CJK.search(link["message_en"])
    st.serve_some(2)  # the station keeps serving
    first = st.state().last_attempt_at
    wait_until(lambda: st.state().last_attempt_at != first, 20, message="another round refused")
    assert st.link()["state"] == "revoked" and st.link()["waiting"] > 0
    assert city_counts(st) == before
    assert net.city.station_row(st.village.station_id)["revoked"] is True
    listed = [ln for ln in net.city.cli("station", "list").splitlines() if st.village.station_id in ln]
    assert listed and '"revoked": true' in listed[0]
