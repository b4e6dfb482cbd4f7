"""The hall-server command line: migrations, seeding, `serve --demo` in a real process, zeroconf."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from hall_server.cli import main as cli_main
from hall_server.db import models
from hall_server.migrate import alembic_config, current_revision, head_revision, upgrade

REPO = Path(__file__).resolve().parents[2]
CORE_TABLES = {
    m.__tablename__ for m in vars(models).values() if isinstance(m, type) and hasattr(m, "__tablename__")
}


def test_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    upgrade(url)
    upgrade(url)  # idempotent
    assert current_revision(url) is not None
    engine = create_engine(url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    engine.dispose()
    # Only the core tables: other modules ship their own migrations for theirs.
    mine = [d for d in diffs if _table_of(d) in CORE_TABLES and not _other_dialect_only(d, "sqlite")]
    assert mine == []


def test_each_migration_says_which_revision_it_follows() -> None:
    """The docstring's "Revises:" is the down_revision Alembic follows (merges renumber chains)."""
    from alembic.script import ScriptDirectory

    for script in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions():
        said = re.search(r"^Revises: *(\S*)$", script.module.__doc__ or "", re.M)
        assert said is not None, script.revision
        assert said.group(1) == (script.down_revision or ""), (script.revision, said.group(1))


def test_quick_head_check_agrees_with_alembic_and_still_upgrades_an_old_database(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    # The head that serve compares with before skipping Alembic is Alembic's own head.
    assert head_revision() == ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    upgrade(url, "0016")
    assert current_revision(url) == "0016"
    upgrade(url)  # behind head: the quick check must not skip the upgrade
    assert current_revision(url) == head_revision()


_UPGRADE_IN_A_FRESH_PROCESS = """
import sys
from hall_server.migrate import current_revision, upgrade
upgrade(sys.argv[1])
loaded = "alembic" in sys.modules
print(loaded, current_revision(sys.argv[1]))
"""


def _upgrade_in_a_fresh_process(url: str) -> tuple[bool, str]:
    """upgrade(url) as `serve` runs it at start, in a new interpreter: (Alembic loaded?, revision after)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", _UPGRADE_IN_A_FRESH_PROCESS, url],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    return out[0] == "True", out[1]


def test_start_on_a_database_at_head_never_loads_alembic_and_one_behind_is_migrated(tmp_path: Path) -> None:
    """The start-up check skips Alembic only when the recorded revision is the head itself."""
    from alembic.script import ScriptDirectory

    url = f"sqlite:///{tmp_path / 'behind.sqlite3'}"
    head = ScriptDirectory.from_config(alembic_config(url)).get_revision(head_revision())
    previous = head.down_revision
    assert isinstance(previous, str)
    upgrade(url, previous)
    # One revision behind: Alembic runs and the last migration is applied.
    assert _upgrade_in_a_fresh_process(url) == (True, head.revision)
    # At head: one SELECT of alembic_version, no Alembic (nor its scripts) imported.
    assert _upgrade_in_a_fresh_process(url) == (False, head.revision)


def _other_dialect_only(diff: object, dialect: str) -> bool:
    """An index the models create only on another database (Index.ddl_if(dialect=...))."""
    if not (isinstance(diff, tuple) and diff and diff[0] == "add_index"):
        return False
    # Autogenerate hands over a copy without the condition: look the model's index up by name.
    table = models.Base.metadata.tables.get(diff[1].table.name)
    index = next((i for i in (table.indexes if table is not None else ()) if i.name == diff[1].name), None)
    cond = getattr(index, "_ddl_if", None)
    return cond is not None and cond.dialect is not None and cond.dialect != dialect


def _table_of(diff: object) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:] if isinstance(item, tuple) else ():
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None:
            return table.name
        if isinstance(part, str) and part in CORE_TABLES:
            return part
        if name in CORE_TABLES:
            return name
    return None


def test_migrate_and_seed_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert cli_main(["migrate", "--data-dir", str(data)]) == 0
    assert (data / "hall.sqlite3").exists()
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "halls": [
                    {
                        "id": "x",
                        "name": "x",
                        "level": "city",
                        "groups": [{"prefix": "A", "name": "a", "services": ["NOPE"]}],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    assert cli_main(["seed", str(bad), "--data-dir", str(data)]) == 2
    assert "NOPE" in capsys.readouterr().err
    from tests.hall_server.hs_city import tiny_city

    good = tmp_path / "city.json"
    good.write_text(json.dumps(tiny_city(), ensure_ascii=False), encoding="utf-8")
    assert cli_main(["seed", str(good), "--data-dir", str(data)]) == 0
    counts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert counts == {"services": 4, "halls": 2, "groups": 3, "windows": 4, "users": 7}
    assert cli_main(["seed", str(good), "--data-dir", str(data)]) == 0  # again: updates, no duplicates


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(180)
def test_serve_demo_prints_tokens_and_advertises(tmp_path: Path) -> None:
    port = _free_port()
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("HALL_DB_URL", None)
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hall_server.cli",
            "serve",
            "--demo",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data),
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")
            try:
                if requests.get(base + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        tokens_file = data / "demo-tokens.json"
        assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
        assert stat.S_IMODE((data / "data.key").stat().st_mode) == 0o600
        tokens = json.loads(tokens_file.read_text(encoding="utf-8"))
        printed = (tmp_path / "serve.log").read_text(errors="replace")
        city = tokens["halls"]["bz-city"]
        assert city["kiosk"] in printed and city["display"] and city["rating"]["token"]
        assert {"bz-city", "bz-tj-nsh-qs"} <= set(tokens["halls"]) and tokens["admins"] and tokens["managers"]
        # The demo hall takes tickets at any hour and a demo clerk can call them.
        kiosk = {"Authorization": f"Bearer {city['kiosk']}"}
        services = requests.get(f"{base}/halls/bz-city/services", timeout=10).json()
        r = requests.post(
            f"{base}/halls/bz-city/tickets",
            json={"service_code": services[0]["code"]},
            headers=kiosk,
            timeout=10,
        )
        assert r.status_code == 201, r.text
        clerk = next(c for c in city["clerks"] if c["window_id"])
        login = requests.post(
            f"{base}/auth/login",
            json={
                "username": clerk["username"],
                "password": clerk["password"],
                "window_id": clerk["window_id"],
            },
            timeout=30,
        )
        assert login.status_code == 200
        _browse_for(port, "bz-city")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def test_advertising_runs_beside_the_server_and_stops_with_it() -> None:
    """The announcement is made from a thread (zeroconf probes for seconds) and names the hall it reads."""
    from hall_server.advertise import Advertiser

    port = _free_port()
    released = threading.Event()

    def main_hall() -> tuple[str | None, str]:
        # Named only if the caller went on before this returned: a start that blocked the
        # server's start-up would announce "blocked" and not be found below.
        return ("bg-hall" if released.wait(10) else "blocked"), "后台大厅"

    adv = Advertiser(hall_id=None, hall_name="hall-server", host="127.0.0.1", port=port)
    adv.start_in_background(main_hall)
    released.set()
    try:
        _browse_for(port, "bg-hall")
    finally:
        adv.stop()
    # Stopped while a registration is still probing: stop() waits for it and leaves nothing open.
    late = Advertiser(hall_id="h", hall_name="h", host="127.0.0.1", port=_free_port())
    late.start_in_background()
    late.stop()
    assert late._zc is None


def _browse_for(port: int, hall: str) -> None:
    from zeroconf import ServiceBrowser, ServiceListener, Zeroconf

    found: list[dict[str, str]] = []

    class Listener(ServiceListener):
        def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
            info = zc.get_service_info(type_, name, timeout=3000)
            if info is not None and info.port == port:
                found.append({k.decode(): (v or b"").decode() for k, v in info.properties.items()})

        def update_service(self, zc: Zeroconf, type_: str, name: str) -> None:
            pass

        def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None:
            pass

    zc = Zeroconf(interfaces=["127.0.0.1"])
    try:
        browser = ServiceBrowser(zc, "_hall._tcp.local.", Listener())
        deadline = time.monotonic() + 20
        while not found and time.monotonic() < deadline:
            time.sleep(0.1)
        browser.cancel()
    finally:
        zc.close()
    assert found, "the server was not found by zeroconf on loopback"
    assert found[0]["hall"] == hall and found[0]["api"] == "/api/v1" and found[0]["version"]


def test_database_down_answers_503_with_a_typed_error(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from hall_server.app import create_app
    from hall_server.config import Settings

    # Nothing listens on this port: every request finds the database unreachable.
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/nowhere"
    app = create_app(Settings(data_dir=tmp_path / "data", db_url=url), migrate=False)
    with TestClient(app) as client:
        r = client.post(
            "/api/v1/halls/x/tickets", json={"service_code": "S"}, headers={"Authorization": "Bearer t"}
        )
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "server.unavailable"
        assert r.json()["error"]["message"] == "数据库暂时不可用，请稍后重试"
        assert r.headers["retry-after"] == "1"


@pytest.mark.timeout(180)
def test_serve_with_two_workers_shares_numbers_and_events(tmp_path: Path) -> None:
    """`serve --workers 2` on SQLite: both processes answer, number without gaps, and a
    subscriber of one process receives the events the other one wrote (the SQLite poll)."""
    from tests.hall_server.hs_city import tiny_city

    data = tmp_path / "data"
    city = tmp_path / "city.json"
    city.write_text(json.dumps(tiny_city(), ensure_ascii=False), encoding="utf-8")
    assert cli_main(["seed", str(city), "--data-dir", str(data)]) == 0
    assert cli_main(["token", "create", "--role", "kiosk", "--hall", "t-city", "--data-dir", str(data)]) == 0
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("HALL_DB_URL", None)
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hall_server.cli",
            "serve",
            "--workers",
            "2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--no-zeroconf",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        pids: set[int] = set()
        deadline = time.monotonic() + 120
        while len(pids) < 2:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")
            assert time.monotonic() < deadline, f"saw only workers {pids}"
            try:
                pids.add(requests.get(base + "/health", timeout=2).json()["pid"])
            except requests.RequestException:
                time.sleep(0.2)
        token = _kiosk_token(data)
        asyncio.run(_issue_while_subscribed(port, base, token))
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=10)
        log.close()


def _kiosk_token(data: Path) -> str:
    # Make a second kiosk token through the library (the CLI printed the first one to stdout).
    from hall_server.auth import create_token
    from hall_server.db.engine import Database

    db = Database(f"sqlite:///{(data / 'hall.sqlite3').resolve()}", pool_size=1)
    try:
        with db.write() as s:
            return create_token(s, "kiosk", hall_id="t-city")[1]
    finally:
        db.dispose()


async def _issue_while_subscribed(port: int, base: str, token: str) -> None:
    import websockets

    url = f"ws://127.0.0.1:{port}/api/v1/halls/t-city/events/ws?since=0"
    auth = {"Authorization": f"Bearer {token}"}
    async with websockets.connect(url, open_timeout=20, additional_headers=auth) as ws:
        # Fresh connections each time, so both workers take some of them.
        numbers = []
        for _ in range(12):
            r = await asyncio.to_thread(
                requests.post,
                f"{base}/halls/t-city/tickets",
                json={"service_code": "S-A1"},
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
                timeout=20,
            )
            assert r.status_code == 201, r.text
            numbers.append(r.json()["number"])
        assert numbers == [f"A{i:03d}" for i in range(1, 13)]
        got: list[dict] = []
        while len([e for e in got if e["type"] == "ticket.issued"]) < 12:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=20)))
    seqs = [e["seq"] for e in got]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert [e["payload"]["ticket"]["number"] for e in got if e["type"] == "ticket.issued"] == numbers
