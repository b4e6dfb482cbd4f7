"""Fixtures of the hall-server API tests: a real app on SQLite and on PostgreSQL.

The schema, the tiny city and every token are built once per backend in a template
database (scrypt is slow on purpose); each test gets its own copy of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hall_server.app import create_app
from hall_server.auth import create_token
from hall_server.config import Settings
from hall_server.const import KEY_FILE_NAME
from hall_server.context import ServerContext
from hall_server.db.models import Ticket
from hall_server.migrate import upgrade
from hall_server.seed import seed
from hall_server.services import sessions
from tests.fixtures.postgres import sqlite_url
from tests.fixtures.server import HallServerFactory, hall_servers
from tests.hall_server.hs_city import CITY, COUNTY, PASSWORD, tiny_city

API = "/api/v1"
logger = logging.getLogger(__name__)
# Makes the next test's PostgreSQL copy in the background (CREATE DATABASE waits on a checkpoint
# and file copies, about 1-2 s of a test's set-up otherwise).
_COPIER = ThreadPoolExecutor(1, thread_name_prefix="pg-copy")
KEY_HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
# The template's managers are logged in when it is built, and a manager's session ends after 30
# idle minutes (const.SESSION_IDLE_STAFF_S): a template older than this is built again before a
# test copies it. A worker of a slow run (73 min at load 20) otherwise failed 112 tests with
# auth.expired in its last 40 minutes.
TEMPLATE_MAX_AGE_S = 15 * 60


@dataclass
class Template:
    """A seeded database to copy, and the tokens that are valid in every copy."""

    url: str
    tokens: dict[str, str]
    windows: dict[tuple[str, int], int]
    pg_name: str | None = None
    # PostgreSQL: the next test's copy, made while the current test runs.
    spare: Future[str] | None = None
    built_at: float = field(default_factory=time.monotonic)
    # Builds the template again (a fresh database and fresh log-ins); set by its fixture.
    rebuild: Any = None

    def fresh(self, pg: Any = None) -> Template:
        """Self, built again first if its log-ins are older than TEMPLATE_MAX_AGE_S."""
        if time.monotonic() - self.built_at < TEMPLATE_MAX_AGE_S or self.rebuild is None:
            return self
        logger.info(
            "building the hall template again: its log-ins are %.0f s old", time.monotonic() - self.built_at
        )
        old_pg_name = self.pg_name
        if pg is not None:
            self.drop_spare(pg)
        new: Template = self.rebuild()
        self.url, self.tokens, self.windows, self.pg_name = new.url, new.tokens, new.windows, new.pg_name
        self.built_at = new.built_at
        if pg is not None and old_pg_name is not None:
            pg.drop_database(old_pg_name)
        return self

    def take_copy(self, pg: Any) -> str:
        """A fresh copy of the PostgreSQL template (the one made ahead, if it came out right);
        starts making the next one."""
        assert self.pg_name is not None
        spare, self.spare = self.spare, None
        name = None
        if spare is not None:
            try:
                name = spare.result()
            except Exception:  # made again below; the failure is the cluster's to report
                logger.warning("the copy made ahead failed", exc_info=True)
        if name is None:
            name = pg.copy_database(self.pg_name)
        self.spare = _COPIER.submit(pg.copy_database, self.pg_name)
        return name

    def drop_spare(self, pg: Any) -> None:
        """Drop the copy made ahead that no test took."""
        spare, self.spare = self.spare, None
        if spare is not None:
            with contextlib.suppress(Exception):
                pg.drop_database(spare.result())


def _write_key(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / KEY_FILE_NAME).write_text(KEY_HEX + "\n")


def _build_template(url: str, data_dir: Path) -> Template:
    _write_key(data_dir)
    upgrade(url)
    ctx = ServerContext.create(Settings(data_dir=data_dir, db_url=url, pool_size=2))
    try:
        seed(ctx.db, tiny_city())
        ctx.catalog.invalidate()
        from sqlalchemy import select

        from hall_server.db.models import Window

        with ctx.db.read() as s:
            windows = {
                (r.hall_id, r.number): r.id
                for r in s.execute(select(Window.hall_id, Window.number, Window.id))
            }
        tokens: dict[str, str] = {}
        with ctx.db.write() as s:
            for hall in (CITY, COUNTY):
                for role in ("kiosk", "display"):
                    tokens[f"{role}:{hall}"] = create_token(s, role, hall_id=hall)[1]
            for (hall, number), wid in windows.items():
                tokens[f"rating:{hall}:{number}"] = create_token(s, "rating", window_id=wid)[1]
            tokens["admin"] = create_token(s, "admin")[1]
        for username, hall, number in (("c1", CITY, 1), ("c2", CITY, 2), ("c3", CITY, 3), ("d1", COUNTY, 1)):
            out = sessions.login(ctx, username, PASSWORD, windows[(hall, number)])
            tokens[f"clerk:{hall}:{number}"] = out["token"]
        for username in ("m-city", "m-county"):
            tokens[username] = sessions.login(ctx, username, PASSWORD, None)["token"]
    finally:
        ctx.close()
    return Template(url=url, tokens=tokens, windows=windows)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The seeded SQLite template file."""

    def build() -> Template:
        root = tmp_path_factory.mktemp("hall-template")
        return _build_template(f"sqlite:///{root / 'template.sqlite3'}", root / "data")

    tpl = build()
    tpl.rebuild = build
    return tpl


@pytest.fixture(scope="session")
def pg_template(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """The seeded PostgreSQL template database."""

    def build() -> Template:
        name = pg_server.create_database(f"tmpl_{uuid.uuid4().hex[:10]}")
        built = _build_template(pg_server.url(name), tmp_path_factory.mktemp("hall-pg-template") / "data")
        built.pg_name = name
        return built

    tpl = build()
    tpl.rebuild = build
    yield tpl
    tpl.drop_spare(pg_server)
    assert tpl.pg_name is not None
    pg_server.drop_database(tpl.pg_name)


@pytest.fixture(scope="session")
def run_shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """A folder every pytest-xdist worker of this run sees (None without xdist: one process)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    path = tmp_path_factory.getbasetemp().parent / "shared"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="module")
def servers() -> Iterator[HallServerFactory]:
    """`hall-server serve` processes shared by one file's tests (the sync tests' cities and
    stations), all killed after its last test."""
    with hall_servers() as factory:
        yield factory


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, a SQLite file or a fresh PostgreSQL one, for a server process to migrate and seed."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the seeded template on SQLite or PostgreSQL."""
    if request.param == "sqlite":
        tpl: Template = request.getfixturevalue("sqlite_template").fresh()
        src = Path(tpl.url[len("sqlite:///") :])
        dst = tmp_path / "hall.sqlite3"
        shutil.copyfile(src, dst)
        request.node.hall_template = tpl
        yield f"sqlite:///{dst}"
        return
    pg = request.getfixturevalue("pg_server")
    tpl = request.getfixturevalue("pg_template").fresh(pg)
    name = tpl.take_copy(pg)
    request.node.hall_template = tpl
    try:
        yield pg.url(name)
    finally:
        pg.drop_database(name)


@dataclass
class Hall:
    """The app under test with its client, tokens and helpers."""

    client: TestClient
    ctx: ServerContext
    tokens: dict[str, str]
    windows: dict[tuple[str, int], int]
    db_url: str
    data_dir: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_postgres(self) -> bool:
        return self.db_url.startswith("postgresql")

    def auth(self, who: str) -> dict[str, str]:
        """Authorization header of a named token."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def wid(self, number: int, hall: str = CITY) -> int:
        """The id of window `number` of a hall."""
        return self.windows[(hall, number)]

    def issue(self, service: str = "S-A1", who: str = f"kiosk:{CITY}", hall: str = CITY, **body: Any) -> Any:
        """POST a ticket; returns the response."""
        headers = self.auth(who)
        key = body.pop("idempotency_key", None)
        if key:
            headers["Idempotency-Key"] = key
        return self.client.post(
            f"{API}/halls/{hall}/tickets", json={"service_code": service, **body}, headers=headers
        )

    def ok_issue(self, service: str = "S-A1", **kw: Any) -> dict[str, Any]:
        """Issue and assert success."""
        r = self.issue(service, **kw)
        assert r.status_code == 201, r.text
        return r.json()

    def op(self, number: int, action: str, who: str | None = None, hall: str = CITY, **body: Any) -> Any:
        """POST /windows/{id}/{action} as the window's clerk (or `who`)."""
        who = who or f"clerk:{hall}:{number}"
        return self.client.post(
            f"{API}/windows/{self.wid(number, hall)}/{action}", json=body, headers=self.auth(who)
        )

    def ok(self, number: int, action: str, **kw: Any) -> dict[str, Any]:
        """A window operation that must succeed."""
        r = self.op(number, action, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    def served(self, window: int = 1, service: str = "S-A1") -> dict[str, Any]:
        """Issue, call, start and finish at a window: the finished ticket, with the tracking token
        its visitor got on paper (answers after the issue never carry it)."""
        self.ok_issue(service)
        self.ok(window, "call-next")
        self.ok(window, "start")
        done = self.ok(window, "finish")
        with self.ctx.db.read() as s:
            token = s.execute(select(Ticket.track_token).where(Ticket.id == done["id"])).scalar_one()
        return {**done, "track_token": token}

    def events(self, since: int = 0, hall: str = CITY) -> list[dict[str, Any]]:
        """The hall's events after since."""
        r = self.client.get(
            f"{API}/halls/{hall}/events", params={"since": since, "limit": 1000}, headers=self.auth("admin")
        )
        assert r.status_code == 200, r.text
        return r.json()

    def last_seq(self, hall: str = CITY) -> int:
        """The hall's newest event seq."""
        evs = self.events(0, hall)
        return evs[-1]["seq"] if evs else 0

    def ticket(self, ticket_id: int, who: str = "admin") -> dict[str, Any]:
        """GET a ticket."""
        r = self.client.get(f"{API}/tickets/{ticket_id}", headers=self.auth(who))
        assert r.status_code == 200, r.text
        return r.json()


def error_code(response: Any) -> str:
    """The stable error code of an error response."""
    return response.json()["error"]["code"]


@pytest.fixture
def hall(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Hall]:
    """The real app on a fresh seeded database, served through TestClient."""
    tpl: Template = request.node.hall_template
    data_dir = tmp_path / "data"
    _write_key(data_dir)
    settings = Settings(data_dir=data_dir, db_url=db_url, pool_size=5, public_url="http://hall.test")
    # The copy is of the template that upgrade() brought to the newest schema: a second, no-op
    # upgrade per test would only load the 16 migration scripts again (servers started as
    # processes, clock_app and the migration tests still upgrade at start).
    app = create_app(settings, migrate=False)
    with TestClient(app) as client:
        yield Hall(client, app.state.ctx, dict(tpl.tokens), dict(tpl.windows), db_url, data_dir)
