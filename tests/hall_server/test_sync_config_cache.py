"""The parent's configuration snapshot cache (sync/config_snapshot.py cached_snapshot): an idle
pull reuses the snapshot while the config generation (migration 0020's triggers) is unchanged,
and every change of the configuration, by any writer, is in the next pull. Real SQLite and
PostgreSQL databases, the real pull use case."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from hall_server.auth import create_token, revoke_token
from hall_server.config import Settings
from hall_server.context import ServerContext
from hall_server.db.models import Window
from hall_server.migrate import upgrade
from hall_server.seed import seed
from hall_server.services import sessions, stations
from hall_server.sync.protocol import CONFIG_TABLES
from tests.hall_server.hs_city import CITY, PASSWORD
from tests.hall_server.test_sync_station import KEY, STATION, VILLAGE, city_data


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def parent(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerContext, str]]:
    """A parent database (tiny city, a station for the village) and the station's credential."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'city.sqlite3'}"
        name = None
    else:
        pg = request.getfixturevalue("pg_server")
        name = pg.create_database(f"cfg_{uuid.uuid4().hex[:10]}")
        url = pg.url(name)
    upgrade(url)
    ctx = ServerContext.create(Settings(data_dir=tmp_path / "city", db_url=url, data_key=KEY))
    try:
        seed(ctx.db, city_data())
        bundle = stations.add_station(ctx.db, STATION, [VILLAGE], "测试村")
        yield ctx, bundle["credential"]
    finally:
        ctx.close()
        if name is not None:
            request.getfixturevalue("pg_server").drop_database(name)


def _pull(ctx: ServerContext, cred: str, version: str | None) -> dict[str, Any]:
    return stations.pull(ctx, cred, version, 0)


def _gen(ctx: ServerContext) -> int:
    with ctx.db.read() as s:
        return int(s.execute(text("SELECT gen FROM config_generation WHERE id = 1")).scalar_one())


def test_an_unchanged_configuration_is_not_sent_again(parent: tuple[ServerContext, str]) -> None:
    """Pulls with the current version get no configuration, and the version stays the same."""
    ctx, cred = parent
    first = _pull(ctx, cred, None)
    assert first["config"] is not None
    assert {r["id"] for r in first["config"]["halls"]} >= {VILLAGE}
    for _ in range(3):
        again = _pull(ctx, cred, first["config_version"])
        assert again["config_version"] == first["config_version"]
        assert again["config"] is None


def test_every_configuration_change_is_in_the_next_pull(parent: tuple[ServerContext, str]) -> None:
    """A renamed window, a revoked device token, a renamed service item, a new clerk: each shows
    in the very next pull (a new version with the change), whoever wrote it."""
    ctx, cred = parent
    version = _pull(ctx, cred, None)["config_version"]
    with ctx.db.read() as s:
        window = s.execute(select(Window.id).where(Window.hall_id == VILLAGE)).scalar_one()
    with ctx.db.write() as s:
        token_id = create_token(s, "kiosk", hall_id=VILLAGE)[0]
    after_token = _pull(ctx, cred, version)
    assert after_token["config"] is not None
    assert token_id in {r["id"] for r in after_token["config"]["api_tokens"]}
    version = after_token["config_version"]

    changes: list[tuple[str, Any]] = [
        ("UPDATE windows SET name = '便民窗口' WHERE id = :w", lambda c: _row(c, "windows", window)["name"]),
        (
            "UPDATE service_items SET name = '社保卡申领（新）' WHERE code = 'S-A1'",
            lambda c: next(r["name"] for r in c["service_items"] if r["code"] == "S-A1"),
        ),
        ("UPDATE halls SET phone = '0571-1234' WHERE id = :h", lambda c: _row(c, "halls", VILLAGE)["phone"]),
    ]
    expected = ["便民窗口", "社保卡申领（新）", "0571-1234"]
    for (sql, read), want in zip(changes, expected, strict=True):
        with ctx.db.write() as s:
            s.execute(text(sql), {"w": window, "h": VILLAGE})
        answer = _pull(ctx, cred, version)
        assert answer["config"] is not None, sql
        assert answer["config_version"] != version
        assert read(answer["config"]) == want
        version = answer["config_version"]

    with ctx.db.write() as s:
        assert revoke_token(s, int(token_id))
    answer = _pull(ctx, cred, version)
    assert answer["config"] is not None
    assert _row(answer["config"], "api_tokens", token_id)["revoked_at"] is not None


def test_operation_of_windows_and_token_use_leave_the_snapshot_alone(
    parent: tuple[ServerContext, str],
) -> None:
    """A window's status and clerk (every call writes them) and a token's last use do not make
    the parent rebuild the snapshot: the generation stays and the pull sends nothing."""
    ctx, cred = parent
    version = _pull(ctx, cred, None)["config_version"]
    gen = _gen(ctx)
    with ctx.db.write() as s:
        s.execute(
            text("UPDATE windows SET status = 'open', call_history = '[]' WHERE hall_id = :h"), {"h": VILLAGE}
        )
        s.execute(text("UPDATE api_tokens SET last_used_at = CURRENT_TIMESTAMP"))
    assert _gen(ctx) == gen
    assert _pull(ctx, cred, version)["config"] is None


def test_log_ins_leave_the_snapshot_alone(parent: tuple[ServerContext, str]) -> None:
    """Staff logging in at the city (its manager, a clerk at a city window, the village's
    manager) and a session refreshed do not bump the generation: the station's next pull gets
    nothing new and the cached snapshot stands. A change a station must receive still bumps it:
    the village manager's session revoked (log-out), a new device token of the village."""
    ctx, cred = parent
    version = _pull(ctx, cred, None)["config_version"]
    gen = _gen(ctx)
    with ctx.db.read() as s:
        window = (
            s.execute(select(Window.id).where(Window.hall_id == CITY).order_by(Window.number))
            .scalars()
            .first()
        )
    sessions.login(ctx, "m-city", PASSWORD, None)
    sessions.login(ctx, "c1", PASSWORD, window)
    sessions.login(ctx, "c1", PASSWORD, window)  # again: the clerk's earlier session is closed
    village = sessions.login(ctx, "m-v", PASSWORD, None)
    with ctx.db.write() as s:
        city_token = create_token(s, "manager", hall_id=CITY)[0]
        assert revoke_token(s, int(city_token))  # a city hall's token: no station carries it
    assert _gen(ctx) == gen
    assert _pull(ctx, cred, version)["config"] is None

    with ctx.db.write() as s:
        assert revoke_token(s, int(village["token_id"]))
    assert _gen(ctx) > gen
    gen = _gen(ctx)
    with ctx.db.write() as s:
        kiosk = create_token(s, "kiosk", hall_id=VILLAGE)[0]
    assert _gen(ctx) > gen
    answer = _pull(ctx, cred, version)
    assert answer["config"] is not None and kiosk in {r["id"] for r in answer["config"]["api_tokens"]}


def test_a_log_in_does_not_wait_for_a_configuration_change_being_saved(
    parent: tuple[ServerContext, str],
) -> None:
    """PostgreSQL: a clerk logs in while a manager's catalogue change is still being saved (its
    transaction holds the generation row): the log-in goes through at once instead of queueing
    on that row until the change commits."""
    ctx, _cred = parent
    with ctx.db.read() as s:
        if s.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite writes one transaction at a time anyway")
        window = (
            s.execute(select(Window.id).where(Window.hall_id == CITY).order_by(Window.number))
            .scalars()
            .first()
        )
    answers: list[dict[str, Any]] = []
    login = threading.Thread(target=lambda: answers.append(sessions.login(ctx, "c2", PASSWORD, window)))
    with ctx.db.write() as s:
        s.execute(text("UPDATE service_items SET name = name || '（新）' WHERE code = 'S-A1'"))
        login.start()
        login.join(20)
        logged_in_meanwhile = bool(answers)
    login.join(30)
    assert answers and answers[0]["role"] == "clerk"
    assert logged_in_meanwhile, "the log-in waited for the configuration change to commit"


def test_every_configuration_table_bumps_the_generation(parent: tuple[ServerContext, str]) -> None:
    """Each table of the snapshot has its triggers (a table added to CONFIG_TABLES without them
    would be served stale from the cache)."""
    ctx, _cred = parent
    with ctx.db.read() as s:
        if s.get_bind().dialect.name == "postgresql":
            sql = "SELECT DISTINCT event_object_table FROM information_schema.triggers WHERE trigger_name LIKE '%_config_gen'"
        else:
            sql = "SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_config_gen_%'"
        watched = set(s.execute(text(sql)).scalars())
    assert watched == {t.name for t in CONFIG_TABLES}


def _row(config: dict[str, Any], table: str, pk: Any) -> dict[str, Any]:
    return next(r for r in config[table] if r["id"] == pk)
