"""Station sync operations (docs/deployment.md): the data key at `station add` and `station setup`,
`station reset` re-attaching a re-installed station, `station remove` handing a revoked station's
halls to a replacement, and the hall a station names itself by. A real parent server
(subprocess) and real stations (in-process apps with their sync threads), as in test_sync_station."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient
from sqlalchemy import select

from hall_server import audit
from hall_server.app import create_app
from hall_server.catalog import Catalog
from hall_server.chain import genesis
from hall_server.cli import main as cli_main
from hall_server.config import Settings
from hall_server.context import ServerContext
from hall_server.db.engine import Database
from hall_server.db.models import HallSeq
from hall_server.db.models import Station as StationRow
from hall_server.migrate import upgrade
from hall_server.seed import seed
from hall_server.services import stations
from tests.hall_server import test_sync_station
from tests.hall_server.test_sync_station import (
    API,
    KEY,
    STATION,
    VILLAGE,
    City,
    Station,
    _fake_events,
    _h,
    city_data,
    events_of,
    link_state,
    run_station,
    synced,
    wait_until,
)

OTHER_KEY = "ff" * 32
city = test_sync_station.city  # the parent server fixture, with a station registered for VILLAGE


@pytest.fixture(autouse=True)
def _no_hall_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HALL_"):
            monkeypatch.delenv(name)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@contextmanager
def station_app(
    city: City, data_dir: Path, station_id: str, bundle_path: Path, tokens: dict[str, str]
) -> Iterator[Station]:
    """A station app with its own identity (run_station is the fixture's station)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    db_path = data_dir / "station.sqlite3"
    settings = Settings(
        data_dir=data_dir,
        db_url=f"sqlite:///{db_path}",
        data_key=KEY,
        pool_size=3,
        parent_url=city.server.base_url,
        station_id=station_id,
        station_credential_file=bundle_path,
        sync_seconds=0.2,
        sync_timeout_s=2,
        worker_seconds=0,
        audit_verify_seconds=0,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        yield Station(client, app.state.ctx, db_path, dict(tokens))


def _head(db: Database, stream: str) -> tuple[int, str | None, int]:
    with db.read() as s:
        r = s.execute(
            select(HallSeq.last_seq, HallSeq.last_hash, HallSeq.chain_start).where(HallSeq.hall_id == stream)
        ).one()
    return int(r.last_seq), r.last_hash, int(r.chain_start)


def _chains_ok(db: Database) -> None:
    for stream in (VILLAGE, "audit:" + VILLAGE):
        (verdict,) = audit.verify_all(db, stream)
        assert verdict.ok, verdict
    # The periodic pass, from where it stood before (a re-base must not read as a break).
    assert all(v.ok for v in audit.periodic_verify(db) if v.hall_id in (VILLAGE, "audit:" + VILLAGE))


# --- 1. the data key at the station -----------------------------------------------------------------
def test_setup_takes_the_bundles_data_key_and_refuses_without_one(
    city: City, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = city.bundle_path  # made without --with-data-key
    setup = ["station", "setup", "--parent", city.server.base_url, "--id", STATION]
    # Neither a key given nor one in the bundle: refused before anything is made.
    bare = tmp_path / "bare"
    code, _, err = _cli(capsys, *setup, "--credential-file", str(plain), "--data-dir", str(bare))
    assert code == 2 and "no data key" in err, err
    assert not (bare / "data.key").exists() and not (bare / "hall.sqlite3").exists()

    with_key = tmp_path / "bundle-key.json"
    with_key.write_text(json.dumps({**city.bundle, "data_key": KEY}))
    # A key given that is not the bundle's: refused.
    other = tmp_path / "other.key"
    other.write_text(OTHER_KEY + "\n")
    code, _, err = _cli(
        capsys,
        *setup,
        "--credential-file",
        str(with_key),
        "--data-dir",
        str(tmp_path / "wrong"),
        "--data-key-file",
        str(other),
    )
    assert code == 2 and "not the city's key" in err, err
    assert not (tmp_path / "wrong" / "data.key").exists()

    # No key given, the bundle carries the city's: written as the station's key file (0600).
    data_dir = tmp_path / "station"
    code, out, err = _cli(capsys, *setup, "--credential-file", str(with_key), "--data-dir", str(data_dir))
    assert code == 0, err
    answer = json.loads(out.splitlines()[-1])
    key_file = data_dir / "data.key"
    assert answer["link"] == "ok" and answer["env"]["HALL_DATA_KEY_FILE"] == str(key_file.resolve())
    assert key_file.read_text().strip() == KEY
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Served with the city's key, the database is accepted (the same key was recorded) ...
    settings = Settings(data_dir=data_dir, data_key_file=key_file, pool_size=1)
    ctx = ServerContext.create(settings)
    try:
        # ... and the station is known by its own hall, not the city's top hall (zeroconf advert).
        hall = Catalog(ctx.db).main_hall()
        assert hall is not None and hall.id == VILLAGE
    finally:
        ctx.close()
    # Setting up again (the first sync failed, say) finds the same key there.
    code, out, err = _cli(capsys, *setup, "--credential-file", str(with_key), "--data-dir", str(data_dir))
    assert code == 0, err


# --- 2. the data key at the city ----------------------------------------------------------------------
def test_add_with_data_key_bundles_only_the_databases_recorded_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'city.sqlite3'}"
    upgrade(url)
    fresh_url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    upgrade(fresh_url)
    ctx = ServerContext.create(Settings(data_dir=tmp_path / "city", db_url=url, data_key=KEY, pool_size=1))
    try:
        seed(ctx.db, city_data())
    finally:
        ctx.close()
    out = tmp_path / "bundle.json"
    add = ["station", "add", STATION, "--halls", VILLAGE, "--with-data-key", "--out", str(out)]
    elsewhere = tmp_path / "elsewhere"

    def registered() -> bool:
        db = Database(url, pool_size=1)
        try:
            with db.read() as s:
                return s.execute(select(StationRow.id)).first() is not None
        finally:
            db.dispose()

    # Outside the city's data folder and settings: no key is made, nothing registered.
    code, _, err = _cli(capsys, *add, "--db", url, "--data-dir", str(elsewhere))
    assert code == 2 and "no data key to bundle" in err, err
    assert not (elsewhere / "data.key").exists() and not out.exists() and not registered()
    # Another key than the database's: refused.
    other = tmp_path / "other.key"
    other.write_text(OTHER_KEY + "\n")
    code, _, err = _cli(
        capsys, *add, "--db", url, "--data-dir", str(elsewhere), "--data-key-file", str(other)
    )
    assert code == 2 and "not the key of this database" in err, err
    assert not registered()
    # A database no server has recorded a key with yet: refused too.
    code, _, err = _cli(
        capsys, *add, "--db", fresh_url, "--data-dir", str(elsewhere), "--data-key-file", str(other)
    )
    assert code == 2 and "records no data key" in err, err
    # The city's key: bundled.
    good = tmp_path / "city.key"
    good.write_text(KEY + "\n")
    code, printed, err = _cli(
        capsys, *add, "--db", url, "--data-dir", str(elsewhere), "--data-key-file", str(good)
    )
    assert code == 0, err
    assert json.loads(printed)["bundle"] == str(out)
    assert json.loads(out.read_text())["data_key"] == KEY
    assert not (elsewhere / "data.key").exists()


# --- 3. station reset re-attaches a re-installed station; a restored backup stays refused ------------
def test_reset_reattaches_a_reinstalled_station_but_not_a_restored_backup(
    city: City, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with run_station(city, tmp_path / "a") as st:
        wait_until(lambda: synced(st), what="first round")
        # The station is known by its own hall (its configuration holds the city's halls above it).
        health = st.client.get(f"{API}/health").json()
        assert health["hall_id"] == VILLAGE, health
        tickets = [st.issue()]
        wait_until(lambda: synced(st), what="first ticket up")
        backup = tmp_path / "backup.sqlite3"
        with sqlite3.connect(st.db_path) as src, sqlite3.connect(backup) as dst:
            src.backup(dst)
        tickets += [st.issue(), st.issue()]
        wait_until(lambda: synced(st), what="more tickets up")
    city_db = city.db()
    try:
        applied, head, _ = _head(city_db, VILLAGE)
        assert head is not None
        audit.periodic_verify(city_db)  # the verification state stands at the head
        # The machine is re-installed: a fresh database, a new epoch. Refused until the reset ...
        with run_station(city, tmp_path / "b") as fresh:
            wait_until(lambda: link_state(fresh) == "epoch_conflict", what="epoch conflict")
            # ... which re-bases the streams at what the city applied; the station goes on after it.
            code, out, err = _cli(
                capsys, "station", "reset", STATION, "--db", city.url, "--data-dir", str(tmp_path)
            )
            assert code == 0, err
            assert set(json.loads(out)["rebased"]) == {VILLAGE, "audit:" + VILLAGE}
            assert _head(city_db, VILLAGE) == (applied, None, applied)
            wait_until(lambda: synced(fresh), what="re-attached")
            later = fresh.issue()
            wait_until(lambda: synced(fresh), what="the new station's ticket up")
            mine = events_of(fresh.ctx.db, VILLAGE)
            assert mine[0][0] == applied + 1
            assert events_of(city_db, VILLAGE, applied) == mine
        with city_db.read() as s:
            assert (
                s.execute(select(HallSeq.last_seq).where(HallSeq.hall_id == VILLAGE)).scalar() == mine[-1][0]
            )
        _chains_ok(city_db)
        # The new database drew its ids and numbers after the old one's (the pull's floors): the
        # old station's tickets are at the city unchanged, the new one's beside them.
        assert later["id"] > max(t["id"] for t in tickets)
        assert later["number"] not in {t["number"] for t in tickets}
        for ticket in [*tickets, later]:
            r = city.get(f"/tickets/{ticket['id']}")
            assert r.status_code == 200 and r.json()["number"] == ticket["number"], r.text
        after = events_of(city_db, VILLAGE)

        # The old database restored from a backup: another epoch (refused), and after a reset
        # (wrongly judged a re-install) its log is behind the city's: rewound, never merged.
        restored = tmp_path / "c" / "station"
        restored.mkdir(parents=True)
        shutil.copyfile(backup, restored / "station.sqlite3")
        with run_station(city, tmp_path / "c") as old:
            wait_until(lambda: old.link()["state"] == "epoch_conflict", what="the old epoch refused")
            assert (
                _cli(capsys, "station", "reset", STATION, "--db", city.url, "--data-dir", str(tmp_path))[0]
                == 0
            )
            wait_until(lambda: old.link()["state"] == "rewound", what="rewound")
            old.issue()
            wait_until(
                lambda: old.link()["state"] == "rewound" and old.link()["waiting"] > 0, what="kept back"
            )
        assert city.station()["conflict"] == "rewound"
        assert events_of(city_db, VILLAGE) == after
    finally:
        city_db.dispose()


def test_a_rebased_stream_takes_only_events_linking_to_its_genesis(city: City) -> None:
    """After a reset the city's chain restarts at the applied seq: an old database that goes on
    with its own chain (not a re-install) is refused as rewound; the genesis link is accepted."""
    cred = _h(city.bundle["credential"])
    base = requests.get(city.api + "/sync/pull", headers=cred, timeout=30).json()["bases"][VILLAGE]

    def push(events: list[dict[str, Any]], epoch: str) -> requests.Response:
        body = {"station_id": STATION, "epoch": epoch, "events": events}
        return requests.post(city.api + "/sync/push", json=body, headers=cred, timeout=30)

    assert push(_fake_events(base, [base + 1, base + 2]), "e" * 32).status_code == 200
    db = city.db()
    try:
        stations.reset_station(db, STATION)
    finally:
        db.dispose()
    pull = requests.get(city.api + "/sync/pull", headers=cred, timeout=30).json()
    assert pull["bases"][VILLAGE] == base + 2  # where a fresh database continues
    old = _fake_events(base, [base + 3])  # links to its own seq base + 2
    r = push(old, "e" * 32)
    assert r.status_code == 409 and r.json()["error"]["code"] == "sync.rewound", r.text
    fresh = _fake_events(base, [base + 3])
    fresh[0]["prev_hash"] = genesis(VILLAGE, base + 2)
    r = push(fresh, "f" * 32)
    assert r.status_code == 200 and r.json()["applied"][VILLAGE] == base + 3, r.text


# --- 4. a replacement station takes over a revoked station's halls ------------------------------------
def test_remove_frees_a_revoked_stations_halls_for_a_replacement(
    city: City, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with run_station(city, tmp_path / "a") as st:
        wait_until(lambda: synced(st), what="first round")
        old_ticket = st.issue()
        wait_until(lambda: synced(st), what="the ticket up")
    common = ["--db", city.url, "--data-dir", str(tmp_path / "city-cli")]
    code, _, err = _cli(capsys, "station", "remove", STATION, *common)
    assert code == 2 and "revoke it first" in err, err
    assert _cli(capsys, "station", "revoke", STATION, *common)[0] == 0
    new_id = "st-village-2"
    bundle2 = tmp_path / "bundle2.json"
    add = ["station", "add", new_id, "--halls", VILLAGE, "--out", str(bundle2), *common]
    code, _, err = _cli(capsys, *add)
    assert code == 2 and "station remove" in err, err  # station.hall_taken says how to free it
    code, out, err = _cli(capsys, "station", "remove", STATION, *common)
    assert code == 0 and json.loads(out) == {"removed": STATION, "halls": [VILLAGE]}, err
    code, out, err = _cli(capsys, *add)
    assert code == 0, err
    bundle = json.loads(bundle2.read_text())
    assert bundle["station_no"] == city.bundle["station_no"] + 1  # the old number is never reused
    city_db = city.db()
    try:
        applied, _, _ = _head(city_db, VILLAGE)
        with station_app(city, tmp_path / "b", new_id, bundle2, city.tokens) as st2:
            wait_until(lambda: synced(st2), what="the replacement's first round")
            assert st2.client.get(f"{API}/health").json()["hall_id"] == VILLAGE
            ticket = st2.issue()
            assert ticket["id"] >= bundle["station_no"] * 10**10
            assert ticket["number"] != old_ticket["number"]  # the day's numbers go on after the old one's
            wait_until(lambda: synced(st2), what="the replacement's ticket up")
            mine = events_of(st2.ctx.db, VILLAGE)
            assert mine[0][0] == applied + 1 and events_of(city_db, VILLAGE, applied) == mine
        _chains_ok(city_db)
        # What the revoked station sent stays; the list shows it revoked without halls.
        assert city.get(f"/tickets/{old_ticket['id']}").status_code == 200
        rows = {r["id"]: r for r in city.get("/stations").json()["stations"]}
        assert rows[STATION]["revoked"] and rows[STATION]["halls"] == []
        assert rows[new_id]["halls"] == [VILLAGE] and rows[new_id]["applied"][VILLAGE] == mine[-1][0]
    finally:
        city_db.dispose()
