"""Issue 9: the audit chain finds deleted, altered and reordered records; the app role cannot rewrite."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from hall_server import audit
from hall_server.const import EV_TICKET_EXPIRED, PG_EVENTS_PER_APPEND
from hall_server.db.engine import normalise_url
from hall_server.events import stage_event
from tests.fixtures.server import REPO_ROOT, _env, cli_command
from tests.hall_server.conftest import API, Hall
from tests.hall_server.hs_city import CITY


def _verify_cli(hall: Hall, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli_command(), "audit", "verify", *extra],
        cwd=REPO_ROOT,
        env=_env(hall.db_url, hall.data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _sql(hall: Hall, *statements: str) -> None:
    engine = create_engine(normalise_url(hall.db_url))
    try:
        with engine.begin() as conn:
            for stmt in statements:
                conn.execute(text(stmt))
    finally:
        engine.dispose()


def _busy_hall(hall: Hall) -> int:
    for _ in range(4):
        hall.ok_issue("S-A1")
    hall.ok(1, "call-next")
    return hall.last_seq()


def _verdict(proc: subprocess.CompletedProcess[str], hall_id: str = CITY) -> dict[str, Any]:
    for line in proc.stdout.splitlines():
        doc = json.loads(line)
        if doc["hall_id"] == hall_id:
            return doc
    raise AssertionError(proc.stdout + proc.stderr)


def test_an_untouched_chain_verifies(hall: Hall) -> None:
    _busy_hall(hall)
    proc = _verify_cli(hall)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _verdict(proc)["ok"] is True and _verdict(proc)["checked"] >= 5


def test_verify_finds_a_deleted_record(hall: Hall) -> None:
    last = _busy_hall(hall)
    _sql(hall, f"DELETE FROM events WHERE hall_id = '{CITY}' AND seq = {last - 2}")
    proc = _verify_cli(hall, "--hall", CITY)
    assert proc.returncode == 1
    v = _verdict(proc)
    assert v["ok"] is False and v["broken_seq"] == last - 2 and v["problem"].startswith("deleted")
    assert f"seq {last - 2}" in proc.stderr


def test_verify_finds_the_newest_record_deleted(hall: Hall) -> None:
    last = _busy_hall(hall)
    _sql(hall, f"DELETE FROM events WHERE hall_id = '{CITY}' AND seq = {last}")
    proc = _verify_cli(hall, "--hall", CITY)
    assert proc.returncode == 1
    assert _verdict(proc)["broken_seq"] == last and _verdict(proc)["problem"].startswith("deleted")


def test_verify_finds_an_altered_record(hall: Hall) -> None:
    last = _busy_hall(hall)
    _sql(
        hall,
        f"UPDATE events SET actor_id = 'someone-else' WHERE hall_id = '{CITY}' AND seq = {last - 1}",
    )
    proc = _verify_cli(hall, "--hall", CITY)
    assert proc.returncode == 1
    v = _verdict(proc)
    assert v["broken_seq"] == last - 1 and v["problem"].startswith("altered")


def test_verify_finds_reordered_records(hall: Hall) -> None:
    last = _busy_hall(hall)
    a, b = last - 3, last - 2
    _sql(
        hall,
        f"UPDATE events SET seq = -1 WHERE hall_id = '{CITY}' AND seq = {a}",
        f"UPDATE events SET seq = {a} WHERE hall_id = '{CITY}' AND seq = {b}",
        f"UPDATE events SET seq = {b} WHERE hall_id = '{CITY}' AND seq = -1",
    )
    proc = _verify_cli(hall, "--hall", CITY)
    assert proc.returncode == 1
    v = _verdict(proc)
    assert v["broken_seq"] == a and v["problem"].startswith("reordered")


def test_batched_events_chain_and_periodic_state(hall: Hall) -> None:
    """Events staged in one transaction (batch append) chain too; the pass stores its verdict."""
    _busy_hall(hall)
    started = hall.ok(1, "start")
    hall.ok(
        1,
        "next",
        close="finish",
        ticket_id=started["current"]["id"] if "current" in started else started["id"],
    )
    hall.ok(2, "call-next")
    verdicts = audit.periodic_verify(hall.ctx.db)
    assert all(v.ok for v in verdicts), verdicts
    r = hall.client.get(f"{API}/audit/status", headers=hall.auth("admin"))
    assert r.status_code == 200, r.text
    city = next(c for c in r.json()["chains"] if c["hall_id"] == CITY)
    assert city["ok"] is True and city["verified_seq"] == hall.last_seq()
    assert hall.client.get(f"{API}/audit/status", headers=hall.auth(f"display:{CITY}")).status_code == 403
    # Tampering with a record verified before: the full pass (at start and daily) finds it,
    # and the status shows where.
    _sql(hall, f"UPDATE events SET payload = '{{}}' WHERE hall_id = '{CITY}' AND seq = 2")
    hall.ok(2, "start")
    audit.periodic_verify(hall.ctx.db, full=True)
    r = hall.client.get(f"{API}/audit/status", headers=hall.auth("m-city"))
    city = next(c for c in r.json()["chains"] if c["hall_id"] == CITY)
    assert r.json()["ok"] is False
    assert city["ok"] is False and city["broken_seq"] == 2 and city["problem"].startswith("altered")
    # And it stays broken on later passes (they restart from the genesis of a broken chain).
    audit.periodic_verify(hall.ctx.db)
    r = hall.client.get(f"{API}/audit/status", headers=hall.auth("m-city"))
    assert next(c for c in r.json()["chains"] if c["hall_id"] == CITY)["broken_seq"] == 2


@pytest.mark.postgres
def test_app_role_cannot_delete_events(pg_server: Any, tmp_path: Path) -> None:
    """As the role `db grant-app-role` creates, INSERT and SELECT work, DELETE and UPDATE fail."""
    import uuid

    import psycopg

    from hall_server.migrate import upgrade

    name = pg_server.create_database(f"role_{uuid.uuid4().hex[:8]}")
    url = pg_server.url(name)
    role = f"hall_app_{uuid.uuid4().hex[:6]}"
    try:
        upgrade(url)
        proc = subprocess.run(
            [*cli_command(), "db", "grant-app-role", "--role", role, "--password", "pw'x:1"],
            cwd=REPO_ROOT,
            env=_env(url, tmp_path / "data"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        with psycopg.connect(
            host=pg_server.host,
            port=pg_server.port,
            dbname=name,
            user=role,
            password="pw'x:1",
            autocommit=True,
        ) as conn:
            conn.execute(
                "INSERT INTO events (hall_id, seq, type, at, actor_kind, payload) "
                "VALUES ('h', 1, 't', now(), 'system', '{}')"
            )
            assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM events")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("UPDATE events SET payload = '{}'")
            conn.execute("UPDATE hall_seq SET last_seq = last_seq")  # ordinary tables stay writable
        # The server works as that role: chained appends (the head trigger included), the key
        # fingerprint, the periodic verification's state.
        from urllib.parse import quote

        from hall_server.context import check_key_fingerprint
        from hall_server.db.engine import Database
        from hall_server.events import append_event

        secret = quote("pw'x:1", safe="")
        db = Database(
            f"postgresql+psycopg://{role}:{secret}@{pg_server.host}:{pg_server.port}/{name}", pool_size=2
        )
        try:
            check_key_fingerprint(db, "hmac-sha256:test")
            for _ in range(3):
                with db.write() as s:
                    append_event(s, "h3", "ticket.issued", {})
                    audit.record(s, "audit.login", None, hall_id="h3", source="127.0.0.1")
            assert all(v.ok for v in audit.periodic_verify(db))
        finally:
            db.dispose()
    finally:
        pg_server.drop_database(name)
        with pg_server.connect() as conn:
            conn.execute(f"DROP ROLE IF EXISTS {role}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on SQLite or PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


def test_rows_from_before_the_chain_get_a_genesis(empty_url: str) -> None:
    """Events written before migration 0008 are left unchained; the chain starts after them."""
    from hall_server.db.engine import Database
    from hall_server.events import append_event
    from hall_server.migrate import upgrade

    upgrade(empty_url, "0007")
    old = [
        f"INSERT INTO events (hall_id, seq, type, at, actor_kind, payload) "
        f"VALUES ('h1', {n}, 'ticket.issued', '2026-11-01 08:00:0{n}', 'system', '{{}}')"
        for n in (1, 2, 3)
    ]
    engine = create_engine(normalise_url(empty_url))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO hall_seq (hall_id, last_seq) VALUES ('h1', 3)"))
        for stmt in old:
            conn.execute(text(stmt))
    engine.dispose()
    upgrade(empty_url)
    db = Database(empty_url, pool_size=2)
    try:
        v = audit.verify_all(db, "h1")[0]
        assert v.ok and v.checked == 0 and v.last_seq == 3
        for _ in range(3):
            with db.write() as s:
                append_event(s, "h1", "ticket.issued", {"n": 1})
        v = audit.verify_all(db, "h1")[0]
        assert v.ok and v.checked == 3 and v.last_seq == 6
        # The pre-chain rows are outside the chain; the chained ones are guarded.
        with db.write() as s:
            s.execute(text("DELETE FROM events WHERE hall_id = 'h1' AND seq = 5"))
        v = audit.verify_all(db, "h1")[0]
        assert not v.ok and v.broken_seq == 5
    finally:
        db.dispose()


def test_migration_0008_goes_down_and_up_again(empty_url: str) -> None:
    """The chain's migration undoes cleanly on both databases (triggers included) and reapplies."""
    from hall_server.db.engine import Database
    from hall_server.events import append_event
    from hall_server.migrate import current_revision, upgrade

    upgrade(empty_url)
    engine = create_engine(normalise_url(empty_url))
    try:
        from alembic import command

        from hall_server.migrate import alembic_config

        command.downgrade(alembic_config(empty_url), "0007")
        assert current_revision(empty_url) == "0007"
        with engine.begin() as conn:  # the pre-chain schema takes plain rows again
            conn.execute(text("INSERT INTO hall_seq (hall_id, last_seq) VALUES ('h2', 1)"))
            conn.execute(
                text(
                    "INSERT INTO events (hall_id, seq, type, at, actor_kind, payload) "
                    "VALUES ('h2', 1, 't', '2026-12-01 00:00:00', 'system', '{}')"
                )
            )
    finally:
        engine.dispose()
    upgrade(empty_url)
    db = Database(empty_url, pool_size=2)
    try:
        with db.write() as s:
            append_event(s, "h2", "ticket.issued", {})
        v = audit.verify_all(db, "h2")[0]
        assert v.ok and v.checked == 1 and v.last_seq == 2
    finally:
        db.dispose()


def test_a_batch_longer_than_one_append_chains_across_statements(hall: Hall) -> None:
    """A day end's many staged events: PostgreSQL writes them in several statements; seqs and chain run on."""
    before = _busy_hall(hall)
    count = 2 * PG_EVENTS_PER_APPEND + 3
    with hall.ctx.db.tx() as tx:
        for n in range(count):
            stage_event(tx, CITY, EV_TICKET_EXPIRED, {"n": n})
    ours = [e for e in hall.events(before) if e["type"] == EV_TICKET_EXPIRED]
    assert [e["seq"] for e in ours] == list(range(before + 1, before + count + 1))
    assert [e["payload"]["n"] for e in ours] == list(range(count))
    verdicts = audit.periodic_verify(hall.ctx.db)
    assert all(v.ok for v in verdicts), verdicts
